// What PostgreSQL's failures mean to the rest of the server: a server that cannot be reached (refused,
// reset, timed out, shut down, the connection killed), a full disk, a read-only server (a standby) or
// contention that outlasted the store's own retries become StoreUnavailable (domain/errors.ts); bad
// credentials or a missing database at open become StoreOpenError. No other layer reads a SQLSTATE.
// Every message that leaves this module has the connection's password taken out.
import { StoreOpenError, StoreUnavailable, type StoreUnavailableKind } from '../../domain/errors.ts';

/** SQLSTATEs a transaction may be retried on as a whole (serialization failure, deadlock). */
const RETRYABLE = new Set(['40001', '40P01']);
const BUSY = new Set(['53200', '53300', '55P03', '57014']);
const SHUTDOWN = new Set(['57P01', '57P02', '57P03']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
/** What node-postgres says when a connection is gone, could not be made in time, or a statement went
 *  unanswered past query_timeout (the connection is then given up: its state is unknown). */
const LOST = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|not queryable|Query read timeout/i;
/** Refusals at open that no retry mends: bad password, no pg_hba entry, no such database or role. */
const OPEN_REFUSALS = new Set(['28P01', '28000', '3D000', '42501']);

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The SQLSTATE or errno of `e`, or of the errors it aggregates (a host with several addresses). */
function codesOf(e: unknown): string[] {
  const codes: string[] = [];
  const own = codeOf(e);
  if (own !== undefined) codes.push(own);
  const inner = (e as { errors?: unknown } | null)?.errors;
  if (Array.isArray(inner)) for (const x of inner) codes.push(...codesOf(x));
  return codes;
}

export function isRetryable(e: unknown): boolean {
  const code = codeOf(e);
  return code !== undefined && RETRYABLE.has(code);
}

/** True when `e` says the server cannot be reached or the connection was lost. */
export function isConnectionError(e: unknown): boolean {
  for (const code of codesOf(e)) {
    if (code.startsWith('08') || SHUTDOWN.has(code) || NETWORK.has(code)) return true;
  }
  const message = (e as { message?: unknown } | null)?.message;
  return typeof message === 'string' && LOST.test(message);
}

/** What a failure says about the store, or undefined when it is not a store-level failure. */
export function kindOf(e: unknown): StoreUnavailableKind | undefined {
  if (isConnectionError(e)) return 'unreachable';
  const code = codeOf(e);
  if (code === undefined) return undefined;
  if (code === '53100') return 'full';
  if (code === '25006') return 'readonly';
  if (BUSY.has(code) || RETRYABLE.has(code)) return 'busy';
  return undefined;
}

/** Takes passwords out of a message: the password part of any URL, and the given secrets wherever they appear. */
export function redact(message: string, secrets: readonly string[] = []): string {
  let out = message.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi, '$1:***@');
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}

function describe(e: unknown, secrets: readonly string[]): string {
  const message = e instanceof Error ? e.message || e.name : String(e);
  const code = codesOf(e)[0];
  return redact(code === undefined || message.includes(code) ? message : `${message} (${code})`, secrets);
}

/** `e` as StoreUnavailable when PostgreSQL cannot serve now; any other error unchanged, its message
 *  without the password. */
export function mapPgError(e: unknown, secrets: readonly string[]): unknown {
  if (e instanceof StoreUnavailable || e instanceof StoreOpenError) return e;
  const kind = kindOf(e);
  if (kind === undefined) {
    if (e instanceof Error) {
      const clean = redact(e.message, secrets);
      if (clean !== e.message) e.message = clean;
    }
    return e;
  }
  return new StoreUnavailable(kind, `the PostgreSQL store cannot work now: ${describe(e, secrets)}`, { cause: e, server: true });
}

/** A failure at open: unreachable (or busy, full …) as StoreUnavailable, a refusal of the credentials or
 *  a missing database as StoreOpenError saying so; any other database error as StoreOpenError too. */
export function mapOpenError(e: unknown, where: string, secrets: readonly string[]): unknown {
  if (e instanceof StoreUnavailable || e instanceof StoreOpenError) return e;
  const kind = kindOf(e);
  const why = describe(e, secrets);
  if (kind !== undefined) return new StoreUnavailable(kind, `cannot open the PostgreSQL store at ${where}: ${why}`, { cause: e, server: true });
  const code = codeOf(e);
  if (code !== undefined && OPEN_REFUSALS.has(code)) {
    const what = code === '3D000' ? 'the database does not exist'
      : code === '42501' ? 'the role may not connect or change the schema'
        : 'the server refused the credentials';
    return new StoreOpenError(`cannot open the PostgreSQL store at ${where}: ${what}: ${why}`, { cause: e });
  }
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return new StoreOpenError(`cannot open the PostgreSQL store at ${where}: ${why}`, { cause: e });
  return e;
}

/** Makes every async method of `store` reject with mapPgError's answer; applied once, in the
 *  constructor, so that no method can forget it. */
export function guardStore(store: object, secrets: readonly string[]): void {
  const target = store as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
    const method = target[name];
    if (name === 'constructor' || typeof method !== 'function' || method.constructor.name !== 'AsyncFunction') continue;
    const run = method as (...args: unknown[]) => Promise<unknown>;
    target[name] = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      return run.apply(this, args).catch((e: unknown) => {
        throw mapPgError(e, secrets);
      });
    };
  }
}

/** The URL with its password replaced by ***, to name the database in messages and logs. */
export function safeUrl(url: string): string {
  return redact(url);
}
