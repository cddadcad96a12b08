// Every error path of the job actions and of the protocol, through the official SDK (and raw HTTP
// where the SDK cannot produce the mistake): exact Tencent codes, HTTP 200 envelopes, echoed trace ids.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, makeClient, simpleJob, startServer, tempDir, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;
beforeAll(async () => {
  srv = await startServer();
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});

const code = async (p: Promise<unknown>) => (await errorOf(p)).code;

/** A raw HTTP/1.1 POST over a plain socket: the answer is read even when the server closes early. */
function rawPost(port: number, body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; json: any; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {}); // EPIPE/ECONNRESET while an oversized body is still being sent
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const lines = (head ?? '').split('\r\n');
      const status = Number(lines[0]?.split(' ')[1]);
      if (!status) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const h: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        h[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, json: JSON.parse(rest.join('\r\n\r\n')), headers: h });
    });
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const hdr = Object.entries({ host: `127.0.0.1:${port}`, connection: 'close', 'content-length': String(buf.length), ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(`POST / HTTP/1.1\r\n${hdr}\r\n`);
    sock.write(buf);
  });
}

describe('SubmitJob validation', () => {
  const withTask = (over: Record<string, unknown>, job: Record<string, unknown> = {}) => simpleJob('true', over, job);

  it.each([
    ['cycle', { Tasks: [0, 1].map((i) => ({ TaskName: `T${i}`, Application: { DeliveryForm: 'LOCAL', Command: 'true' }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } })), Dependences: [{ StartTask: 'T0', EndTask: 'T1' }, { StartTask: 'T1', EndTask: 'T0' }] }, 'InvalidParameterValue.DependenceUnfeasible'],
    ['self-loop', { Dependences: [{ StartTask: 'A', EndTask: 'A' }] }, 'InvalidParameterValue.DependenceUnfeasible'],
    ['unknown task in a dependence', { Dependences: [{ StartTask: 'A', EndTask: 'nope' }] }, 'InvalidParameterValue.DependenceNotFoundTaskName'],
    ['job name too long', { JobName: 'x'.repeat(61) }, 'InvalidParameter.JobNameTooLong'],
    ['description too long', { JobDescription: 'x'.repeat(201) }, 'InvalidParameter.JobDescriptionTooLong'],
    ['priority over 100', { Priority: 101 }, 'InvalidParameterValue'],
    ['11 tags', { Tags: Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }, 'InvalidParameterValue.LimitExceeded'],
    ['bad TaskExecutionDependOn', { TaskExecutionDependOn: 'WHENEVER' }, 'InvalidParameterValue'],
    ['duplicate notification event', { Notifications: [{ TopicName: 'topic1', EventConfigs: [{ EventName: 'JOB_RUNNING', EventVars: [] }, { EventName: 'JOB_RUNNING', EventVars: [] }] }] }, 'InvalidParameter.NotificationEventNameDuplicate'],
  ])('rejects a job with %s', async (_name, job, expected) => {
    const base = withTask({});
    expect(await code(c.SubmitJob!({ ...base, Job: { ...base.Job, ...(job as object) } }))).toBe(expected);
  });

  it.each([
    ['MaxRetryCount 6', { MaxRetryCount: 6 }, 'InvalidParameterValue.MaxRetryCount'],
    ['TaskInstanceNum 0', { TaskInstanceNum: 0 }, 'InvalidParameterValue.TaskInstanceNum'],
    ['negative TaskInstanceNum', { TaskInstanceNum: -1 }, 'InvalidParameterValue'],
    ['both ComputeEnv and EnvId', { EnvId: 'env-abcdefgh' }, 'AllowedOneAttributeInEnvIdAndComputeEnv'],
    ['neither ComputeEnv nor EnvId', { ComputeEnv: undefined }, 'AllowedOneAttributeInEnvIdAndComputeEnv'],
    ['malformed EnvId', { ComputeEnv: undefined, EnvId: 'env_238swek2' }, 'InvalidParameter.EnvIdMalformed'],
    ['unknown EnvId', { ComputeEnv: undefined, EnvId: 'env-abcdefgh' }, 'ResourceNotFound.ComputeEnv'],
    ['task name with a slash', { TaskName: 'a/b' }, 'InvalidParameter.TaskName'],
    ['task name with shell metacharacters', { TaskName: 'a;rm -rf' }, 'InvalidParameter.TaskName'],
    ['task name too long', { TaskName: 'x'.repeat(61) }, 'InvalidParameter.TaskNameTooLong'],
    ['missing task name', { TaskName: undefined }, 'MissingParameter'],
    ['malformed image id', { ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'image-1' } } }, 'InvalidParameter.ImageIdMalformed'],
    ['no instance type', { ComputeEnv: { EnvData: { ImageId: 'img-bd78fy2t' } } }, 'InvalidParameterValue.ComputeEnv'],
    ['bad instance type', { ComputeEnv: { EnvData: { InstanceType: 'huge' } } }, 'InvalidParameterValue.InstanceType'],
    ['duplicate instance types', { ComputeEnv: { EnvData: { InstanceTypes: ['S1.SMALL1', 'S1.SMALL1'] } } }, 'InvalidParameterValue.InstanceTypeDuplicate'],
    ['weak password', { ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1', LoginSettings: { Password: 'abc' } } } }, 'InvalidParameter.CvmParameters'],
    ['a PACKAGE that is no .tar.gz', { Application: { DeliveryForm: 'PACKAGE', Command: 'run.sh', PackagePath: 'cos://bucket/pkg.zip' } }, 'InvalidParameterValue.RemoteStoragePath'],
    ['Docker', { Application: { DeliveryForm: 'LOCAL', Command: 'true', Docker: { Image: 'alpine' } } }, 'UnsupportedOperation'],
    ['bad DeliveryForm', { Application: { DeliveryForm: 'REMOTE', Command: 'true' } }, 'InvalidParameterValue'],
    ['empty command', { Application: { DeliveryForm: 'LOCAL', Command: '  ' } }, 'InvalidParameterValue'],
    ['non-cos redirect', { RedirectInfo: { StdoutRedirectPath: 's3://bucket/logs/' } }, 'InvalidParameterValue.RemoteStorageSchemeType'],
    ['.. in a cos path', { RedirectInfo: { StdoutRedirectPath: 'cos://bucket/../x/' } }, 'InvalidParameterValue.RemoteStoragePath'],
    ['encoded traversal in a cos path', { RedirectInfo: { StdoutRedirectPath: 'cos://bucket/a/%2e%2e/x/' } }, 'InvalidParameterValue.RemoteStoragePath'],
    ['a slash in a log file name', { RedirectInfo: { StdoutRedirectPath: 'cos://bucket/logs/', StdoutRedirectFileName: '../${BATCH_JOB_ID}.log' } }, 'InvalidParameterValue.RemoteStoragePath'],
    ['.. in a local path', { RedirectLocalInfo: { StdoutLocalPath: '/home/../../etc/' } }, 'InvalidParameterValue.LocalPath'],
    ['relative local path', { RedirectLocalInfo: { StdoutLocalPath: 'logs/' } }, 'InvalidParameterValue.LocalPath'],
    ['bad FailedAction', { FailedAction: 'EXPLODE' }, 'InvalidParameterValue'],
    ['MaxConcurrentNum over 200000', { MaxConcurrentNum: 200001 }, 'InvalidParameterValue'],
    ['bad env var name', { EnvVars: [{ Name: 'A-B', Value: '1' }] }, 'InvalidParameterValue'],
    ['an input mapping to a relative path', { InputMappings: [{ SourcePath: 'cos://bucket/in/', DestinationPath: 'data/' }] }, 'InvalidParameterValue.LocalPath'],
    ['an input mapping into /proc', { InputMappings: [{ SourcePath: 'cos://bucket/in/', DestinationPath: '/proc/data/' }] }, 'InvalidParameterValue.LocalPath'],
  ])('rejects a task with %s', async (_name, over, expected) => {
    expect(await code(c.SubmitJob!(withTask(over as Record<string, unknown>)))).toBe(expected);
  });

  it('rejects duplicate task names and too many tasks', async () => {
    const t = withTask({}).Job.Tasks[0]!;
    const base = withTask({});
    expect(await code(c.SubmitJob!({ ...base, Job: { Tasks: [t, t] } }))).toBe('InvalidParameter.TaskName');
    expect(await code(c.SubmitJob!({ ...base, Job: { Tasks: [] } }))).toBe('InvalidParameterValue');
  });

  it('rejects zones of other regions and unknown zones', async () => {
    const base = withTask({});
    expect(await code(c.SubmitJob!({ ...base, Placement: { Zone: 'ap-beijing-2' } }))).toBe('InvalidParameterValue.InvalidZoneMismatchRegion');
    expect(await code(c.SubmitJob!({ ...base, Placement: { Zone: 'mars-1' } }))).toBe('InvalidZone.MismatchRegion');
    // the same zone is fine when the request is for that region
    const bj = srv.client({ region: 'ap-beijing' });
    const { JobId } = await bj.SubmitJob!({ ...base, Placement: { Zone: 'ap-beijing-2' } });
    expect(JobId).toMatch(/^job-/);
    // resources belong to a region: the guangzhou endpoint does not see it
    expect(await code(c.DescribeJob!({ JobId }))).toBe('ResourceNotFound.Job');
    expect(await code(srv.client({ region: 'xx-nowhere' }).DescribeJobs!({}))).toBe('UnsupportedRegion');
  });

  it('rejects missing, unknown and wrongly typed parameters', async () => {
    expect(await code(c.SubmitJob!({ Job: withTask({}).Job }))).toBe('MissingParameter');
    const e = await errorOf(c.SubmitJob!({ ...withTask({}), Extra: 1 }));
    expect(e.code).toBe('UnknownParameter');
    expect(e.message).toContain('Extra');
    const t = await errorOf(c.SubmitJob!(withTask({ TaskInstanceNum: 'two' })));
    expect(t.code).toBe('InvalidParameter');
    expect(t.message).toContain('Job.Tasks.0.TaskInstanceNum');
    expect(await code(c.DescribeJob!({}))).toBe('MissingParameter');
  });
});

describe('job and task lookups', () => {
  it('answers the malformed-id and not-found codes of each action', async () => {
    for (const a of ['DescribeJob', 'DescribeJobSubmitInfo', 'TerminateJob', 'DeleteJob']) {
      expect(await code(c[a]!({ JobId: 'job_1' }))).toBe('InvalidParameter.JobIdMalformed');
      expect(await code(c[a]!({ JobId: 'job-zzzzzzzz' }))).toBe('ResourceNotFound.Job');
    }
    expect(await code(c.DescribeTask!({ JobId: 'bad', TaskName: 'A' }))).toBe('InvalidParameter.JobIdMalformed');
    expect(await code(c.DescribeTask!({ JobId: 'job-zzzzzzzz', TaskName: 'A' }))).toBe('ResourceNotFound.Task');
    expect(await code(c.DescribeTaskLogs!({ JobId: 'job-zzzzzzzz', TaskName: 'A' }))).toBe('ResourceNotFound.Job');
    expect(await code(c.RetryJobs!({ JobIds: ['job-zzzzzzzz'] }))).toBe('ResourceNotFound.Job');
    expect(await code(c.RetryJobs!({ JobIds: ['nope'] }))).toBe('InvalidParameter.JobIdMalformed');
    expect(await code(c.TerminateTaskInstance!({ JobId: 'job-zzzzzzzz', TaskName: 'A', TaskInstanceIndex: 0 }))).toBe('ResourceNotFound.Job');
    expect(await code(c.DescribeJobs!({ JobIds: ['job-1'] }))).toBe('InvalidParameter.JobIdMalformed');

    const { JobId } = await c.SubmitJob!(simpleJob('true', { TaskInstanceNum: 2 }));
    await waitJobDone(c, JobId);
    expect(await code(c.DescribeTask!({ JobId, TaskName: 'B' }))).toBe('ResourceNotFound.Task');
    expect(await code(c.DescribeTaskLogs!({ JobId, TaskName: 'B' }))).toBe('ResourceNotFound.Task');
    expect(await code(c.DescribeTaskLogs!({ JobId, TaskName: 'A', TaskInstanceIndexes: [5] }))).toBe('ResourceNotFound.TaskInstance');
    expect(await code(c.DescribeTaskLogs!({ JobId, TaskName: 'A', Limit: 11 }))).toBe('InvalidParameterValue');
    expect(await code(c.DescribeTaskLogs!({ JobId, TaskName: 'A', Offset: 0, TaskInstanceIndexes: [0] }))).toBe('InvalidParameter.InvalidParameterCombination');
    expect(await code(c.DescribeTask!({ JobId, TaskName: 'A', Filters: [{ Name: 'task-instance-state', Values: ['DONE'] }] }))).toBe('InvalidParameterValue.InvalidFilter');
    expect(await code(c.DescribeTask!({ JobId, TaskName: 'A', Filters: [{ Name: 'color', Values: ['red'] }] }))).toBe('InvalidFilter');
    expect(await code(c.DescribeJobs!({ Filters: [{ Name: 'color', Values: ['red'] }] }))).toBe('InvalidFilter');
    expect(await code(c.DescribeJobs!({ Limit: 101 }))).toBe('InvalidParameterValue');
    expect(await code(c.DescribeJobs!({ JobIds: [JobId], Filters: [{ Name: 'zone', Values: ['ap-guangzhou-2'] }] }))).toBe('InvalidParameter.InvalidParameterCombination');
    expect(await code(c.DescribeJobs!({ Filters: [{ Name: 'job-state', Values: ['DONE'] }] }))).toBe('InvalidParameterValue.InvalidFilter');
  });

});

describe('protocol', () => {
  it('rejects unknown keys, wrong keys and answers with the trace id', async () => {
    const e1 = await errorOf(makeClient(srv.port, { secretId: 'AKIDunknown', secretKey: 'x' }).DescribeJobs!({}));
    expect(e1.code).toBe('AuthFailure.SecretIdNotFound');
    const e2 = await errorOf(makeClient(srv.port, { secretKey: 'wrong-key' }).DescribeJobs!({}));
    expect(e2.code).toBe('AuthFailure.SignatureFailure');
    expect(e2.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e2.traceId).toMatch(/^[0-9a-f-]{36}$/);
    const e3 = await errorOf(makeClient(srv.port, { secretKey: 'wrong-key', signMethod: 'HmacSHA256' }).DescribeJobs!({}));
    expect(e3.code).toBe('AuthFailure.SignatureFailure');
    // localhost endpoint: the Node SDK's service name becomes "localhost:PORT"
    const r = await makeClient(srv.port, { host: 'localhost' }).DescribeJobs!({});
    expect(r.TotalCount).toBeGreaterThanOrEqual(0);
    // no region: the server's default region
    expect((await makeClient(srv.port, { region: null }).DescribeJobs!({})).TotalCount).toBeGreaterThanOrEqual(0);
  });

  it('answers raw protocol mistakes in the envelope with HTTP 200', async () => {
    const unsigned = await rawPost(srv.port, '{}', { 'content-type': 'application/json', 'x-tc-action': 'DescribeJobs', 'x-tc-traceid': 'trace-1' });
    expect(unsigned.status).toBe(200);
    expect(unsigned.json.Response.Error.Code).toBe('AuthFailure.InvalidAuthorization');
    expect(unsigned.json.Response.RequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(unsigned.headers['x-tc-traceid']).toBe('trace-1');
    const skip = await rawPost(srv.port, '{}', { 'content-type': 'application/json', authorization: 'SKIP' });
    expect(skip.json.Response.Error.Code).toBe('AuthFailure.InvalidAuthorization');
    const big = await rawPost(srv.port, Buffer.alloc(11 * 1024 * 1024, 0x20), { 'content-type': 'application/json' });
    expect(big.status).toBe(200);
    expect(big.json.Response.Error.Code).toBe('RequestSizeLimitExceeded');
  });

  it('rejects unknown actions and versions (signed requests)', async () => {
    // the SDK's generic request() signs whatever action it is given
    const cl = c as unknown as { request: (action: string, req: object) => Promise<unknown> };
    expect(await code(cl.request('CreateCpmComputeEnv', {}))).toBe('InvalidAction');
    const v = srv.client() as unknown as { apiVersion: string; DescribeJobs: (r: object) => Promise<unknown> };
    v.apiVersion = '2020-01-01';
    expect(await code(v.DescribeJobs({}))).toBe('NoSuchVersion');
  });

  it('limits the request rate per action, account and region (intl table)', async () => {
    const limited = await startServer({ rateLimits: 'intl', dataDir: tempDir() });
    try {
      const lc = limited.client();
      const t0 = Date.now();
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => lc.DescribeJobs!({})));
      const seconds = (Date.now() - t0) / 1000;
      const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
      // DescribeJobs: 2/s on the intl table, a burst of 2; a slow machine may refill a token or two
      // while the 8 requests are answered
      const ok = codes.filter((x) => x === 'ok').length;
      expect(ok).toBeGreaterThanOrEqual(2);
      expect(ok).toBeLessThanOrEqual(2 + Math.floor(seconds * 2));
      expect(codes.filter((x) => x === 'RequestLimitExceeded')).toHaveLength(8 - ok);
      // another region has its own bucket
      await limited.client({ region: 'ap-shanghai' }).DescribeJobs!({});
    } finally {
      await limited.stop();
    }
  });
});
