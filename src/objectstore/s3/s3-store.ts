// S3ObjectStore: `cos://` objects on an S3-compatible server — Tencent COS itself (no endpoint
// configured: each bucket at `cos.<region>.myqcloud.com`), or one endpoint for all buckets (Ceph
// RGW, MinIO, AWS S3). Buckets and keys are validated with the same rules as the embedded store;
// uploads go as one PutObject up to the part size and as a multipart Upload (lib-storage) above it;
// downloads land in a temp file beside the destination, renamed when complete. Endpoint choice and
// clients: s3-clients.ts; errors: s3-errors.ts.
// COMPAT: buckets are never created: writing to a missing bucket is NoSuchBucket (the embedded
// store creates buckets implicitly); reading one is NoSuchKey/NoSuchBucket, listing it is empty.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCopyCommand, AbortMultipartUploadCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { apiError, type ApiError } from '../../domain/errors.ts';
import { bucketNameProblem, keyProblem, listPrefixProblem } from '../cos-url.ts';
import { checkListOptions } from '../list.ts';
import type { BucketRef, ListPage, ListPageOptions, ObjectInfo, ObjectStore, PutOptions, RequestOptions, TransferOptions } from '../types.ts';
import { ObjectStoreError } from '../types.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS, routeOf, S3Clients, type Route, type S3StoreOptions } from './s3-clients.ts';
import { failureOf, isNotFound, s3StoreError } from './s3-errors.ts';

export type { S3StoreOptions } from './s3-clients.ts';

const MiB = 1024 * 1024;
export const DEFAULT_PART_BYTES = 8 * MiB;
/** S3's smallest part (but the last). */
export const MIN_PART_BYTES = 5 * MiB;
const MAX_PARTS = 10_000;
/** CopyObject copies at most 5 GiB: above, a rename copies part by part. */
const MAX_COPY_BYTES = 5 * 1024 * MiB;
const COPY_PART_BYTES = 512 * MiB;
/** Continuation tokens are the server's, base64url-encoded behind this tag. */
const TOKEN_TAG = 's3.';

export interface S3StoreTuning {
  /** Renames of objects above this size copy part by part (default 5 GiB, S3's CopyObject limit). */
  multipartCopyAboveBytes?: number;
  /** Part size of those copies (default 512 MiB, at least 5 MiB). */
  copyPartBytes?: number;
}

function refuse(bucket: string, key: string, problem: string): ApiError {
  return apiError('InvalidParameterValue.RemoteStoragePath', { param: `object ${JSON.stringify(`cos://${bucket}/${key}`)}`, problem });
}

/** S3 ETags are quoted (`"9b2c…"`, `"…-3"` for multipart objects); ours are not.
 *  COMPAT: the same bytes put again in one part keep their etag (it is their MD5), as on S3. */
function etagOf(raw: string | undefined): string {
  return (raw ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export class S3ObjectStore implements ObjectStore {
  readonly name = 's3';
  private readonly clients: S3Clients;
  private readonly timeoutMs: number;

  constructor(private readonly o: S3StoreOptions & S3StoreTuning) {
    this.clients = new S3Clients(o);
    this.timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Where this store sends requests, for the start-up log line (never the keys). */
  describe(): { endpoint: string; region: string; forcePathStyle: boolean } {
    return { endpoint: this.o.endpoint ?? 'https://cos.<region>.myqcloud.com (per bucket)', region: this.o.region, forcePathStyle: this.o.forcePathStyle };
  }

  /** One cheap request (ListBuckets, which RGW, MinIO, AWS and COS all answer) to the configured
   *  endpoint: undefined when it answered with the keys accepted (AccessDenied included: the keys
   *  may lack only that right), else why not (no answer, unknown keys, a bad signature). */
  async probe(timeoutMs = 3_000): Promise<string | undefined> {
    const route = routeOf(this.o, { bucket: 'probe' });
    try {
      await this.clients.get(route).send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(timeoutMs), requestTimeout: timeoutMs });
      return undefined;
    } catch (e) {
      const f = failureOf(e);
      // the keys are good, and may only lack the right to list buckets
      if (f.code === 'AccessDenied') return undefined;
      if (f.code === 'AbortError' || f.code === 'TimeoutError') return `${route.endpoint} did not answer within ${timeoutMs} ms`;
      const why = f.message === '' ? f.code : `${f.code}: ${f.message}`;
      if (f.status === undefined) return `${route.endpoint} did not answer (${why})`;
      return `${route.endpoint} answered ListBuckets with ${why} (HTTP ${f.status})`;
    }
  }

  close(): void {
    this.clients.destroy();
  }

  async putFile(loc: BucketRef, key: string, sourcePath: string, opts?: PutOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    this.check(loc.bucket, key);
    // a source that cannot be read is the caller's error, thrown as is
    const size = (await fsp.stat(sourcePath)).size;
    await fsp.access(sourcePath, fs.constants.R_OK);
    const partSize = Math.max(opts?.partSizeBytes ?? DEFAULT_PART_BYTES, MIN_PART_BYTES, Math.ceil(size / MAX_PARTS));
    await this.run('PutObject', loc, key, opts, async (client) => {
      if (size <= partSize) {
        // one request; the body is a buffer, so the SDK can send it again on a retry
        const body = await fsp.readFile(sourcePath);
        await client.send(new PutObjectCommand({ Bucket: loc.bucket, Key: key, Body: body, ContentLength: body.length }), this.callOptions(opts?.signal));
        return;
      }
      await this.multipartUpload(client, loc.bucket, key, sourcePath, size, partSize, opts);
    });
  }

  private async multipartUpload(client: S3Client, bucket: string, key: string, sourcePath: string, size: number, partSize: number, opts?: PutOptions): Promise<void> {
    const body = fs.createReadStream(sourcePath);
    const upload = new Upload({
      client, partSize, queueSize: Math.max(1, opts?.concurrency ?? 4), leavePartsOnError: false,
      params: { Bucket: bucket, Key: key, Body: body, ContentLength: size },
    });
    // an abort stops new parts and aborts the multipart upload once the parts in flight are back:
    // the object never appears
    const onAbort = () => void upload.abort();
    opts?.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } finally {
      opts?.signal?.removeEventListener('abort', onAbort);
      body.destroy();
    }
  }

  async getFile(loc: BucketRef, key: string, destPath: string, opts?: TransferOptions): Promise<ObjectInfo> {
    opts?.signal?.throwIfAborted();
    this.check(loc.bucket, key);
    const tmp = `${destPath}.part-${randomBytes(6).toString('hex')}`;
    try {
      return await this.run('GetObject', loc, key, opts, async (client) => {
        const r = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: key }), this.callOptions(opts?.signal));
        const body = r.Body as Readable;
        await pipeline(body, fs.createWriteStream(tmp, { flags: 'wx' }), opts?.signal ? { signal: opts.signal } : {});
        const size = (await fsp.stat(tmp)).size;
        if (r.ContentLength !== undefined && size !== r.ContentLength) {
          throw new ObjectStoreError('Unavailable', `object store s3: GetObject ${loc.bucket}/${key} ended after ${size} of ${r.ContentLength} bytes`);
        }
        await fsp.rename(tmp, destPath);
        return { size, etag: etagOf(r.ETag) };
      });
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  async getRange(loc: BucketRef, key: string, start: number, end?: number, opts?: RequestOptions): Promise<Buffer> {
    if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
      throw new RangeError(`invalid byte range [${start}, ${end ?? ''}) for ${loc.bucket}/${key}`);
    }
    this.check(loc.bucket, key);
    if (end === start) {
      // an empty range has no Range header: ask only whether the object is there
      if ((await this.head(loc, key, opts)) === undefined) throw new ObjectStoreError('NoSuchKey', `no object ${loc.bucket}/${key}`);
      return Buffer.alloc(0);
    }
    return this.run('GetObject', loc, key, opts, async (client) => {
      const Range = `bytes=${start}-${end === undefined ? '' : end - 1}`;
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: key, Range }), this.callOptions());
        const bytes = Buffer.from(await r.Body!.transformToByteArray());
        // a server that ignores Range sends the whole object
        return r.ContentRange === undefined && start > 0 ? bytes.subarray(start, end) : bytes.subarray(0, end === undefined ? undefined : end - start);
      } catch (e) {
        const f = failureOf(e);
        // the object exists; the range starts at or past its end (every range of an empty object)
        if (f.code === 'InvalidRange' || f.status === 416) return Buffer.alloc(0);
        throw e;
      }
    });
  }

  async head(loc: BucketRef, key: string, opts?: RequestOptions): Promise<ObjectInfo | undefined> {
    this.check(loc.bucket, key);
    return this.run('HeadObject', loc, key, opts, async (client) => {
      try {
        const r = await client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: key }), this.callOptions());
        return { size: r.ContentLength ?? 0, etag: etagOf(r.ETag) };
      } catch (e) {
        if (isNotFound(failureOf(e))) return undefined;
        throw e;
      }
    });
  }

  /** CopyObject (part by part above 5 GiB), then DeleteObject: see ObjectStore.rename. */
  async rename(loc: BucketRef, fromKey: string, toKey: string, opts?: RequestOptions): Promise<void> {
    this.check(loc.bucket, fromKey);
    this.check(loc.bucket, toKey);
    const info = await this.head(loc, fromKey, opts);
    if (info === undefined) throw new ObjectStoreError('NoSuchKey', `no object ${loc.bucket}/${fromKey}`);
    if (fromKey === toKey) return;
    await this.run('CopyObject', loc, fromKey, opts, async (client) => {
      if (info.size > (this.o.multipartCopyAboveBytes ?? MAX_COPY_BYTES)) {
        await this.multipartCopy(client, loc.bucket, fromKey, toKey, info.size);
      } else {
        await client.send(new CopyObjectCommand({ Bucket: loc.bucket, Key: toKey, CopySource: copySource(loc.bucket, fromKey) }), this.callOptions());
      }
    });
    await this.delete(loc, fromKey, opts);
  }

  private async multipartCopy(client: S3Client, bucket: string, fromKey: string, toKey: string, size: number): Promise<void> {
    const partSize = Math.max(this.o.copyPartBytes ?? COPY_PART_BYTES, MIN_PART_BYTES, Math.ceil(size / MAX_PARTS));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: toKey }), this.callOptions());
    try {
      const parts: { PartNumber: number; ETag: string }[] = [];
      for (let n = 1, at = 0; at < size; n++, at += partSize) {
        const CopySourceRange = `bytes=${at}-${Math.min(at + partSize, size) - 1}`;
        const r = await client.send(new UploadPartCopyCommand({
          Bucket: bucket, Key: toKey, UploadId, PartNumber: n, CopySource: copySource(bucket, fromKey), CopySourceRange,
        }), this.callOptions());
        parts.push({ PartNumber: n, ETag: r.CopyPartResult?.ETag ?? '' });
      }
      await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: toKey, UploadId, MultipartUpload: { Parts: parts } }), this.callOptions());
    } catch (e) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: toKey, UploadId }), this.callOptions()).catch(() => {});
      throw e;
    }
  }

  async delete(loc: BucketRef, key: string, opts?: RequestOptions): Promise<void> {
    this.check(loc.bucket, key);
    await this.run('DeleteObject', loc, key, opts, async (client) => {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: key }), this.callOptions());
      } catch (e) {
        if (failureOf(e).code === 'NoSuchKey') return; // S3 answers 204 anyway; some servers do not
        throw e;
      }
    });
  }

  async listPage(loc: BucketRef, prefix: string, opts?: ListPageOptions): Promise<ListPage> {
    const { maxKeys, startAfter, continuationToken } = checkListOptions(opts);
    const token = continuationToken === undefined ? undefined : decodeToken(continuationToken);
    const bp = bucketNameProblem(loc.bucket);
    if (bp) throw refuse(loc.bucket, prefix, `names an invalid ${bp}`);
    const pp = listPrefixProblem(prefix);
    if (pp) throw refuse(loc.bucket, prefix, `has a prefix that ${pp}`);
    return this.run('ListObjectsV2', loc, prefix, opts, async (client) => {
      try {
        const r = await client.send(new ListObjectsV2Command({
          Bucket: loc.bucket, Prefix: prefix === '' ? undefined : prefix, MaxKeys: maxKeys,
          ...(startAfter !== undefined ? { StartAfter: startAfter } : {}), ...(token !== undefined ? { ContinuationToken: token } : {}),
        }), this.callOptions());
        const keys = (r.Contents ?? []).map((c) => ({ key: c.Key ?? '', size: c.Size ?? 0, etag: etagOf(c.ETag) }));
        return r.IsTruncated && r.NextContinuationToken ? { keys, nextToken: encodeToken(r.NextContinuationToken) } : { keys };
      } catch (e) {
        const f = failureOf(e);
        if (f.code === 'NoSuchBucket') return { keys: [] };
        if (token !== undefined && f.code === 'InvalidArgument') throw new RangeError(`continuation token ${JSON.stringify(continuationToken)} was refused by the server`);
        throw e;
      }
    });
  }

  // ---- helpers ---------------------------------------------------------------------------

  private check(bucket: string, key: string): void {
    const bp = bucketNameProblem(bucket);
    if (bp) throw refuse(bucket, key, `names an invalid ${bp}`);
    const kp = keyProblem(key);
    if (kp) throw refuse(bucket, key, `has a key that ${kp}`);
  }

  /** Options of one SDK call: the time to an answer's headers, and the caller's abort signal. */
  private callOptions(signal?: AbortSignal): { requestTimeout: number; abortSignal?: AbortSignal } {
    return signal ? { requestTimeout: this.timeoutMs, abortSignal: signal } : { requestTimeout: this.timeoutMs };
  }

  /** Runs `fn` with the client of `loc` (and the request's credentials), turning the SDK's failures
   *  into ObjectStoreErrors; an aborted transfer rejects with its signal's reason. */
  private async run<T>(op: string, loc: BucketRef, key: string, opts: TransferOptions | undefined, fn: (client: S3Client) => Promise<T>): Promise<T> {
    const route: Route = routeOf(this.o, loc);
    try {
      return await fn(this.clients.get(route, opts?.credentials));
    } catch (e) {
      if (opts?.signal?.aborted) throw opts.signal.reason;
      throw s3StoreError(e, op, route.endpoint, loc.bucket, key);
    }
  }
}

function encodeToken(serverToken: string): string {
  return TOKEN_TAG + Buffer.from(serverToken, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const raw = token.startsWith(TOKEN_TAG) ? Buffer.from(token.slice(TOKEN_TAG.length), 'base64url').toString('utf8') : undefined;
  if (raw === undefined || raw === '' || encodeToken(raw) !== token) throw new RangeError(`malformed continuation token ${JSON.stringify(token)}`);
  return raw;
}
