// End to end on a real S3 server: an OpenBatch server whose config file's objectStore is the Ceph
// RGW of scripts/s3-up.sh, driven through the official SDK. A task's RedirectInfo to a COS-style
// `cos://<bucket>-<appid>.cos.ap-guangzhou.myqcloud.com/logs/` lands in RGW's bucket of that name; a
// bucket that does not exist, or an endpoint that does not answer, neither crashes nor hangs the
// server: the instance still ends, the server still answers, and the log says why (no secret in it).
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthz, simpleJob, startServer, tempDir, waitFor, waitJobDone, type TestServer } from '../helpers/server.ts';
import { admin, bucketName, createBucket, removeBucket, S3_ACCESS_KEY, S3_ENDPOINT, S3_REGION, S3_SECRET_KEY, skipReason } from './support.ts';

const problem = await skipReason();

function configFile(dir: string, endpoint: string): string {
  const f = path.join(dir, 'config.json');
  const objectStore = { type: 's3', endpoint, region: S3_REGION, forcePathStyle: true, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY };
  fs.writeFileSync(f, JSON.stringify({ objectStore }), { mode: 0o600 });
  return f;
}

async function readObject(bucket: string, key: string): Promise<string> {
  const r = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToString();
}

describe.skipIf(problem !== undefined)(`RedirectInfo to an S3 object store (RGW)${problem ? ` (skipped: ${problem})` : ''}`, () => {
  let srv: TestServer;
  let bucket: string;
  beforeAll(async () => {
    bucket = await createBucket(`${bucketName('redir')}-1250000000`);
    const dataDir = tempDir();
    srv = await startServer({ dataDir, args: ['--config', configFile(dataDir, S3_ENDPOINT), '--log-level', 'info'] });
  });
  afterAll(async () => {
    await srv?.stop();
    if (bucket) await removeBucket(bucket);
  });

  it('says at start which object store it uses, without the keys', () => {
    const out = srv.output();
    expect(out).toContain(`object store: S3 at ${S3_ENDPOINT}, region ${S3_REGION}, path-style`);
    expect(out).not.toMatch(/does not answer as it should/);
    expect(out).not.toContain(S3_SECRET_KEY);
  });

  it('ships stdout and stderr of a job to the bucket of a COS endpoint host', async () => {
    const c = srv.client();
    const { JobId } = await c.SubmitJob!(simpleJob('echo "out $BATCH_TASK_INSTANCE_INDEX"; echo err >&2', {
      TaskInstanceNum: 2,
      RedirectInfo: {
        StdoutRedirectPath: `cos://${bucket}.cos.ap-guangzhou.myqcloud.com/logs/`,
        StderrRedirectPath: `cos://${bucket}.cos.ap-guangzhou.myqcloud.com/logs/err/`,
      },
    }));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('SUCCEED');
    for (const i of [0, 1]) {
      expect(await readObject(bucket, `logs/stdout.${JobId}.A.${i}.log`)).toBe(`out ${i}\n`);
      expect(await readObject(bucket, `logs/err/stderr.${JobId}.A.${i}.log`)).toBe('err\n');
    }
    const task = await c.DescribeTask!({ JobId, TaskName: 'A' });
    expect(task.TaskInstanceSet.map((x: { TaskInstanceState: string }) => x.TaskInstanceState)).toEqual(['SUCCEED', 'SUCCEED']);
  });

  it('a RedirectInfo bucket that does not exist: the instance ends, the server answers, the log says why', async () => {
    const c = srv.client();
    const gone = `${bucketName('gone')}-1250000000`;
    const { JobId } = await c.SubmitJob!(simpleJob('echo lost', { RedirectInfo: { StdoutRedirectPath: `cos://${gone}.cos.ap-guangzhou.myqcloud.com/logs/` } }));
    const job = await waitJobDone(c, JobId);
    expect(job.TaskInstanceMetrics.SucceedCount + job.TaskInstanceMetrics.FailedCount).toBe(1);
    expect(await healthz(srv.port)).toBe(200);
    expect((await c.DescribeJob!({ JobId })).JobId).toBe(JobId);
    await waitFor(async () => srv.output().includes('log redirect failed'), 'the warning of the failed redirect', 10_000);
    const line = srv.output().split('\n').find((l) => l.includes('log redirect failed'))!;
    expect(line).toContain('NoSuchBucket');
    expect(line).toContain(gone);
    expect(srv.output()).not.toContain(S3_SECRET_KEY);
    // and the next job still ships
    const next = await c.SubmitJob!(simpleJob('echo again', { RedirectInfo: { StdoutRedirectPath: `cos://${bucket}.cos.ap-guangzhou.myqcloud.com/again/` } }));
    expect((await waitJobDone(c, next.JobId)).JobState).toBe('SUCCEED');
    expect(await readObject(bucket, `again/stdout.${next.JobId}.A.0.log`)).toBe('again\n');
  });
});

describe('an S3 endpoint that does not answer (no RGW needed)', () => {
  let srv: TestServer;
  afterAll(async () => {
    await srv?.stop();
  });

  it('starts anyway with a warning; a job with RedirectInfo still ends and the server answers', async () => {
    const dataDir = tempDir();
    srv = await startServer({ dataDir, args: ['--config', configFile(dataDir, 'http://127.0.0.1:1')] });
    expect(srv.output()).toMatch(/the object store does not answer as it should: http:\/\/127\.0\.0\.1:1 did not answer/);
    const c = srv.client();
    const { JobId } = await c.SubmitJob!(simpleJob('echo x', { RedirectInfo: { StdoutRedirectPath: 'cos://nowhere-1250000000.cos.ap-guangzhou.myqcloud.com/logs/' } }));
    const job = await waitJobDone(c, JobId);
    expect(job.TaskInstanceMetrics.SucceedCount + job.TaskInstanceMetrics.FailedCount).toBe(1);
    expect(await healthz(srv.port)).toBe(200);
    await waitFor(async () => srv.output().includes('log redirect failed'), 'the warning of the failed redirect', 30_000);
    expect(srv.output()).toMatch(/ECONNREFUSED/);
    expect(srv.output()).not.toContain(S3_SECRET_KEY);
  });
});
