// Durability: jobs survive SIGTERM and kill -9 of the server; attempts keep running while it is down
// and are re-adopted (or collected, if they ended meanwhile); lost attempts are re-run or failed with
// a reason. Also: /healthz, graceful stop, generated credentials, more accounts and their isolation.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorOf, healthz, makeClient, sharedDir, simpleJob, startServer, tempDir, TEST_STORE, waitFor, waitJobDone } from '../helpers/server.ts';

const lines = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

describe('restarts', () => {
  it('keeps every job through kill -9; running attempts finish once and are collected after restart', async () => {
    const dataDir = tempDir();
    const marks = sharedDir('openbatch-marks-');
    let srv = await startServer({ dataDir, slots: 3 });
    let c = srv.client();
    // 6 instances, 3 slots: 3 run while the server dies, 3 wait
    const cmd = `echo "start $BATCH_TASK_INSTANCE_INDEX" >> ${marks}/runs; sleep 1.5; echo out-$BATCH_TASK_INSTANCE_INDEX`;
    const done = await c.SubmitJob!(simpleJob('true'));
    await waitJobDone(c, done.JobId);
    const { JobId } = await c.SubmitJob!(simpleJob(cmd, { TaskInstanceNum: 6 }));
    await waitFor(async () => (await c.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 3, '3 running');
    await srv.kill9();
    // the attempts go on without the server
    const statuses = () => fs.readdirSync(path.join(dataDir, 'attempts')).filter((f) => f.endsWith('.status'));
    await waitFor(async () => lines(`${marks}/runs`).length === 3 && statuses().length === 3, 'attempts to end while the server is down', 10_000);

    srv = await startServer({ dataDir, slots: 3 });
    c = srv.client();
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('SUCCEED');
    expect((await c.DescribeJob!({ JobId: done.JobId })).JobState).toBe('SUCCEED');
    // every instance ran exactly once
    expect(lines(`${marks}/runs`).sort()).toEqual([0, 1, 2, 3, 4, 5].map((i) => `start ${i}`));
    const logs = await c.DescribeTaskLogs!({ JobId, TaskName: 'A', Limit: 10 });
    for (const l of logs.TaskInstanceLogSet) {
      expect(Buffer.from(l.StdoutLog.split(',')[1], 'base64').toString()).toBe(`out-${l.TaskInstanceIndex}\n`);
    }
    const t = await c.DescribeTask!({ JobId, TaskName: 'A' });
    expect(t.TaskInstanceSet.every((i: { ExitCode: number }) => i.ExitCode === 0)).toBe(true);
    await srv.stop();
  });

  it('re-adopts attempts still running after a restart and watches them to the end', async () => {
    const dataDir = tempDir();
    let srv = await startServer({ dataDir });
    let c = srv.client();
    const go = path.join(sharedDir('openbatch-go-'), 'go');
    const { JobId } = await c.SubmitJob!(simpleJob(`while [ ! -f ${go} ]; do sleep 0.05; done; echo survived`, { TaskInstanceNum: 2 }));
    await waitFor(async () => (await c.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 2, 'running');
    await srv.kill9();
    srv = await startServer({ dataDir });
    c = srv.client();
    const during = await c.DescribeJob!({ JobId });
    expect(during.JobState).toBe('RUNNING');
    expect(during.TaskInstanceMetrics.RunningCount).toBe(2);
    fs.writeFileSync(go, '');
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('SUCCEED');
    const l = await c.DescribeTaskLogs!({ JobId, TaskName: 'A' });
    expect(Buffer.from(l.TaskInstanceLogSet[1].StdoutLog.split(',')[1], 'base64').toString()).toBe('survived\n');
    await srv.stop();
  });

  it('re-runs a lost attempt when retries remain, else fails it with ServiceRestarted', async () => {
    const dataDir = tempDir();
    const marks = sharedDir('openbatch-marks-');
    let srv = await startServer({ dataDir });
    let c = srv.client();
    const retry = await c.SubmitJob!(simpleJob(`echo x >> ${marks}/retry; sleep 30`, { MaxRetryCount: 1, Timeout: 4, TaskName: 'R' }));
    const noRetry = await c.SubmitJob!(simpleJob('sleep 30', { TaskName: 'N' }));
    await waitFor(async () => {
      const a = await c.DescribeJob!({ JobId: retry.JobId });
      const b = await c.DescribeJob!({ JobId: noRetry.JobId });
      return a.TaskInstanceMetrics.RunningCount === 1 && b.TaskInstanceMetrics.RunningCount === 1;
    }, 'both running');
    // lose the attempts as if the machine had rebooted: the server, whatever supervises the attempts
    // (the shim, or the per-attempt sh supervisors), and the attempts themselves all die at once
    const shims = childrenOf(srv.proc.pid!).filter((p) => cmdline(p)[0]?.includes('openbatch-shim'));
    const attempts = processesWithEnv([`BATCH_JOB_ID=${retry.JobId}`, `BATCH_JOB_ID=${noRetry.JobId}`]);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    for (const pid of shims) process.kill(pid, 'SIGKILL');
    await srv.kill9();
    for (const pid of attempts) process.kill(-pid, 'SIGKILL');
    expect(fs.readdirSync(path.join(dataDir, 'attempts')).filter((f) => f.endsWith('.status'))).toEqual([]); // no status was recorded

    srv = await startServer({ dataDir });
    c = srv.client();
    const n = await waitJobDone(c, noRetry.JobId);
    expect(n.JobState).toBe('FAILED');
    const [ni] = (await c.DescribeTask!({ JobId: noRetry.JobId, TaskName: 'N' })).TaskInstanceSet;
    expect(ni.StateReason).toBe('ServiceRestarted');
    // the other one was re-run (and then timed out after 4 s): two real executions
    const r = await waitJobDone(c, retry.JobId);
    expect(r.JobState).toBe('FAILED');
    expect(lines(`${marks}/retry`)).toHaveLength(2);
    await srv.stop();
  });

  it('stops cleanly on SIGTERM (a second SIGTERM is harmless); /healthz answers while up', async () => {
    const dataDir = tempDir();
    const srv = await startServer({ dataDir });
    expect(await healthz(srv.port)).toBe(200);
    const c = srv.client();
    const { JobId } = await c.SubmitJob!(simpleJob('sleep 1; echo after-term'));
    await waitFor(async () => (await c.DescribeJob!({ JobId })).JobState === 'RUNNING', 'running');
    srv.proc.kill('SIGTERM');
    srv.proc.kill('SIGTERM');
    const started = Date.now();
    const code = await srv.stop();
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    const again = await startServer({ dataDir });
    const job = await waitJobDone(again.client(), JobId);
    expect(job.JobState).toBe('SUCCEED');
    await again.stop();
  });
});

describe('startup problems', () => {
  it('refuses to start with a one-line reason when the port is taken or the data dir is not a directory', async () => {
    const srv = await startServer();
    try {
      await expect(startServer({ args: ['--port', String(srv.port)] })).rejects.toThrow(/openbatch serve: cannot listen on 127\.0\.0\.1:\d+: the address is already in use/);
      const file = path.join(tempDir(), 'a-file');
      fs.writeFileSync(file, '');
      await expect(startServer({ dataDir: path.join(file, 'data') })).rejects.toThrow(/openbatch serve: the data directory .* is not a directory/);
      // the first server is unharmed
      expect(await healthz(srv.port)).toBe(200);
    } finally {
      await srv.stop();
    }
  });

  it('refuses a second server on a data dir in use, and frees the data dir when the first dies', async () => {
    const dataDir = tempDir();
    const first = await startServer({ dataDir });
    const { JobId } = await first.client().SubmitJob!(simpleJob('true'));
    await expect(startServer({ dataDir })).rejects.toThrow(
      new RegExp(`openbatch serve: another OpenBatch server \\(pid ${first.proc.pid}\\) is using the data directory`));
    expect(await healthz(first.port)).toBe(200);
    await first.kill9(); // the kernel drops the lock with the process
    const second = await startServer({ dataDir });
    expect((await waitJobDone(second.client(), JobId)).JobState).toBe('SUCCEED');
    await second.stop();
    expect(fs.existsSync(path.join(dataDir, 'server.pid'))).toBe(false);
  });
});

describe('accounts', () => {
  it('generates and keeps the default key pair when none is configured, printing it once', async () => {
    const dataDir = tempDir();
    const env = { OPENBATCH_SECRET_ID: '', OPENBATCH_SECRET_KEY: '' };
    if (TEST_STORE === 'postgres') {
      // a key pair generated by one replica would be its own: a shared store refuses to start without one
      await expect(startServer({ dataDir, env })).rejects.toThrow(/a shared store .* needs the same key pairs on every replica: set OPENBATCH_SECRET_ID and OPENBATCH_SECRET_KEY/);
      return;
    }
    const first = await startServer({ dataDir, env });
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    expect(fs.statSync(path.join(dataDir, 'credentials.json')).mode & 0o777).toBe(0o600);
    await waitFor(async () => first.output().includes(creds.secretKey), 'the key pair to be printed', 5000);
    const r = await makeClient(first.port, { secretId: creds.secretId, secretKey: creds.secretKey }).DescribeJobs!({});
    expect(r.TotalCount).toBe(0);
    await first.stop();
    const second = await startServer({ dataDir, env });
    await waitFor(async () => second.output().includes(creds.secretId), 'the SecretId to be printed', 5000);
    expect(second.output()).not.toContain(creds.secretKey);
    await makeClient(second.port, { secretId: creds.secretId, secretKey: creds.secretKey }).DescribeJobs!({});
    await second.stop();
  });

  it("isolates accounts: another account's job, env and template IDs answer ResourceNotFound", async () => {
    const dataDir = tempDir();
    const cfg = path.join(dataDir, 'config.json');
    fs.writeFileSync(cfg, JSON.stringify({ accounts: [{ id: 'team-b', secretId: 'AKIDteamB0000000000000000000', secretKey: 'team-b-secret-key-000000000' }] }));
    const srv = await startServer({ dataDir, args: ['--config', cfg] });
    const a = srv.client();
    const b = srv.client({ secretId: 'AKIDteamB0000000000000000000', secretKey: 'team-b-secret-key-000000000' });
    const { JobId } = await a.SubmitJob!(simpleJob('exit 1'));
    await waitJobDone(a, JobId);
    for (const [action, req] of [
      ['DescribeJob', { JobId }], ['DescribeJobSubmitInfo', { JobId }], ['TerminateJob', { JobId }], ['DeleteJob', { JobId }],
      ['RetryJobs', { JobIds: [JobId] }], ['DescribeTaskLogs', { JobId, TaskName: 'A' }],
      ['TerminateTaskInstance', { JobId, TaskName: 'A', TaskInstanceIndex: 0 }],
    ] as const) {
      expect([action, (await errorOf(b[action]!(req))).code]).toEqual([action, 'ResourceNotFound.Job']);
    }
    expect((await errorOf(b.DescribeTask!({ JobId, TaskName: 'A' }))).code).toBe('ResourceNotFound.Task');
    expect((await b.DescribeJobs!({})).TotalCount).toBe(0);
    expect((await b.DescribeJobs!({ JobIds: [JobId] })).TotalCount).toBe(0);
    // B's own job is B's
    const mine = await b.SubmitJob!(simpleJob('true'));
    expect((await waitJobDone(b, mine.JobId)).JobState).toBe('SUCCEED');
    expect((await errorOf(a.DescribeJob!({ JobId: mine.JobId }))).code).toBe('ResourceNotFound.Job');
    // and A's job is untouched
    expect((await a.DescribeJob!({ JobId })).JobState).toBe('FAILED');

    // A's compute environment and task template are invisible to B, whatever the action
    const { EnvId } = await a.CreateComputeEnv!({ ComputeEnv: { EnvName: 'a-env', DesiredComputeNodeCount: 1, EnvData: { InstanceType: 'S1.SMALL1' } }, Placement: { Zone: 'ap-guangzhou-2' } });
    const nodeId = (await waitFor(async () => {
      const d = await a.DescribeComputeEnv!({ EnvId });
      return d.ComputeNodeSet[0]?.ComputeNodeId as string | undefined;
    }, 'a node')) as string;
    for (const [action, req] of [
      ['DescribeComputeEnv', { EnvId }], ['DescribeComputeEnvCreateInfo', { EnvId }], ['DescribeComputeEnvActivities', { EnvId }],
      ['ModifyComputeEnv', { EnvId, DesiredComputeNodeCount: 0 }], ['DeleteComputeEnv', { EnvId }],
      ['AttachInstances', { EnvId, Instances: [{ InstanceId: 'ins-aaaaaaaa' }] }], ['DetachInstances', { EnvId, InstanceIds: ['ins-aaaaaaaa'] }],
      ['TerminateComputeNode', { EnvId, ComputeNodeId: nodeId }], ['TerminateComputeNodes', { EnvId, ComputeNodeIds: [nodeId] }],
    ] as const) {
      expect([action, (await errorOf(b[action]!(req))).code]).toEqual([action, 'ResourceNotFound.ComputeEnv']);
    }
    expect((await b.DescribeComputeEnvs!({ EnvIds: [EnvId] })).TotalCount).toBe(0);
    expect((await b.DescribeComputeEnvCreateInfos!({ EnvIds: [EnvId] })).TotalCount).toBe(0);
    expect((await errorOf(b.SubmitJob!(simpleJob('true', { ComputeEnv: undefined, EnvId })))).code).toBe('ResourceNotFound.ComputeEnv');
    const { TaskTemplateId } = await a.CreateTaskTemplate!({ TaskTemplateName: 'a-tpl', TaskTemplateInfo: simpleJob('true').Job.Tasks[0] });
    expect((await b.DescribeTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] })).TotalCount).toBe(0);
    expect((await errorOf(b.ModifyTaskTemplate!({ TaskTemplateId, TaskTemplateName: 'x' }))).code).toBe('ResourceNotFound.TaskTemplate');
    expect((await errorOf(b.DeleteTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] }))).code).toBe('ResourceNotFound.TaskTemplate');
    expect((await errorOf(b.DescribeJobMonitorData!({ JobId, TaskName: 'A', TaskInstanceIndex: 0, MetricName: 'CpuUsage' }))).code).toBe('ResourceNotFound.Job');
    // nothing of A's changed
    expect((await a.DescribeComputeEnv!({ EnvId })).DesiredComputeNodeCount).toBe(1);
    expect((await a.DescribeTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] })).TaskTemplateSet[0].TaskTemplateName).toBe('a-tpl');
    await srv.stop();
  });
});

function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function pids(): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

function childrenOf(parent: number): number[] {
  return pids().filter((p) => {
    try {
      return /\nPPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] === String(parent);
    } catch {
      return false;
    }
  });
}

/** Processes (process-group leaders) whose environment has one of the given entries. */
function processesWithEnv(entries: string[]): number[] {
  return pids().filter((p) => {
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      return pgid === p && entries.some((e) => env.includes(e));
    } catch {
      return false;
    }
  });
}
