// The ObjectStore interface: where `cos://` paths live (task logs, input/output mappings, packages).
// Deliberately small and S3-shaped so an embedded directory store (fs/) and an S3-compatible client
// (s3/, Tencent COS speaks S3) implement the same contract. Keys are S3 object keys: no leading `/`,
// `/`-separated, compared as plain strings; "directories" exist only as key prefixes.

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

/** Raised by a store for object-level failures that are not the caller's parameter mistakes. */
export class ObjectStoreError extends Error {
  /** `NoSuchKey`: the object does not exist. `KeyConflict`: the backend cannot hold both `a` and
   *  `a/b` (directory-backed stores only; S3 can). */
  readonly code: 'NoSuchKey' | 'KeyConflict';
  constructor(code: 'NoSuchKey' | 'KeyConflict', message: string) {
    super(message);
    this.name = 'ObjectStoreError';
    this.code = code;
  }
}

export function isNoSuchKey(e: unknown): boolean {
  return e instanceof ObjectStoreError && e.code === 'NoSuchKey';
}

export interface ObjectStore {
  /** Short backend name for logs (`fs`, `s3`). */
  readonly name: string;
  /** Upload a local file as one object, replacing any existing object. Readers never see a partial
   *  object. The bucket is created implicitly by directory-backed stores. */
  putFile(bucket: string, key: string, sourcePath: string): Promise<void>;
  /** Bytes `[start, end)` of an object (end EXCLUSIVE; an S3 backend sends `Range: bytes=start-(end-1)`).
   *  `end` omitted → to the end of the object. Ranges past the end are clamped (a start at or past the
   *  size gives an empty buffer) so log tails never fail on a short file.
   *  @throws ObjectStoreError('NoSuchKey') when the object does not exist. */
  getRange(bucket: string, key: string, start: number, end?: number): Promise<Buffer>;
  /** Size of an object, or undefined when it does not exist. */
  head(bucket: string, key: string): Promise<{ size: number } | undefined>;
  /** Move an object to a new key in the same bucket, replacing any object already there.
   *  @throws ObjectStoreError('NoSuchKey') when the source does not exist. */
  rename(bucket: string, fromKey: string, toKey: string): Promise<void>;
  /** Remove an object; deleting a missing object is not an error (S3 semantics). */
  delete(bucket: string, key: string): Promise<void>;
  /** Full keys of all objects whose key starts with `prefix` (a plain string prefix, as in S3:
   *  `logs/std` matches `logs/stdout.log`), recursively, sorted by UTF-8 bytes. A missing bucket
   *  lists as empty. */
  list(bucket: string, prefix: string): Promise<string[]>;
}
