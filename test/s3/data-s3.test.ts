// The data features end to end on a real S3 server (the Ceph RGW of scripts/s3-up.sh), through the
// official SDK: what docs/objects.md's worked example does — inputs read from a bucket, a packaged
// program, results and logs written back — with private mapped paths, outputs after a kill -9 and
// every fault (see test/support/data-suite.ts); objects put and read back with the S3 SDK. The refused
// destination is a bucket whose policy denies the server's user writes. Then what only a store with
// access control has: a task's own COS Authentications used for its inputs (wrong keys: the instance
// fails naming AccessDenied), and an endpoint that does not answer.
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tempDir, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';
import { dataSuite } from '../support/data-suite.ts';
import { admin, bucketName, createBucket, removeBucket, S3_ACCESS_KEY, S3_ENDPOINT, S3_REGION, S3_SECRET_KEY, skipReason } from './support.ts';

const problem = await skipReason();

function configFile(dir: string, endpoint = S3_ENDPOINT): string {
  const f = path.join(dir, 'config.json');
  const objectStore = { type: 's3', endpoint, region: S3_REGION, forcePathStyle: true, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY };
  fs.writeFileSync(f, JSON.stringify({ objectStore }), { mode: 0o600 });
  return f;
}

async function getObject(bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const r = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey') return undefined;
    throw e;
  }
}

dataSuite('S3 store (RGW)', async () => {
  if (problem) return problem;
  const bucket = await createBucket(`${bucketName('data')}-1250000000`);
  const denied = await createBucket(`${bucketName('denied')}-1250000000`);
  const cfgDir = tempDir('openbatch-data-s3-cfg-');
  return {
    bucket,
    missingBucket: `${bucketName('missing')}-1250000000`,
    server: () => ({ args: ['--config', configFile(cfgDir)] }),
    async put(key, body) {
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    get: (key) => getObject(bucket, key),
    async keys(prefix) {
      const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (r.Contents ?? []).map((c) => c.Key!).sort();
    },
    async refusedPrefix() {
      await admin.send(new PutBucketPolicyCommand({
        Bucket: denied,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: ['s3:PutObject'], Resource: [`arn:aws:s3:::${denied}/*`] }] }),
      }));
      return `cos://${denied}.cos.ap-guangzhou.myqcloud.com/out/`;
    },
    async cleanup() {
      await removeBucket(bucket);
      await removeBucket(denied).catch(() => {});
    },
  };
});

describe.skipIf(problem !== undefined)(`credentials and endpoints of the S3 store${problem ? ` (skipped: ${problem})` : ''}`, () => {
  let srv: TestServer;
  let dead: TestServer;
  let c: BatchClient;
  let bucket: string;
  let cos: string;
  beforeAll(async () => {
    bucket = await createBucket(`${bucketName('auth')}-1250000000`);
    cos = `cos://${bucket}.cos.ap-guangzhou.myqcloud.com`;
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: 'in/x.txt', Body: 'x' }));
    const dir = tempDir('openbatch-data-s3-auth-');
    srv = await startServer({ args: ['--config', configFile(dir)] });
    c = srv.client();
    const dir2 = tempDir('openbatch-data-s3-dead-');
    dead = await startServer({ args: ['--config', configFile(dir2, 'http://127.0.0.1:9')] });
  }, 120_000);
  afterAll(async () => {
    await srv?.stop();
    await dead?.stop();
    if (bucket) await removeBucket(bucket);
  });

  const job = (over: Record<string, unknown>) => ({
    Placement: { Zone: 'ap-guangzhou-2' },
    Job: {
      JobName: 'auth',
      Tasks: [{
        TaskName: 'A', Application: { DeliveryForm: 'LOCAL', Command: 'cat /ob-auth/in/x.txt' },
        ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
        InputMappings: [{ SourcePath: `${cos}/in/`, DestinationPath: '/ob-auth/in/' }], ...over,
      }],
    },
  });
  const instance = async (client: BatchClient, JobId: string) => (await client.DescribeTask!({ JobId, TaskName: 'A' })).TaskInstanceSet[0];

  it("uses the task's COS Authentications for its inputs: the right keys work, wrong ones fail naming AccessDenied", async () => {
    const good = await c.SubmitJob!(job({ Authentications: [{ Scene: 'COS', SecretId: S3_ACCESS_KEY, SecretKey: S3_SECRET_KEY }] }));
    expect((await waitJobDone(c, good.JobId)).JobState).toBe('SUCCEED');
    const bad = await c.SubmitJob!(job({ Authentications: [{ Scene: 'COS', SecretId: 'AKIDwrongkey', SecretKey: 'wrong-secret-key-value' }] }));
    expect((await waitJobDone(c, bad.JobId)).JobState).toBe('FAILED');
    const inst = await instance(c, bad.JobId);
    expect(inst.StateReason).toBe('InputMappingFailed');
    expect(inst.StateDetailedReason).toContain('AccessDenied');
    expect(inst.StateDetailedReason).toContain(`${cos}/in/`);
    expect(inst.StateDetailedReason).not.toContain('wrong-secret-key-value');
    expect(srv.output()).not.toContain('wrong-secret-key-value');
  });

  it('fails an instance whose store does not answer, naming the path, in bounded time; the server goes on', async () => {
    const dc = dead.client();
    const { JobId } = await dc.SubmitJob!(job({}));
    expect((await waitJobDone(dc, JobId, 150_000)).JobState).toBe('FAILED');
    const inst = await instance(dc, JobId);
    expect(inst.StateReason).toBe('InputMappingFailed');
    expect(inst.StateDetailedReason).toContain(`${cos}/in/`);
    expect((await dc.DescribeJob!({ JobId })).JobId).toBe(JobId);
  }, 180_000);
});
