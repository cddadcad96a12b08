// The ObjectStore interface: where `cos://` paths live (task logs, input/output mappings, packages).
// Deliberately small and S3-shaped so an embedded directory store (fs/) and an S3-compatible client
// (s3/, Tencent COS speaks S3) implement the same contract (test/contract/objectstore.contract.ts).
// Keys are S3 object keys: no leading `/`, `/`-separated, compared as plain strings; "directories"
// exist only as key prefixes. Also owns the object location, credentials and error types.

/** Where a bucket is: what a `cos://` URL says about it (built by `bucketRef()` in cos-url.ts).
 *  Directory-backed stores address a bucket by `bucket` alone and ignore `region` and `host`. */
export interface BucketRef {
  /** The bucket name: `<name>-<appid>` of a COS endpoint host, or the whole host of `cos://<bucket>/…`. */
  readonly bucket: string;
  /** The COS region the URL's host names (`ap-guangzhou` for `….cos.ap-guangzhou.myqcloud.com`, and
   *  for the legacy `….cosgz.myqcloud.com`). Undefined when the host names none (the short form
   *  `cos://<bucket>/…`, `cos.accelerate`, an unknown legacy `cos<xx>` label): the backend's
   *  configured region applies. */
  readonly region?: string;
  /** The endpoint host exactly as written (`b-1250000000.cosgz.myqcloud.com`); undefined for the short
   *  form, whose host is only the bucket name. */
  readonly host?: string;
}

/** Per-request credentials, e.g. a task's `Authentications` entry with Scene `COS`. */
export interface ObjectCredentials {
  readonly secretId: string;
  readonly secretKey: string;
  /** Session token of temporary credentials. */
  readonly token?: string;
}

/** Options every call accepts. */
export interface RequestOptions {
  /** Sign this request with these credentials instead of the backend's own. Stores without access
   *  control (the embedded fs store) ignore them. */
  readonly credentials?: ObjectCredentials;
}

/** The most keys one listPage returns (S3's ListObjectsV2 limit), and its default. */
export const MAX_LIST_KEYS = 1000;

export interface ListPageOptions extends RequestOptions {
  /** List keys strictly after this key (need not exist), in listing order. */
  readonly startAfter?: string;
  /** `nextToken` of the previous page (opaque, backend-specific). Give it or `startAfter`, not both. */
  readonly continuationToken?: string;
  /** At most this many keys (1 or more; default and upper bound MAX_LIST_KEYS — more is clamped). */
  readonly maxKeys?: number;
}

export interface ObjectEntry {
  readonly key: string;
  readonly size: number;
  /** The object's version tag (S3's ETag without its quotes; the fs store's own): changes whenever
   *  the object is replaced, so caches key on it. */
  readonly etag: string;
}

/** What head() and getFile() tell of one object. */
export interface ObjectInfo {
  readonly size: number;
  /** As ObjectEntry.etag. */
  readonly etag: string;
}

/** Options of transfers that may be long. */
export interface TransferOptions extends RequestOptions {
  /** Abandon the transfer (it rejects with the signal's reason; nothing partial is left visible). */
  readonly signal?: AbortSignal;
}

/** Options of putFile (the upload of OutputMappings honours OutputMappingConfigs). */
export interface PutOptions extends TransferOptions {
  /** Multipart part size in bytes for files above it (S3: 5 MiB at least; default 8 MiB). Backends
   *  without multipart ignore it. */
  readonly partSizeBytes?: number;
  /** Parts of one file in flight at once (default 4). */
  readonly concurrency?: number;
}

export interface ListPage {
  /** Keys in ascending order of their UTF-8 bytes. May be shorter than maxKeys even when more follow. */
  readonly keys: ObjectEntry[];
  /** Present when more keys may follow: pass it back as `continuationToken`. */
  readonly nextToken?: string;
}

/** `NoSuchKey`: the object does not exist. `NoSuchBucket`: the bucket does not exist (backends with
 *  explicit buckets; the fs store creates buckets implicitly and never says it). `AccessDenied`: the
 *  backend refused the operation (credentials, policy, file permissions). `KeyConflict`: the backend
 *  cannot hold both `a` and `a/b` (directory-backed stores only; S3 can). `Unavailable`: the backend
 *  failed for a reason of its own (throttling, 5xx, network, disk full, I/O error). */
export type ObjectStoreErrorCode = 'NoSuchKey' | 'NoSuchBucket' | 'AccessDenied' | 'KeyConflict' | 'Unavailable';

/** Raised by a store for object-level failures that are not the caller's parameter mistakes (those
 *  are ApiError InvalidParameterValue.RemoteStoragePath, or RangeError for impossible arguments). */
export class ObjectStoreError extends Error {
  readonly code: ObjectStoreErrorCode;
  /** Whether the same call may succeed later unchanged (throttling, 5xx, network, ENOSPC/EIO/EMFILE).
   *  Defaults to true for `Unavailable` only. */
  readonly retryable: boolean;
  constructor(code: ObjectStoreErrorCode, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ObjectStoreError';
    this.code = code;
    this.retryable = opts.retryable ?? code === 'Unavailable';
  }
}

export function isNoSuchKey(e: unknown): boolean {
  return e instanceof ObjectStoreError && e.code === 'NoSuchKey';
}

export interface ObjectStore {
  /** Short backend name for logs (`fs`, `s3`). */
  readonly name: string;
  /** Upload a local file as one object, replacing any existing object. Readers never see a partial
   *  object. Directory-backed stores create the bucket implicitly. */
  putFile(loc: BucketRef, key: string, sourcePath: string, opts?: PutOptions): Promise<void>;
  /** Download an object into the local file `destPath` (written beside it and renamed into place
   *  once complete, so a reader never sees part of it; a failed or aborted download leaves nothing).
   *  @returns the size and etag of what was downloaded.
   *  @throws ObjectStoreError NoSuchKey, NoSuchBucket, AccessDenied, Unavailable. */
  getFile(loc: BucketRef, key: string, destPath: string, opts?: TransferOptions): Promise<ObjectInfo>;
  /** Bytes `[start, end)` of an object (end EXCLUSIVE; an S3 backend sends `Range: bytes=start-(end-1)`).
   *  `end` omitted → to the end of the object. Ranges past the end are clamped (a start at or past the
   *  size gives an empty buffer) so log tails never fail on a short file.
   *  @throws ObjectStoreError('NoSuchKey') when the object does not exist (or 'NoSuchBucket').
   *  @throws RangeError when start < 0, end < start, or either is not a safe integer. */
  getRange(loc: BucketRef, key: string, start: number, end?: number, opts?: RequestOptions): Promise<Buffer>;
  /** Size and etag of an object, or undefined when it (or its bucket) does not exist. */
  head(loc: BucketRef, key: string, opts?: RequestOptions): Promise<ObjectInfo | undefined>;
  /** Move an object to a new key in the same bucket, replacing any object already there.
   *  NOT ATOMIC in general: on S3 it is CopyObject then DeleteObject (multipart copy above 5 GB), so
   *  readers may briefly see both keys, and a failure or crash between the two leaves both (the
   *  target complete, the source unchanged). The fs store renames atomically. Callers must tolerate
   *  both outcomes; renaming a key onto itself only checks that it exists.
   *  @throws ObjectStoreError('NoSuchKey') when the source does not exist. */
  rename(loc: BucketRef, fromKey: string, toKey: string, opts?: RequestOptions): Promise<void>;
  /** Remove an object; deleting a missing object is not an error (S3 semantics). */
  delete(loc: BucketRef, key: string, opts?: RequestOptions): Promise<void>;
  /** One page of the objects whose key starts with `prefix` (a plain string prefix, as in S3:
   *  `logs/std` matches `logs/stdout.log`), recursively, sorted by UTF-8 bytes, with their sizes.
   *  A missing bucket lists as empty. To walk every page use `listAll()` (list.ts).
   *  @throws RangeError for a bad maxKeys, a malformed token, or both startAfter and a token. */
  listPage(loc: BucketRef, prefix: string, opts?: ListPageOptions): Promise<ListPage>;
}
