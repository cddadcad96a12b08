// How the S3 store reports its server's failures: an S3 error (code, HTTP status) or a transport
// failure (refused connection, timeout, reset) becomes an ObjectStoreError naming the operation,
// the object and the server's own code and message; a local file's failure passes through. Nothing of the request goes in (no headers,
// no signature, no keys); the SDK's error is not kept as the cause, since its fields are the
// server's whole answer.
import { ApiError } from '../../domain/errors.ts';
import { ObjectStoreError, type ObjectStoreErrorCode } from '../types.ts';

/** What an error from the SDK says, as far as we read it. */
export interface S3Failure {
  /** The S3 error code (`NoSuchKey`, `SlowDown`), the SDK's name of a bare status (`NotFound`), or a
   *  transport code (`ECONNREFUSED`, `TimeoutError`). */
  code: string;
  status?: number;
  message: string;
}

const DENIED = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'AllAccessDisabled', 'InvalidToken', 'ExpiredToken', 'TokenRefreshRequired', 'AccountProblem', 'RequestTimeTooSkewed', 'NoCredentials']);
/** 4xx answers that a later try of the same call may get past. */
const TRANSIENT_4XX = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequests', 'RequestTimeout', 'OperationAborted', 'ServiceUnavailable']);

export function failureOf(e: unknown): S3Failure {
  const o = (typeof e === 'object' && e !== null ? e : {}) as {
    name?: unknown; code?: unknown; Code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown };
  };
  const status = typeof o.$metadata?.httpStatusCode === 'number' ? o.$metadata.httpStatusCode : undefined;
  const code = [o.Code, o.code, o.name].find((v): v is string => typeof v === 'string' && v !== '' && v !== 'Error') ?? 'UnknownError';
  // the SDK says `UnknownError` where the server's answer had an empty <Message/> (RGW's habit)
  const message = typeof o.message === 'string' && o.message !== '' && o.message !== code && o.message !== 'UnknownError' ? o.message : '';
  return { code, message, ...(status !== undefined ? { status } : {}) };
}

/** A failure of a local file (the upload's source, the download's destination): the caller's, not
 *  the server's. Node's file errors name a `path`; its network errors an `address`. */
function isLocalFileError(e: unknown): boolean {
  const o = e as { path?: unknown; syscall?: unknown } | null;
  return typeof o === 'object' && o !== null && typeof o.path === 'string' && typeof o.syscall === 'string';
}

/** The answer says the object (or its bucket) is not there. */
export function isNotFound(f: S3Failure): boolean {
  return f.code === 'NoSuchKey' || f.code === 'NoSuchBucket' || f.code === 'NotFound' || f.status === 404;
}

function codeOf(f: S3Failure): { code: ObjectStoreErrorCode; retryable?: boolean } {
  if (f.code === 'NoSuchBucket') return { code: 'NoSuchBucket' };
  if (f.code === 'NoSuchKey' || f.code === 'NotFound' || f.status === 404) return { code: 'NoSuchKey' };
  if (DENIED.has(f.code) || f.status === 401 || f.status === 403) return { code: 'AccessDenied' };
  if (f.status !== undefined && f.status >= 400 && f.status < 500 && f.status !== 408 && f.status !== 429 && !TRANSIENT_4XX.has(f.code)) {
    // the server refused this request as it is (a bad argument, too large): trying again won't help
    return { code: 'Unavailable', retryable: false };
  }
  return { code: 'Unavailable', retryable: true };
}

/**
 * The ObjectStoreError for `e`, raised by `op` on `bucket/key` at `where` (the endpoint). An error
 * that is already ours (ObjectStoreError, ApiError, RangeError) passes through.
 */
export function s3StoreError(e: unknown, op: string, where: string, bucket: string, key: string): unknown {
  if (e instanceof ObjectStoreError || e instanceof RangeError || e instanceof ApiError || isLocalFileError(e)) return e;
  const f = failureOf(e);
  const { code, retryable } = codeOf(f);
  const what = key === '' ? `bucket ${bucket}` : `${bucket}/${key}`;
  const status = f.status === undefined ? '' : ` (HTTP ${f.status})`;
  const detail = f.message === '' ? f.code : `${f.code}: ${f.message}`;
  return new ObjectStoreError(code, `object store s3 at ${where}: ${op} ${what} failed: ${detail}${status}`, retryable === undefined ? {} : { retryable });
}
