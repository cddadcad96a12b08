// How the embedded fs store reports the file system's own failures: errno codes of its files and
// directories become ObjectStoreErrors (AccessDenied, or Unavailable when a retry may succeed);
// everything else (ApiError, ObjectStoreError, RangeError, unexpected errnos) passes through.
import { ObjectStoreError } from '../types.ts';

/** Refusals by the file system: retrying the same call does not help. */
const DENIED = new Set(['EACCES', 'EPERM', 'EROFS']);
/** Failures that may clear by themselves (space freed, descriptors closed, the device recovered). */
const TRANSIENT = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'ENOMEM', 'ETIMEDOUT', 'EINTR']);

function systemErrorCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, syscall } = e as { code?: unknown; syscall?: unknown };
  return typeof code === 'string' && typeof syscall === 'string' ? code : undefined;
}

/** The error to throw for `e`, raised while working on object `bucket/key`. */
export function fsStoreError(e: unknown, bucket: string, key: string): unknown {
  const code = systemErrorCode(e);
  if (code === undefined) return e;
  const what = key === '' ? `bucket ${bucket}` : `${bucket}/${key}`;
  const detail = e instanceof Error ? e.message : code;
  if (DENIED.has(code)) return new ObjectStoreError('AccessDenied', `object store refused access to ${what}: ${detail}`, { cause: e });
  if (TRANSIENT.has(code)) return new ObjectStoreError('Unavailable', `object store failed on ${what}: ${detail}`, { retryable: true, cause: e });
  return e;
}
