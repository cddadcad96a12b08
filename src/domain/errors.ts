// The catalogue of Tencent Cloud API error codes (batch-api.md §a.8 and §e): one message template per
// code, and ApiError, the one error that reaches the wire with its own code, built only from a code and
// the template's parameters. StoreUnavailable is what every store backend throws when it cannot work
// now. Both live in the domain so that every layer may throw them; only the api layer answers them.

/** `template` may name parameters as `{name}`. A template that is only `{detail}` (perhaps with a final
 *  period) belongs to a broad code whose every site says what was wrong in its own words. `http`: the HTTP status of an
 *  answer with this code when it is not 200 (Tencent answers every API error with 200; none is set). */
export interface CatalogEntry {
  readonly template: string;
  readonly http?: number;
}

/** A message of the *TooLong codes. */
const TOO_LONG = '{param} is {length} characters long; at most {max} are allowed.';
/** A message of the *IdMalformed codes: `{param} "{id}" is not a valid … ID (expected …).` */
const idMalformed = <W extends string, P extends string>(what: W, prefix: P) =>
  `{param} "{id}" is not a valid ${what} ID (expected ${prefix} followed by 8 lower-case letters or digits).` as const;
/** A check of a parameter's value: the parameter's path, then what is wrong with it. */
const PARAM_PROBLEM = '{param} {problem}.';

export const ERROR_CATALOG = {
  // common (§a.8)
  ActionOffline: { template: 'Action {action} has been taken offline.' },
  'AuthFailure.InvalidAuthorization': { template: '{detail}' },
  'AuthFailure.InvalidSecretId': { template: 'SecretId {secretId} is not a cloud API key' },
  'AuthFailure.MFAFailure': { template: 'the MFA check failed' },
  'AuthFailure.SecretIdNotFound': { template: 'SecretId {secretId} does not exist or is disabled' },
  'AuthFailure.SignatureExpire': {
    template: 'signature expired: {name} {timestamp} ({time}) is {skew} s {direction} the server time {now} ({nowTime}); at most {maxSkew} s of difference is allowed',
  },
  'AuthFailure.SignatureFailure': { template: '{detail}' },
  'AuthFailure.TokenFailure': { template: 'the security token is invalid' },
  'AuthFailure.UnauthorizedOperation': { template: 'the request is not authorised (CAM)' },
  DryRunOperation: { template: 'DryRun: the request would have succeeded.' },
  FailedOperation: {
    template: 'The service cannot carry the request out right now: {reason}. {hint}',
  },
  InternalError: { template: 'Internal error; quote RequestId {requestId} when reporting it.' },
  InvalidAction: { template: 'Action "{action}" does not exist in Batch {version}.' },
  InvalidParameter: { template: '{detail}' },
  InvalidParameterValue: { template: PARAM_PROBLEM },
  InvalidRequest: { template: '{detail}' },
  LimitExceeded: { template: 'A quota is exhausted: {detail}.' },
  MissingParameter: { template: '{detail}' },
  NoSuchProduct: { template: 'Product {product} does not exist.' },
  NoSuchVersion: { template: 'Version "{version}" does not exist; Batch speaks {supported}.' },
  RequestLimitExceeded: { template: '{action} allows {limit} requests per second per account and region; slow down and retry.' },
  'RequestLimitExceeded.GlobalRegionUinLimitExceeded': { template: 'The account-wide request rate limit is exceeded; slow down and retry.' },
  'RequestLimitExceeded.IPLimitExceeded': { template: 'The request rate limit of this IP address is exceeded; slow down and retry.' },
  'RequestLimitExceeded.UinLimitExceeded': { template: 'The request rate limit of this account is exceeded; slow down and retry.' },
  RequestSizeLimitExceeded: { template: 'The request body ({size}) is larger than {max} bytes.' },
  ResourceInUse: { template: 'Resource {id} is in use.' },
  ResourceNotFound: { template: 'Resource {id} does not exist.' },
  ResourceUnavailable: { template: 'Resource {id} is unavailable.' },
  ServiceUnavailable: { template: 'The service is unavailable right now; retry later.' },
  UnauthorizedOperation: { template: 'The operation is not authorised.' },
  UnknownParameter: { template: '{param} is not a parameter of {structure}{inParameter}.' },
  UnsupportedOperation: { template: '{detail}' },
  UnsupportedProtocol: { template: 'HTTP method {method} is not supported; use POST (JSON or form) or GET.' },
  UnsupportedRegion: { template: 'Region "{region}" is not supported by this OpenBatch server.' },
  // batch-specific (§e)
  AllowedOneAttributeInEnvIdAndComputeEnv: { template: '{param} must give exactly one of ComputeEnv and EnvId; got {given}.' },
  'InternalError.CallCam': { template: 'The call to CAM failed: {detail}.' },
  'InternalError.CallCpmAPI': { template: 'The call to the CPM API failed: {detail}.' },
  'InternalError.CallCvm': { template: 'The call to the CVM API failed: {detail}.' },
  'InternalError.CallTagAPI': { template: 'The call to the Tag API failed: {detail}.' },
  InvalidFilter: { template: '{param} "{name}" is not a supported filter here.' },
  'InvalidParameter.ComputeNodeIdMalformed': { template: idMalformed('compute node', 'node-') },
  'InvalidParameter.CvmParameters': { template: PARAM_PROBLEM },
  'InvalidParameter.EnvDescriptionTooLong': { template: TOO_LONG },
  'InvalidParameter.EnvIdMalformed': { template: idMalformed('compute environment', 'env-') },
  'InvalidParameter.EnvNameTooLong': { template: TOO_LONG },
  'InvalidParameter.ImageIdMalformed': { template: '{param} "{id}" is not an image ID (img- followed by 8 lower-case letters or digits).' },
  'InvalidParameter.InvalidParameterCombination': { template: '{detail}' },
  'InvalidParameter.JobDescriptionTooLong': { template: TOO_LONG },
  'InvalidParameter.JobIdMalformed': { template: idMalformed('job', 'job-') },
  'InvalidParameter.JobNameTooLong': { template: TOO_LONG },
  'InvalidParameter.NotificationEventNameDuplicate': { template: '{param} "{name}" appears twice in topic {topic}.' },
  'InvalidParameter.NotificationTopicName': { template: PARAM_PROBLEM },
  'InvalidParameter.NotificationTopicNameTooLong': { template: TOO_LONG },
  'InvalidParameter.TaskName': { template: PARAM_PROBLEM },
  'InvalidParameter.TaskNameTooLong': { template: TOO_LONG },
  'InvalidParameter.TaskTemplateDescriptionTooLong': { template: TOO_LONG },
  'InvalidParameter.TaskTemplateIdMalformed': { template: idMalformed('task template', 'task-tmpl-') },
  'InvalidParameter.TaskTemplateName': { template: PARAM_PROBLEM },
  'InvalidParameter.TaskTemplateNameTooLong': { template: TOO_LONG },
  InvalidParameterAtLeastOneAttribute: { template: 'Give at least one of {params}.' },
  'InvalidParameterValue.ComputeEnv': { template: PARAM_PROBLEM },
  'InvalidParameterValue.DependenceNotFoundTaskName': {
    template: '{param} names task "{task}", which is not a task of this job (tasks: {tasks}).',
  },
  'InvalidParameterValue.DependenceUnfeasible': {
    template: '{param} contains a cycle: tasks {tasks} depend on each other, so none of them could ever start.',
  },
  'InvalidParameterValue.InstanceIdDuplicated': { template: '{param} lists {id} twice.' },
  'InvalidParameterValue.InstanceType': { template: PARAM_PROBLEM },
  'InvalidParameterValue.InstanceTypeDuplicate': { template: '{param} lists "{type}" twice.' },
  'InvalidParameterValue.InstanceTypesEmpty': { template: '{param} must not be empty.' },
  'InvalidParameterValue.InvalidDataTypeAny': { template: PARAM_PROBLEM },
  'InvalidParameterValue.InvalidFilter': { template: PARAM_PROBLEM },
  'InvalidParameterValue.InvalidZoneMismatchRegion': {
    template: '{param} "{zone}" is a zone of region {zoneRegion}, not of the request\'s region {region}.',
  },
  'InvalidParameterValue.LimitExceeded': { template: PARAM_PROBLEM },
  'InvalidParameterValue.LocalPath': { template: PARAM_PROBLEM },
  'InvalidParameterValue.MaxRetryCount': { template: '{param} must be between 0 and {max}; got {value}.' },
  'InvalidParameterValue.Negative': { template: PARAM_PROBLEM },
  'InvalidParameterValue.NotFloat': { template: '{param} "{value}" is not a price.' },
  'InvalidParameterValue.RemoteStoragePath': { template: PARAM_PROBLEM },
  'InvalidParameterValue.RemoteStorageSchemeType': { template: PARAM_PROBLEM },
  'InvalidParameterValue.ResourceType': { template: '{param} value "{value}" must be CVM or CPM.' },
  'InvalidParameterValue.TaskInstanceNum': { template: '{param} must be between 1 and {max}; got {value}.' },
  'InvalidParameterValue.UnavailableZone': { template: '{param} "{zone}" is not available.' },
  'InvalidParameterValue.UnsupportedBatchInstanceChargeType': {
    template: '{param} value "{value}" is not a charge type Batch supports ({supported}).',
  },
  'InvalidZone.MismatchRegion': { template: '{param} "{zone}" is not a zone of region {region} (zones: {zones}).' },
  'LimitExceeded.ComputeEnvQuota': { template: 'This account already has {max} compute environments in {region}, the most allowed.' },
  'LimitExceeded.CpuQuota': { template: '{detail}.' },
  'LimitExceeded.JobQuota': { template: 'This account already has {max} jobs in {region}, the most allowed.' },
  'LimitExceeded.TaskTemplateQuota': {
    template: 'This account already has {max} task templates in {region}, the most allowed; delete some first.',
  },
  'ResourceInUse.Job': { template: 'Job {jobId} {problem}.' },
  'ResourceNotFound.ComputeEnv': { template: 'Compute environment {envId} does not exist.' },
  'ResourceNotFound.ComputeNode': { template: 'Compute node {nodeId} is not a node of {envId}.' },
  'ResourceNotFound.Job': { template: 'Job {jobId} does not exist.' },
  'ResourceNotFound.Task': { template: 'Job {jobId} has no task named "{taskName}".' },
  'ResourceNotFound.TaskInstance': { template: 'Job {jobId} has no instance {index} of task "{taskName}" ({why}).' },
  'ResourceNotFound.TaskTemplate': { template: 'These task templates do not exist: {templateIds}; nothing was {done}.' },
  'UnauthorizedOperation.UserNotAllowedToUseBatch': { template: 'Account {account} is not allowed to use Batch.' },
  'UnsupportedOperation.AcceptOtherRequest': { template: 'Compute environment {envId} is already being deleted.' },
  'UnsupportedOperation.ComputeEnvAcceptOtherRequest': { template: 'Compute environment {envId} is being deleted.' },
  'UnsupportedOperation.ComputeEnvOperation': {
    template: 'Compute environment {envId} still has attached instances ({instanceIds}); detach them first.',
  },
  'UnsupportedOperation.ComputeNodeForbidTerminate': { template: 'Compute node {nodeId} {problem}.' },
  'UnsupportedOperation.ComputeNodeIsTerminating': { template: 'Compute node {nodeId} is already being terminated.' },
  'UnsupportedOperation.InstancesNotAllowToAttach': { template: '{param} {instanceId} {problem}.' },
  'UnsupportedOperation.NotEnoughComputeNodesToTerminate': {
    template: 'Compute environment {envId} has {available} nodes that can be terminated; {asked} were asked for.',
  },
  'UnsupportedOperation.TerminateOperationWithEnvId': {
    template: 'Job {jobId} runs on compute environment {envId}; its instances cannot be terminated one by one.',
  },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;
export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

type TemplateOf<C extends ErrorCode> = (typeof ERROR_CATALOG)[C]['template'];
type Placeholders<T extends string> = T extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;
/** The parameters a code's template names. */
export type ErrorParams<C extends ErrorCode> = { readonly [K in Placeholders<TemplateOf<C>>]: string | number };
/** The codes whose templates name exactly the parameters P (for helpers that take a code). */
export type CodeWith<P extends string> = {
  [C in ErrorCode]: [Placeholders<TemplateOf<C>>] extends [P] ? ([P] extends [Placeholders<TemplateOf<C>>] ? C : never) : never;
}[ErrorCode];
type ParamArgs<C extends ErrorCode> = [Placeholders<TemplateOf<C>>] extends [never] ? [] : [params: ErrorParams<C>];

/** A template with its `{name}` parameters filled in. */
export function renderTemplate(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

/** The only error that reaches the wire with its own code; the message says exactly what was wrong.
 *  Build it with apiError (the code's template, filled in). The constructor takes a finished message:
 *  for the few sites that still write their message in the template's shape by hand (the catalogue test
 *  lists their files). */
export class ApiError extends Error {
  readonly code: ErrorCode;
  /** The template's parameters (empty when the message was written by hand). */
  readonly params: Readonly<Record<string, string | number>>;
  constructor(code: ErrorCode, message: string, params: Readonly<Record<string, string | number>> = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.params = params;
  }

  /** The error of `code`, its message the code's template filled with `params`. */
  static of<C extends ErrorCode>(code: C, ...args: ParamArgs<C>): ApiError {
    const params: Readonly<Record<string, string | number>> = args[0] ?? {};
    return new ApiError(code, renderTemplate(ERROR_CATALOG[code].template, params), params);
  }

  /** The same error, its message prefixed with where it was found (e.g. the parameter a shared check ran for). */
  within(context: string): ApiError {
    return new ApiError(this.code, `${context}: ${this.message}`, this.params);
  }
}

/** ApiError.of: the error of `code` with its template filled in. */
export const apiError = <C extends ErrorCode>(code: C, ...args: ParamArgs<C>): ApiError => ApiError.of(code, ...args);

/** Throws the error of `code` (for checks written as one line). */
export function fail<C extends ErrorCode>(code: C, ...args: ParamArgs<C>): never {
  throw ApiError.of(code, ...args);
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** Why a store cannot serve a write (or a read) now: its disk is full, it was turned read-only, an I/O
 *  error, it stayed locked, or (a database server) it cannot be reached. Every store backend maps its own errors (SQLite codes, SQLSTATEs) to it. */
export type StoreUnavailableKind = 'full' | 'readonly' | 'io' | 'busy' | 'unreachable';

export class StoreUnavailable extends Error {
  readonly kind: StoreUnavailableKind;
  /** The store is a database server (PostgreSQL), not a file in the data dir: its disk is the server's. */
  readonly server: boolean;
  constructor(kind: StoreUnavailableKind, message: string, options?: { cause?: unknown; server?: boolean }) {
    super(message, options);
    this.name = 'StoreUnavailable';
    this.kind = kind;
    this.server = options?.server ?? false;
  }
}

/** The store could not be opened at all (its file is missing, corrupt or not a database): the server
 *  cannot start on it. */
export class StoreOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
}
