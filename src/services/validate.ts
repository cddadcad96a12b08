// Semantic validation of submitted definitions (Job, Task, Placement, Tags, Notifications …) with the
// exact Tencent error codes of batch-api.md §b/§e/§f.2. Type checks already happened in the wire
// decoder; this module checks values, limits, combinations and what OpenBatch can really run.
import { apiError, fail, isApiError, type CodeWith } from '../domain/errors.ts';
import type { Limits } from '../config/config.ts';
import { checkDag } from '../domain/dag.ts';
import { checkEnvId } from '../domain/ids.ts';
import { validateFileNameTemplate, resolveLocalPath } from '../domain/log-paths.ts';
import { zonesOf, REGION_ZONES } from '../domain/regions.ts';
import { TASK_EXECUTION_DEPEND_ON, type DependOn } from '../domain/states.ts';
import { DEFAULT_TIMEOUT_SEC } from '../domain/task-spec.ts';
import { MAX_ARG_STRLEN } from '../lib/exec-limits.ts';
import { parseCosUrl } from '../objectstore/cos-url.ts';
import { checkInputMappings, checkMappingsApart, checkOutputMappingConfigs, checkOutputMappings, checkPackagePath } from './validate-data.ts';
import type {
  AuthenticationInput, EnvDataInput, JobInput, LoginSettingsInput, MountDataDiskInput, NotificationInput, TaskInput,
} from '../api/models.ts';

/** A Task as checkTask returns it: named, with its defaults filled in (what is stored and echoed). */
export type CheckedTask = TaskInput & { TaskName: string; TaskInstanceNum: number; MaxRetryCount: number; FailedAction: string; Timeout: number };

/** SubmitJob's Job as checkJob returns it: its tasks checked, its Priority filled in. */
export type CheckedJob = JobInput & { Tasks: CheckedTask[]; Priority: number };

export interface ValidationContext {
  region: string;
  limits: Limits;
  /** Root of the emulated compute-node filesystem (RedirectLocalInfo, MountDataDisks). */
  localRoot: string;
  /** Whether the instance catalogue knows an instance type (unchecked when absent). */
  knownInstanceType?: (t: string) => boolean;
  /** The most a task's EnvVars may take in a process's environment (bytes: each `Name=Value` with
   *  its NUL, plus a pointer each); unchecked when absent. */
  envBytes?: number;
}

/** The codes of "{param} {problem}." messages, which the shared checks below may be given. */
type ParamCode = CodeWith<'param' | 'problem'>;
/** The codes of names and descriptions that are too long. */
type TooLongCode = CodeWith<'param' | 'length' | 'max'>;

export const TASK_NAME_RE = /^[A-Za-z0-9_-]+$/;
export const MAX_TASK_NAME = 60;

export function checkTaskName(name: string, param: string): void {
  if (name.length === 0) fail('InvalidParameter.TaskName', { param, problem: 'must not be empty' });
  if (name.length > MAX_TASK_NAME) {
    fail('InvalidParameter.TaskNameTooLong', { param, length: name.length, max: MAX_TASK_NAME });
  }
  if (!TASK_NAME_RE.test(name)) {
    fail('InvalidParameter.TaskName', { param, problem: `"${name}" may contain only letters, digits, "-" and "_"` });
  }
}

/** A name or text longer than `max` characters (code points) is refused with `code`. */
export function maxLen(v: string | undefined, max: number, code: TooLongCode | ParamCode, param: string): void {
  if (v === undefined) return;
  const length = [...v].length;
  if (length <= max) return;
  if (isTooLongCode(code)) fail(code, { param, length, max });
  fail(code, { param, problem: `is ${length} characters long; at most ${max} are allowed` });
}

function isTooLongCode(code: TooLongCode | ParamCode): code is TooLongCode {
  return code.endsWith('TooLong');
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], param: string, code: ParamCode = 'InvalidParameterValue'): asserts v is T | undefined {
  if (v !== undefined && !(allowed as readonly string[]).includes(v)) {
    fail(code, { param, problem: `must be one of ${allowed.join(', ')}; got "${v}"` });
  }
}

function range(v: number | undefined, min: number, max: number, param: string, code: ParamCode = 'InvalidParameterValue'): void {
  if (v === undefined) return;
  if (v < 0 && min >= 0) fail('InvalidParameterValue.Negative', { param, problem: `must not be negative; got ${v}` });
  if (v < min || v > max) fail(code, { param, problem: `must be between ${min} and ${max}; got ${v}` });
}

/** ClientToken of SubmitJob / CreateComputeEnv: 1 to 64 printable ASCII characters. */
export function checkClientToken(token: string | undefined): void {
  if (token !== undefined && (token.length > 64 || !/^[\x20-\x7e]+$/.test(token))) {
    fail('InvalidParameterValue', { param: 'ClientToken', problem: 'must be 1 to 64 printable ASCII characters' });
  }
}

export function checkZone(zone: string, region: string, param = 'Placement.Zone'): void {
  if (zonesOf(region).includes(zone)) return;
  const other = Object.entries(REGION_ZONES).find(([, zs]) => zs.includes(zone));
  if (other) {
    fail('InvalidParameterValue.InvalidZoneMismatchRegion', { param, zone, zoneRegion: other[0], region });
  }
  fail('InvalidZone.MismatchRegion', { param, zone, region, zones: zonesOf(region).join(', ') });
}

export function checkTags(tags: { Key: string; Value: string }[] | undefined, limits: Limits, param = 'Tags'): void {
  if (!tags) return;
  if (tags.length > limits.maxTagsPerResource) {
    fail('InvalidParameterValue.LimitExceeded', { param, problem: `has ${tags.length} tags; at most ${limits.maxTagsPerResource} are allowed` });
  }
  const seen = new Set<string>();
  tags.forEach((t, i) => {
    if (t.Key.length === 0) fail('InvalidParameterValue', { param: `${param}.${i}.Key`, problem: 'must not be empty' });
    maxLen(t.Key, 127, 'InvalidParameterValue', `${param}.${i}.Key`);
    maxLen(t.Value, 255, 'InvalidParameterValue', `${param}.${i}.Value`);
    if (seen.has(t.Key)) fail('InvalidParameterValue', { param: `${param}.${i}.Key`, problem: `"${t.Key}" appears twice` });
    seen.add(t.Key);
  });
}

const JOB_EVENTS = [
  'JOB_RUNNING', 'JOB_SUCCEED', 'JOB_FAILED', 'JOB_FAILED_INTERRUPTED', 'TASK_RUNNING', 'TASK_SUCCEED', 'TASK_FAILED',
  'TASK_FAILED_INTERRUPTED', 'TASK_INSTANCE_RUNNING', 'TASK_INSTANCE_SUCCEED', 'TASK_INSTANCE_FAILED',
  'TASK_INSTANCE_FAILED_INTERRUPTED',
];
const NODE_EVENTS = [
  'COMPUTE_NODE_CREATED', 'COMPUTE_NODE_CREATION_FAILED', 'COMPUTE_NODE_RUNNING', 'COMPUTE_NODE_ABNORMAL',
  'COMPUTE_NODE_DELETING',
];
export const JOB_NOTIFICATION_EVENTS = [...JOB_EVENTS, ...NODE_EVENTS];
export const ENV_NOTIFICATION_EVENTS = ['COMPUTE_ENV_CREATED', 'COMPUTE_ENV_DELETED', ...NODE_EVENTS];

/** Every TopicName of `list` is a topic of the server's config (notifications.topics). */
export function checkTopics(list: NotificationInput[] | undefined, topics: ReadonlySet<string>, param: string): void {
  list?.forEach((n, i) => {
    if (!topics.has(n.TopicName)) {
      const known = topics.size === 0 ? 'this server has none (config file notifications.topics)' : `this server has ${[...topics].join(', ')}`;
      fail('InvalidParameter.NotificationTopicName', { param: `${param}.${i}.TopicName`, problem: `names no topic: "${n.TopicName}" is not configured; ${known}` });
    }
  });
}

export function checkNotifications(list: NotificationInput[] | undefined, allowed: string[], param: string): void {
  list?.forEach((n, i) => {
    const p = `${param}.${i}`;
    if (n.TopicName.length === 0) fail('InvalidParameter.NotificationTopicName', { param: `${p}.TopicName`, problem: 'must not be empty' });
    maxLen(n.TopicName, 64, 'InvalidParameter.NotificationTopicNameTooLong', `${p}.TopicName`);
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(n.TopicName)) {
      fail('InvalidParameter.NotificationTopicName', { param: `${p}.TopicName`, problem: `"${n.TopicName}" must start with a letter and contain only letters, digits, "-" and "_"` });
    }
    const seen = new Set<string>();
    n.EventConfigs.forEach((e, j) => {
      oneOf(e.EventName, allowed, `${p}.EventConfigs.${j}.EventName`);
      if (seen.has(e.EventName)) {
        fail('InvalidParameter.NotificationEventNameDuplicate', { param: `${p}.EventConfigs.${j}.EventName`, name: e.EventName, topic: n.TopicName });
      }
      seen.add(e.EventName);
    });
  });
}

const INSTANCE_TYPE_RE = /^[A-Z][A-Z0-9]*\.[A-Z0-9]+$/;

/** EnvData of an anonymous compute environment (and later of named ones). */
export function checkEnvData(ed: EnvDataInput | undefined, ctx: ValidationContext, param: string, required: boolean): void {
  if (!ed) {
    if (required) fail('InvalidParameterValue.ComputeEnv', { param, problem: 'is required: give InstanceType, InstanceTypes or InstanceTypeOptions' });
    return;
  }
  const given = (['InstanceType', 'InstanceTypes', 'InstanceTypeOptions'] as const).filter((k) => ed[k] !== undefined);
  if (given.length > 1) {
    fail('InvalidParameter.InvalidParameterCombination', { detail: `${param} may give only one of InstanceType, InstanceTypes and InstanceTypeOptions; got ${given.join(' and ')}.` });
  }
  if (given.length === 0 && required) {
    fail('InvalidParameterValue.ComputeEnv', { param, problem: 'must give one of InstanceType, InstanceTypes or InstanceTypeOptions' });
  }
  const checkType = (t: string, p: string) => {
    if (!INSTANCE_TYPE_RE.test(t)) fail('InvalidParameterValue.InstanceType', { param: p, problem: `"${t}" is not an instance type (e.g. S1.SMALL1)` });
    if (ctx.knownInstanceType && !ctx.knownInstanceType(t)) {
      fail('InvalidParameterValue.InstanceType', { param: p, problem: `"${t}" is not an instance type of the catalogue (see DescribeAvailableCvmInstanceTypes)` });
    }
  };
  if (ed.InstanceType !== undefined) checkType(ed.InstanceType, `${param}.InstanceType`);
  if (ed.InstanceTypes !== undefined) {
    const list = ed.InstanceTypes;
    if (list.length === 0) fail('InvalidParameterValue.InstanceTypesEmpty', { param: `${param}.InstanceTypes` });
    if (list.length > 10) fail('InvalidParameterValue.LimitExceeded', { param: `${param}.InstanceTypes`, problem: `has ${list.length} entries; at most 10 are allowed` });
    list.forEach((t, i) => {
      checkType(t, `${param}.InstanceTypes.${i}`);
      if (list.indexOf(t) !== i) fail('InvalidParameterValue.InstanceTypeDuplicate', { param: `${param}.InstanceTypes`, type: t });
    });
  }
  if (ed.InstanceTypeOptions) {
    const o = ed.InstanceTypeOptions;
    if (o.CPU < 1) fail('InvalidParameterValue', { param: `${param}.InstanceTypeOptions.CPU`, problem: 'must be at least 1' });
    if (o.Memory < 1) fail('InvalidParameterValue', { param: `${param}.InstanceTypeOptions.Memory`, problem: 'must be at least 1' });
    o.InstanceCategories?.forEach((c, i) =>
      oneOf(c, ['ALL', 'GENERAL', 'GENERAL_2', 'GENERAL_3', 'COMPUTE', 'COMPUTE_2', 'COMPUTE_3'], `${param}.InstanceTypeOptions.InstanceCategories.${i}`));
  }
  if (ed.ImageId !== undefined && !/^img-[a-z0-9]{8}$/.test(ed.ImageId)) {
    fail('InvalidParameter.ImageIdMalformed', { param: `${param}.ImageId`, id: ed.ImageId });
  }
  oneOf(ed.InstanceChargeType, ['POSTPAID_BY_HOUR', 'SPOTPAID'], `${param}.InstanceChargeType`, 'InvalidParameter.CvmParameters');
  if (ed.SystemDisk) {
    const d = ed.SystemDisk;
    oneOf(d.DiskType, ['LOCAL_BASIC', 'LOCAL_SSD', 'CLOUD_BASIC', 'CLOUD_SSD', 'CLOUD_PREMIUM', 'CLOUD_BSSD', 'CLOUD_HSSD', 'CLOUD_TSSD'], `${param}.SystemDisk.DiskType`, 'InvalidParameter.CvmParameters');
    range(d.DiskSize, 20, 16000, `${param}.SystemDisk.DiskSize`, 'InvalidParameter.CvmParameters');
    maxLen(d.DiskName, 128, 'InvalidParameter.CvmParameters', `${param}.SystemDisk.DiskName`);
  }
  ed.DataDisks?.forEach((d, i) => {
    const p = `${param}.DataDisks.${i}`;
    range(d.DiskSize, 0, 32000, `${p}.DiskSize`, 'InvalidParameter.CvmParameters');
    if (d.DiskSize % 10 !== 0) fail('InvalidParameter.CvmParameters', { param: `${p}.DiskSize`, problem: `must be a multiple of 10 GiB; got ${d.DiskSize}` });
    oneOf(d.DiskType, ['LOCAL_BASIC', 'LOCAL_SSD', 'LOCAL_NVME', 'LOCAL_PRO', 'CLOUD_BASIC', 'CLOUD_PREMIUM', 'CLOUD_SSD', 'CLOUD_HSSD', 'CLOUD_TSSD', 'CLOUD_BSSD'], `${p}.DiskType`, 'InvalidParameter.CvmParameters');
    maxLen(d.DiskName, 128, 'InvalidParameter.CvmParameters', `${p}.DiskName`);
    if (d.ThroughputPerformance !== undefined && d.ThroughputPerformance < 0) fail('InvalidParameterValue.Negative', { param: `${p}.ThroughputPerformance`, problem: 'must not be negative' });
  });
  if (ed.InternetAccessible) {
    const ia = ed.InternetAccessible;
    oneOf(ia.InternetChargeType, ['BANDWIDTH_PREPAID', 'TRAFFIC_POSTPAID_BY_HOUR', 'BANDWIDTH_POSTPAID_BY_HOUR', 'BANDWIDTH_PACKAGE'], `${param}.InternetAccessible.InternetChargeType`, 'InvalidParameter.CvmParameters');
    if (ia.InternetMaxBandwidthOut !== undefined && ia.InternetMaxBandwidthOut < 0) fail('InvalidParameterValue.Negative', { param: `${param}.InternetAccessible.InternetMaxBandwidthOut`, problem: 'must not be negative' });
  }
  if (ed.LoginSettings) checkLoginSettings(ed.LoginSettings, `${param}.LoginSettings`);
  ed.SecurityGroupIds?.forEach((g, i) => {
    if (!/^sg-[a-z0-9]{8}$/.test(g)) fail('InvalidParameter.CvmParameters', { param: `${param}.SecurityGroupIds.${i}`, problem: `"${g}" is not a security group ID (sg-xxxxxxxx)` });
  });
  const vpcs = [...(ed.VirtualPrivateCloud ? [ed.VirtualPrivateCloud] : []), ...(ed.VirtualPrivateClouds ?? [])];
  for (const v of vpcs) {
    const ok = (v.VpcId === 'DEFAULT' && v.SubnetId === 'DEFAULT') || (/^vpc-[a-z0-9]+$/.test(v.VpcId) && /^subnet-[a-z0-9]+$/.test(v.SubnetId));
    if (!ok) fail('InvalidParameter.CvmParameters', { param, problem: `has VpcId "${v.VpcId}" / SubnetId "${v.SubnetId}", which are not VPC and subnet IDs (or both DEFAULT)` });
  }
  const exclusive = (['VirtualPrivateCloud', 'VirtualPrivateClouds', 'Zones'] as const).filter((k) => ed[k] !== undefined);
  if (exclusive.length > 1) fail('InvalidParameter.InvalidParameterCombination', { detail: `${param} may give only one of VirtualPrivateCloud, VirtualPrivateClouds and Zones; got ${exclusive.join(' and ')}.` });
  ed.Zones?.forEach((z, i) => checkZone(z, ctx.region, `${param}.Zones.${i}`));
  if (ed.InstanceMarketOptions) {
    const m = ed.InstanceMarketOptions;
    oneOf(m.MarketType, ['spot'], `${param}.InstanceMarketOptions.MarketType`, 'InvalidParameter.CvmParameters');
    oneOf(m.SpotOptions?.SpotInstanceType, ['one-time'], `${param}.InstanceMarketOptions.SpotOptions.SpotInstanceType`, 'InvalidParameter.CvmParameters');
    if (!/^\d+(\.\d+)?$/.test(String(m.SpotOptions?.MaxPrice ?? ''))) {
      fail('InvalidParameterValue.NotFloat', { param: `${param}.InstanceMarketOptions.SpotOptions.MaxPrice`, value: String(m.SpotOptions?.MaxPrice) });
    }
  }
  maxLen(ed.InstanceName, 128, 'InvalidParameter.CvmParameters', `${param}.InstanceName`);
}

export function checkLoginSettings(ls: LoginSettingsInput, param: string): void {
  const given = (['Password', 'KeyIds', 'KeepImageLogin'] as const).filter((k) => ls[k] !== undefined);
  if (given.length > 1) fail('InvalidParameter.InvalidParameterCombination', { detail: `${param} may give only one of Password, KeyIds and KeepImageLogin.` });
  if (ls.Password !== undefined) {
    const p = ls.Password;
    const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(p)).length;
    if (p.length < 8 || p.length > 16 || classes < 2) {
      fail('InvalidParameter.CvmParameters', { param: `${param}.Password`, problem: 'must be 8 to 16 characters from at least two of: lower-case, upper-case, digits, symbols' });
    }
  }
  oneOf(ls.KeepImageLogin, ['TRUE', 'FALSE', 'True', 'False', 'true', 'false'], `${param}.KeepImageLogin`, 'InvalidParameter.CvmParameters');
}

export function checkMountDataDisks(list: MountDataDiskInput[] | undefined, ctx: ValidationContext, param: string): void {
  list?.forEach((m, i) => {
    const p = `${param}.${i}`;
    if (!/^[A-Za-z]:$/.test(m.LocalPath)) resolveLocalPath(ctx.localRoot, m.LocalPath, `${p}.LocalPath`);
    oneOf(m.FileSystemType, ['EXT3', 'EXT4', 'NTFS'], `${p}.FileSystemType`);
  });
}

function checkRemotePath(path: string, param: string): void {
  try {
    parseCosUrl(path);
  } catch (e) {
    if (isApiError(e)) throw e.within(param);
    throw e;
  }
}

function checkAuthentications(list: AuthenticationInput[] | undefined, param: string): void {
  list?.forEach((a, i) => {
    oneOf(a.Scene, ['COS'], `${param}.${i}.Scene`);
    if (a.SecretId.length === 0 || a.SecretKey.length === 0) fail('InvalidParameterValue', { param: `${param}.${i}`, problem: 'must have a SecretId and a SecretKey that are not empty' });
  });
}

/**
 * Validates one Task (of SubmitJob, or a template) and returns it with defaults filled in.
 * `envExists` answers whether a named compute environment exists for the caller.
 */
export function checkTask(t: TaskInput, ctx: ValidationContext, param: string, opts: { envExists: (id: string) => boolean }): CheckedTask {
  if (t.TaskName === undefined) fail('MissingParameter', { detail: `The parameter ${param}.TaskName is required: tasks are addressed by name (DescribeTask, Dependences, log file names).` });
  checkTaskName(t.TaskName, `${param}.TaskName`);
  const num = t.TaskInstanceNum ?? 1;
  if (num < 1 || num > ctx.limits.maxTaskInstanceNum) {
    fail('InvalidParameterValue.TaskInstanceNum', { param: `${param}.TaskInstanceNum`, max: ctx.limits.maxTaskInstanceNum, value: num });
  }
  // Application
  const app = t.Application;
  oneOf(app.DeliveryForm, ['LOCAL', 'PACKAGE'], `${param}.Application.DeliveryForm`);
  if (app.Docker !== undefined) {
    fail('UnsupportedOperation', { detail: `${param}.Application.Docker: running tasks in Docker containers is not supported by OpenBatch yet (no container runtime on this executor); remove Docker to run the command directly.` });
  }
  if (app.DeliveryForm === 'PACKAGE') checkPackagePath(app.PackagePath, `${param}.Application.PackagePath`);
  if (app.Command !== undefined && app.Commands !== undefined) {
    fail('InvalidParameter.InvalidParameterCombination', { detail: `${param}.Application may give Command or Commands, not both.` });
  }
  if (app.Commands !== undefined) {
    fail('UnsupportedOperation', { detail: `${param}.Application.Commands (tightly-coupled, multi-node tasks) is not supported by OpenBatch yet; use Command.` });
  }
  if (app.Command === undefined) fail('MissingParameter', { detail: `The parameter ${param}.Application.Command is required.` });
  if (app.Command.trim() === '') fail('InvalidParameterValue', { param: `${param}.Application.Command`, problem: 'must not be empty' });
  // COMPAT: a command of any length up to the request limit runs (a long one through a file)
  if (app.Command.includes('\0')) fail('InvalidParameterValue', { param: `${param}.Application.Command`, problem: 'contains a NUL character, which no shell command can hold' });
  // COMPAT: a PackagePath of a LOCAL application is ignored, as Tencent does, once it is a valid path
  if (app.PackagePath !== undefined && app.DeliveryForm !== 'PACKAGE') checkPackagePath(app.PackagePath, `${param}.Application.PackagePath`);
  // where it runs
  if ((t.ComputeEnv === undefined) === (t.EnvId === undefined)) {
    fail('AllowedOneAttributeInEnvIdAndComputeEnv', { param, given: t.ComputeEnv === undefined ? 'neither' : 'both' });
  }
  if (t.EnvId !== undefined) {
    checkEnvId(t.EnvId, `${param}.EnvId`);
    if (!opts.envExists(t.EnvId)) throw apiError('ResourceNotFound.ComputeEnv', { envId: t.EnvId }).within(`${param}.EnvId`);
  }
  if (t.ComputeEnv !== undefined) {
    const ce = t.ComputeEnv;
    oneOf(ce.EnvType, ['MANAGED'], `${param}.ComputeEnv.EnvType`, 'InvalidParameterValue.ComputeEnv');
    checkEnvData(ce.EnvData, ctx, `${param}.ComputeEnv.EnvData`, true);
    checkMountDataDisks(ce.MountDataDisks, ctx, `${param}.ComputeEnv.MountDataDisks`);
    if (ce.AgentRunningMode) {
      oneOf(ce.AgentRunningMode.Scene, ['WINDOWS'], `${param}.ComputeEnv.AgentRunningMode.Scene`);
      fail('UnsupportedOperation', { detail: `${param}.ComputeEnv.AgentRunningMode (Windows agents) is not supported by OpenBatch.` });
    }
  }
  // logs
  const ri = t.RedirectInfo;
  if (ri) {
    for (const k of ['StdoutRedirectPath', 'StderrRedirectPath'] as const) if (ri[k]) checkRemotePath(ri[k], `${param}.RedirectInfo.${k}`);
    for (const k of ['StdoutRedirectFileName', 'StderrRedirectFileName'] as const) {
      if (ri[k]) validateFileNameTemplate(ri[k], `${param}.RedirectInfo.${k}`, 'InvalidParameterValue.RemoteStoragePath');
    }
  }
  const rl = t.RedirectLocalInfo;
  if (rl) {
    for (const k of ['StdoutLocalPath', 'StderrLocalPath'] as const) if (rl[k]) resolveLocalPath(ctx.localRoot, rl[k], `${param}.RedirectLocalInfo.${k}`);
    for (const k of ['StdoutLocalFileName', 'StderrLocalFileName'] as const) {
      if (rl[k]) validateFileNameTemplate(rl[k], `${param}.RedirectLocalInfo.${k}`, 'InvalidParameterValue.LocalPath');
    }
  }
  checkMappingsApart(
    checkInputMappings(t.InputMappings, `${param}.InputMappings`),
    checkOutputMappings(t.OutputMappings, `${param}.OutputMappings`),
  );
  checkOutputMappingConfigs(t.OutputMappingConfigs, `${param}.OutputMappingConfigs`);
  // environment
  const names = new Set<string>();
  let envBytes = 0;
  t.EnvVars?.forEach((v, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.Name)) fail('InvalidParameterValue', { param: `${param}.EnvVars.${i}.Name`, problem: `"${v.Name}" is not a valid environment variable name` });
    if (names.has(v.Name)) fail('InvalidParameterValue', { param: `${param}.EnvVars.${i}.Name`, problem: `"${v.Name}" appears twice` });
    names.add(v.Name);
    if (v.Value.includes('\0')) fail('InvalidParameterValue', { param: `${param}.EnvVars.${i}.Value`, problem: 'contains a NUL character, which no environment variable can hold' });
    // COMPAT: what a process cannot be given is refused here, not found out at launch (E2BIG)
    const bytes = Buffer.byteLength(`${v.Name}=${v.Value}`) + 1;
    if (bytes > MAX_ARG_STRLEN) {
      fail('InvalidParameterValue.LimitExceeded', { param: `${param}.EnvVars.${i}`, problem: `(${v.Name}) takes ${bytes - 1} bytes as "Name=Value"; a process's environment variable can be at most ${MAX_ARG_STRLEN - 1} bytes` });
    }
    envBytes += bytes + 8;
  });
  if (ctx.envBytes !== undefined && envBytes > ctx.envBytes) {
    fail('InvalidParameterValue.LimitExceeded', { param: `${param}.EnvVars`, problem: `take ${envBytes} bytes of a process's environment; at most ${ctx.envBytes} fit on this host (with the command and the variables OpenBatch sets)` });
  }
  checkAuthentications(t.Authentications, `${param}.Authentications`);
  oneOf(t.FailedAction, ['TERMINATE', 'INTERRUPT', 'FAST_INTERRUPT'], `${param}.FailedAction`);
  if (t.MaxRetryCount !== undefined && t.MaxRetryCount > 5) {
    fail('InvalidParameterValue.MaxRetryCount', { param: `${param}.MaxRetryCount`, max: 5, value: t.MaxRetryCount });
  }
  if (t.Timeout !== undefined && t.Timeout < 1) fail('InvalidParameterValue', { param: `${param}.Timeout`, problem: `must be at least 1 second; got ${t.Timeout}` });
  range(t.MaxConcurrentNum, 0, 200_000, `${param}.MaxConcurrentNum`);
  range(t.ResourceMaxRetryCount, 0, 100, `${param}.ResourceMaxRetryCount`);
  return {
    ...t,
    TaskName: t.TaskName,
    TaskInstanceNum: num,
    MaxRetryCount: t.MaxRetryCount ?? 0,
    FailedAction: t.FailedAction ?? 'TERMINATE',
    Timeout: t.Timeout ?? DEFAULT_TIMEOUT_SEC,
  };
}

/** SubmitJob's Job: returns the job echo (defaults filled), the tasks in submission order and the
 *  rule of TaskExecutionDependOn (its default filled). */
export function checkJob(
  job: JobInput,
  ctx: ValidationContext,
  opts: { envExists: (id: string) => boolean },
): { job: CheckedJob; tasks: CheckedTask[]; dependOn: DependOn } {
  maxLen(job.JobName, 60, 'InvalidParameter.JobNameTooLong', 'Job.JobName');
  maxLen(job.JobDescription, 200, 'InvalidParameter.JobDescriptionTooLong', 'Job.JobDescription');
  if (job.Priority !== undefined && job.Priority > 100) fail('InvalidParameterValue', { param: 'Job.Priority', problem: `must be between 0 and 100; got ${job.Priority}` });
  const tasks = job.Tasks;
  if (tasks.length === 0) fail('InvalidParameterValue', { param: 'Job.Tasks', problem: 'must contain at least one task' });
  if (tasks.length > ctx.limits.maxTasksPerJob) {
    fail('InvalidParameterValue.LimitExceeded', { param: 'Job.Tasks', problem: `has ${tasks.length} tasks; at most ${ctx.limits.maxTasksPerJob} are allowed per job` });
  }
  const checked = tasks.map((t, i) => checkTask(t, ctx, `Job.Tasks.${i}`, opts));
  const seen = new Map<string, number>();
  checked.forEach((t, i) => {
    const prev = seen.get(t.TaskName);
    if (prev !== undefined) fail('InvalidParameter.TaskName', { param: `Job.Tasks.${i}.TaskName`, problem: `"${t.TaskName}" is already the name of Job.Tasks.${prev}; task names must be unique within a job` });
    seen.set(t.TaskName, i);
  });
  const deps = job.Dependences ?? [];
  checkDag(checked.map((t) => t.TaskName), deps);
  const dependOn = job.TaskExecutionDependOn ?? 'PRE_TASK_SUCCEED';
  oneOf(dependOn, TASK_EXECUTION_DEPEND_ON, 'Job.TaskExecutionDependOn');
  oneOf(job.StateIfCreateCvmFailed, ['FAILED', 'RUNNABLE'], 'Job.StateIfCreateCvmFailed');
  oneOf(job.NotificationTarget, ['CMQ', 'TDMQ_CMQ'], 'Job.NotificationTarget');
  checkNotifications(job.Notifications, JOB_NOTIFICATION_EVENTS, 'Job.Notifications');
  checkTags(job.Tags, ctx.limits, 'Job.Tags');
  const echo: CheckedJob = { ...job, Tasks: checked, Priority: job.Priority ?? 0 };
  return { job: echo, tasks: checked, dependOn };
}
