// The request pipeline of the Tencent API 3.0 transport: trace → auth → action/version/region →
// rate limit → params → dispatch → envelope. Replays and rate limits are counted by the store, for the
// deployment as a whole. Every answer is HTTP 200 with {"Response": {...}}; only
// ApiError reaches the wire with its own code, StoreUnavailable is FailedOperation, anything else is
// InternalError (logged, no stack).
import { randomUUID } from 'node:crypto';
import { authenticate, REPLAY_WINDOW_MS, replayedError, type AuthResult, type IncomingRequest } from './auth.ts';
import { apiError, isApiError, StoreUnavailable, type ApiError, type StoreUnavailableKind } from '../domain/errors.ts';
import { ACTION_NAMES, REQUESTS, type ActionName, type ResponseOf } from './models.ts';
import { RateLimiter } from './ratelimit.ts';
import { decodeFlat, decodeJson } from './schema.ts';
import type { ActionContext, ActionRegistry, ExtensionRegistry } from './actions/types.ts';
import { EXTENSION_NAMES, EXTENSION_REQUESTS, type ExtensionName } from './extension-models.ts';
import type { Logger } from '../lib/logger.ts';
import { isKnownRegion } from '../domain/regions.ts';
import type { SecretLookup } from '../services/types.ts';

export const API_VERSION = '2017-03-12';
/** The action a request for the event stream is signed with. */
export const STREAM_ACTION = 'StreamEvents';

export interface PipelineOptions {
  lookup: SecretLookup;
  actions: ActionRegistry;
  /** The OpenBatch extension actions, served beside the Batch actions. */
  extensions: ExtensionRegistry;
  rateLimiter: RateLimiter;
  /** Store.firstUse: true the first time a key is used within the window (v1 replay protection that
   *  holds for every replica sharing the store). */
  firstUse: (key: string, nowMs: number, windowMs: number) => Promise<boolean>;
  now: () => number;
  maxSkewSeconds: number;
  defaultRegion: string;
  logger: Logger;
  /** Told once per request as it is answered: its action (as sent, '' when none), the answer's code (the
   *  Tencent error code, or OK) and how long it took (metrics). */
  observe?(action: string, code: string, seconds: number): void;
}

export interface Answer {
  body: string;
  headers: Record<string, string>;
}

const ACTIONS = new Set<string>([...ACTION_NAMES, ...EXTENSION_NAMES]);
const EXTENSIONS = new Set<string>(EXTENSION_NAMES);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class Pipeline {
  constructor(private readonly o: PipelineOptions) {}

  /** Who may read the event stream (GET EVENTS_PATH): a request signed as the API's (TC3 or v1) with
   *  action StreamEvents; the same errors as an API call otherwise. */
  async authorizeStream(req: IncomingRequest): Promise<{ account: string; region: string }> {
    const { auth, region } = await this.admit(req, {}, STREAM_ACTION);
    return { account: auth.accountId, region };
  }

  /** What every signed request goes through: its signature (and v1 replay), its action (`only`: that
   *  one alone, else any of ACTIONS; `seen.action` is set once known, for the request's metrics), its
   *  version (required for API calls, optional for `only`), its region and the rate limit. */
  private async admit(req: IncomingRequest, seen: { action?: string }, only?: string): Promise<{ auth: AuthResult; name: ActionName; region: string }> {
    const now = this.o.now();
    const auth = authenticate(req, this.o.lookup, now, { maxSkewSeconds: this.o.maxSkewSeconds });
    if (auth.replayKey !== undefined && !(await this.o.firstUse(auth.replayKey, now, REPLAY_WINDOW_MS))) throw replayedError();
    const action = auth.action;
    seen.action = action;
    if (only !== undefined) {
      if (action !== only) throw apiError('InvalidAction', { action: action ?? '', version: API_VERSION });
    } else {
      if (action === undefined || action === '') {
        throw apiError('MissingParameter', { detail: 'The action is missing: send the X-TC-Action header (TC3) or the Action parameter (v1).' });
      }
      if (!ACTIONS.has(action)) throw apiError('InvalidAction', { action, version: API_VERSION });
      if (auth.version === undefined || auth.version === '') {
        throw apiError('MissingParameter', { detail: 'The API version is missing: send the X-TC-Version header (TC3) or the Version parameter (v1) with 2017-03-12.' });
      }
    }
    if (auth.version !== undefined && auth.version !== '' && auth.version !== API_VERSION) {
      throw apiError('NoSuchVersion', { version: auth.version, supported: API_VERSION });
    }
    const region = auth.region ?? this.o.defaultRegion;
    if (!isKnownRegion(region)) throw apiError('UnsupportedRegion', { region });
    const name = action as ActionName;
    if (!(await this.o.rateLimiter.tryTake(name, auth.accountId, region))) {
      throw apiError('RequestLimitExceeded', { action: name, limit: String(this.o.rateLimiter.limitOf(name)) });
    }
    return { auth, name, region };
  }

  async handle(req: IncomingRequest): Promise<Answer> {
    const t0 = performance.now();
    const requestId = randomUUID();
    const traceId = req.headers['x-tc-traceid'];
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-tc-requestid': requestId,
    };
    if (traceId) headers['x-tc-traceid'] = traceId;
    const seen: { action?: string } = {};
    try {
      const { auth, name, region } = await this.admit(req, seen);
      const extension = EXTENSIONS.has(name);
      const schema = extension ? EXTENSION_REQUESTS[name as unknown as ExtensionName] : REQUESTS[name];
      let params: unknown;
      if (auth.paramsKind === 'json') {
        params = decodeJson(schema, parseJsonBody(req.body));
      } else {
        params = decodeFlat(schema, auth.flatParams);
      }
      // the request's logger is made when an action first logs (most never do)
      const root = this.o.logger;
      let log: Logger | undefined;
      const ctx: ActionContext = {
        account: auth.accountId,
        region,
        requestId,
        get log() {
          return (log ??= root.child({ requestId, action: name, account: auth.accountId }));
        },
      };
      // params is what REQUESTS[name] decodes, i.e. RequestOf<typeof name>
      const handler = (extension ? this.o.extensions[name as unknown as ExtensionName] : this.o.actions[name]) as (c: ActionContext, p: unknown) => Promise<ResponseOf<ActionName> | object>;
      const result = await handler(ctx, params);
      // RequestId goes last, as Tencent sends it; spliced into the JSON rather than copied into a new object
      const json = JSON.stringify(result);
      const body = json === '{}' ? `{"Response":{"RequestId":"${requestId}"}}` : `{"Response":${json.slice(0, -1)},"RequestId":"${requestId}"}}`;
      this.observed(name, 'OK', t0);
      return { body, headers };
    } catch (e) {
      const err = answerError(e, requestId, seen.action, this.o.logger);
      this.observed(seen.action, err.code, t0);
      return { body: envelopeOf(err, requestId), headers };
    }
  }

  private observed(action: string | undefined, code: string, t0: number): void {
    if (!this.o.observe) return;
    try {
      this.o.observe(action ?? '', code, (performance.now() - t0) / 1000);
    } catch (e) {
      this.o.logger.warn({ err: e }, 'observing a request failed');
    }
  }
}

/** Why the store cannot serve a request, and what the caller can do, in the words of the FailedOperation answer. */
const STORE_PROBLEMS: Record<StoreUnavailableKind, { reason: string; hint: string }> = {
  full: { reason: 'the disk of the data directory is full', hint: 'Nothing was changed; retry once the operator has freed space.' },
  readonly: { reason: 'the data directory is read-only', hint: 'Nothing was changed; retry once the operator has repaired it.' },
  io: { reason: 'an I/O error on the data directory', hint: 'Nothing was changed; retry once the operator has repaired it.' },
  busy: { reason: 'the database is busy', hint: 'Nothing was changed; retry in a moment.' },
  unreachable: { reason: 'the database cannot be reached', hint: 'Nothing was changed; retry once it is back.' },
};
/** The same for a database server (PostgreSQL), whose disk and mode are its own. */
const SERVER_PROBLEMS: Record<StoreUnavailableKind, { reason: string; hint: string }> = {
  ...STORE_PROBLEMS,
  full: { reason: 'the disk of the database server is full', hint: 'Nothing was changed; retry once the operator has freed space.' },
  readonly: { reason: 'the database server is read-only (a standby, or in recovery)', hint: 'Nothing was changed; retry once a primary serves.' },
  io: { reason: 'an I/O error on the database server', hint: 'Nothing was changed; retry once the operator has repaired it.' },
};

/** The envelope of a failed request: an ApiError as it is, StoreUnavailable as FailedOperation, anything
 *  else as InternalError (both logged). */
export function errorBody(e: unknown, requestId: string, action: string | undefined, logger: Logger): string {
  return envelopeOf(answerError(e, requestId, action, logger), requestId);
}

/** The ApiError a failure answers with (see errorBody). */
function answerError(e: unknown, requestId: string, action: string | undefined, logger: Logger): ApiError {
  let err: ApiError;
  if (isApiError(e)) {
    err = e;
  } else if (e instanceof StoreUnavailable) {
    logger.error({ err: e, requestId, action }, e.server ? 'the database cannot serve the request' : 'the data dir cannot be written');
    err = apiError('FailedOperation', (e.server ? SERVER_PROBLEMS : STORE_PROBLEMS)[e.kind]);
  } else {
    logger.error({ err: e, requestId, action }, 'internal error');
    err = apiError('InternalError', { requestId });
  }
  return err;
}

function envelopeOf(err: ApiError, requestId: string): string {
  return JSON.stringify({ Response: { Error: { Code: err.code, Message: err.message }, RequestId: requestId } });
}

function parseJsonBody(body: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw apiError('InvalidParameter', { detail: 'The request body is not valid UTF-8.' });
  }
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw apiError('InvalidParameter', { detail: `The request body is not valid JSON: ${(e as Error).message}.` });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw apiError('InvalidParameter', { detail: 'The request body must be a JSON object of the request parameters.' });
  }
  return v;
}
