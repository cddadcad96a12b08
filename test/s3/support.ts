// The real S3 server of the test/s3/ files: Ceph RGW of scripts/s3-up.sh on 127.0.0.1:7480 (CI
// starts it), reached with the AWS SDK for what the store under test does not do itself (create and
// remove buckets, bucket policies, multipart uploads left over). Without a server that answers with
// the test keys, the files skip, saying why (rgwProblem).
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListBucketsCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, S3Client,
} from '@aws-sdk/client-s3';
import type { S3StoreOptions } from '../../src/objectstore/s3/s3-store.ts';

export const S3_ENDPOINT = process.env.OPENBATCH_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:7480';
export const S3_REGION = process.env.S3_REGION ?? 'ap-guangzhou';
export const S3_ACCESS_KEY = process.env.S3_ACCESS_KEY ?? 'testak';
export const S3_SECRET_KEY = process.env.S3_SECRET_KEY ?? 'testsk';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The options of a store on the test server, with the server's keys. */
export function storeOptions(over: Partial<S3StoreOptions> = {}): S3StoreOptions {
  return { endpoint: S3_ENDPOINT, region: S3_REGION, forcePathStyle: true, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY, ...over };
}

export const admin = new S3Client({
  endpoint: S3_ENDPOINT, region: S3_REGION, forcePathStyle: true, maxAttempts: 2,
  credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
});

/** Why the test server cannot be used, or undefined when it answers with the test keys. */
export async function rgwProblem(): Promise<string | undefined> {
  try {
    await admin.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(5000) });
    return undefined;
  } catch (e) {
    const name = (e as Error).name ?? 'Error';
    return `no S3 server answers at ${S3_ENDPOINT} with the test keys (${name}: ${(e as Error).message}); sudo scripts/s3-up.sh starts one`;
  }
}

/** The result of rgwProblem() for a describe title, said once on stderr when there is one. */
export async function skipReason(): Promise<string | undefined> {
  const p = await rgwProblem();
  if (p) process.stderr.write(`test/s3: skipped: ${p}\n`);
  return p;
}

/** A bucket name of our own (lower case, unique, at most 63 characters). */
export function bucketName(prefix = 'ob'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`.slice(0, 63);
}

export async function createBucket(name: string): Promise<string> {
  await admin.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** Remove a bucket with everything in it (objects, unfinished multipart uploads); gone is fine. */
export async function removeBucket(name: string): Promise<void> {
  try {
    for (;;) {
      const page = await admin.send(new ListObjectsV2Command({ Bucket: name, MaxKeys: 1000 }));
      const keys = (page.Contents ?? []).map((c) => ({ Key: c.Key! }));
      if (keys.length === 0) break;
      await admin.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: keys, Quiet: true } }));
    }
    for (const u of await multipartUploads(name)) {
      await admin.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.key, UploadId: u.uploadId }));
    }
    await admin.send(new DeleteBucketCommand({ Bucket: name }));
  } catch (e) {
    if ((e as Error).name !== 'NoSuchBucket') throw e;
  }
}

/** The unfinished multipart uploads of a bucket. */
export async function multipartUploads(bucket: string): Promise<{ key: string; uploadId: string }[]> {
  const r = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (r.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
}
