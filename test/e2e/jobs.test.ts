// What a job does (batch-api.md §d), end to end through the official SDK against a real server:
// environment, DAG rules, retries, timeouts, FailedAction, MaxConcurrentNum, priorities,
// TerminateJob / TerminateTaskInstance / RetryJobs / DeleteJob, idempotency, roll-ups.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, sharedDir, simpleJob, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;
const scratch = sharedDir('openbatch-scratch-');

beforeAll(async () => {
  srv = await startServer({ slots: 4 });
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});

const decode = (s: string | null) => (s === null ? null : Buffer.from(s.replace(/^data:[^,]*,/, ''), 'base64').toString('utf8'));

async function instances(jobId: string, task = 'A'): Promise<Record<string, any>[]> {
  const r = await c.DescribeTask!({ JobId: jobId, TaskName: task, Limit: 1000 });
  return r.TaskInstanceSet;
}

function dagJob(command: Record<string, string>, deps: [string, string][], job: Record<string, unknown> = {}) {
  return {
    Placement: { Zone: 'ap-guangzhou-3' },
    Job: {
      JobName: 'dag',
      Tasks: Object.entries(command).map(([name, cmd]) => ({
        TaskName: name,
        TaskInstanceNum: 1,
        Application: { DeliveryForm: 'LOCAL', Command: cmd },
        ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } },
      })),
      Dependences: deps.map(([s, e]) => ({ StartTask: s, EndTask: e })),
      ...job,
    },
  };
}

describe('running instances', () => {
  it('gives each instance the BATCH_* variables, EnvVars, its own working directory and captures both streams', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('echo "$BATCH_JOB_ID $BATCH_TASK_NAME $BATCH_TASK_INSTANCE_NUM $BATCH_TASK_INSTANCE_INDEX $GREETING"; pwd; echo oops >&2', {
      TaskInstanceNum: 3,
      EnvVars: [{ Name: 'GREETING', Value: 'hi there' }],
    }));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('SUCCEED');
    const logs = await c.DescribeTaskLogs!({ JobId, TaskName: 'A', Offset: 0, Limit: 10 });
    expect(logs.TotalCount).toBe(3);
    expect(logs.TaskInstanceLogSet).toHaveLength(3);
    const dirs = new Set<string>();
    for (const l of logs.TaskInstanceLogSet) {
      const [first, dir] = decode(l.StdoutLog)!.trim().split('\n');
      expect(first).toBe(`${JobId} A 3 ${l.TaskInstanceIndex} hi there`);
      dirs.add(dir!);
      expect(decode(l.StderrLog)).toBe('oops\n');
      expect(l.StdoutRedirectPath).toBe('');
    }
    expect(dirs.size).toBe(3);
    // explicit indexes, Limit
    const two = await c.DescribeTaskLogs!({ JobId, TaskName: 'A', TaskInstanceIndexes: [2, 0] });
    expect(two.TaskInstanceLogSet.map((l: { TaskInstanceIndex: number }) => l.TaskInstanceIndex)).toEqual([2, 0]);
    const one = await c.DescribeTaskLogs!({ JobId, TaskName: 'A', Limit: 1 });
    expect(one.TaskInstanceLogSet).toHaveLength(1);
  });

  it('keeps only the last 2048 bytes of a log', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob("i=0; while [ $i -lt 300 ]; do echo \"line $i of the log\"; i=$((i+1)); done"));
    await waitJobDone(c, JobId);
    const l = (await c.DescribeTaskLogs!({ JobId, TaskName: 'A' })).TaskInstanceLogSet[0];
    const text = decode(l.StdoutLog)!;
    expect(Buffer.byteLength(text)).toBe(2048);
    expect(text.endsWith('line 299 of the log\n')).toBe(true);
  });

  it('records exit codes and fails the job with a reason', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('exit $((BATCH_TASK_INSTANCE_INDEX + 3))', { TaskInstanceNum: 2 }));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('FAILED');
    expect(job.StateReason).toContain('A');
    const set = await instances(JobId);
    expect(set.map((i) => [i.TaskInstanceIndex, i.TaskInstanceState, i.ExitCode, i.StateReason])).toEqual([
      [0, 'FAILED', 3, 'Exit code 3'],
      [1, 'FAILED', 4, 'Exit code 4'],
    ]);
    expect(job.TaskInstanceMetrics.FailedCount).toBe(2);
    expect(job.TaskMetrics.FailedCount).toBe(1);
  });

  it('retries a failing instance MaxRetryCount times and keeps every attempt\'s log', async () => {
    const marker = path.join(scratch, 'retry-count');
    // fails twice, then succeeds
    const cmd = `echo x >> ${marker}; n=$(wc -l < ${marker}); echo "attempt $n"; [ "$n" -ge 3 ]`;
    const { JobId } = await c.SubmitJob!(simpleJob(cmd, {
      MaxRetryCount: 2,
      RedirectInfo: { StdoutRedirectPath: 'cos://retry-logs/out/', StdoutRedirectFileName: '${BATCH_TASK_NAME}-${BATCH_TASK_INSTANCE_INDEX}.txt' },
      RedirectLocalInfo: { StdoutLocalPath: '/var/log/batch/', StdoutLocalFileName: 'o.${BATCH_JOB_ID}' },
    }));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('SUCCEED');
    expect(fs.readFileSync(marker, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
    // the redirect targets hold the latest attempt; earlier attempts are kept beside it
    const obj = path.join(srv.dataDir, 'objects', 'retry-logs', 'out', 'A-0.txt');
    expect(fs.readFileSync(obj, 'utf8')).toBe('attempt 3\n');
    expect(fs.readFileSync(`${obj}.1`, 'utf8')).toBe('attempt 1\n');
    expect(fs.readFileSync(`${obj}.2`, 'utf8')).toBe('attempt 2\n');
    const local = path.join(srv.dataDir, 'local', 'var', 'log', 'batch', `o.${JobId}`);
    expect(fs.readFileSync(local, 'utf8')).toBe('attempt 3\n');
    expect(fs.readFileSync(`${local}.2`, 'utf8')).toBe('attempt 2\n');
    const view = (await instances(JobId))[0]!;
    expect(view.RedirectInfo).toEqual({
      StdoutRedirectPath: 'cos://retry-logs/out/', StderrRedirectPath: '',
      StdoutRedirectFileName: 'A-0.txt', StderrRedirectFileName: `stderr.${JobId}.A.0.log`,
    });
    const l = (await c.DescribeTaskLogs!({ JobId, TaskName: 'A' })).TaskInstanceLogSet[0];
    expect(decode(l.StdoutLog)).toBe('attempt 3\n');
    for (const a of [1, 2, 3]) {
      const f = path.join(srv.dataDir, 'logs', JobId, 'A', `0.${a}.stdout`);
      expect(fs.readFileSync(f, 'utf8')).toBe(`attempt ${a}\n`);
    }
  });

  it('fails an instance that runs longer than Timeout, killing its whole process tree', async () => {
    const pidFile = path.join(scratch, 'timeout-child.pid');
    const { JobId } = await c.SubmitJob!(simpleJob(`sleep 300 & echo $! > ${pidFile}; wait`, { Timeout: 1 }));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('FAILED');
    const [i] = await instances(JobId);
    expect(i!.StateReason).toBe('Timeout');
    expect(i!.StateDetailedReason).toContain('Timeout (1 s)');
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    await waitFor(async () => !isAlive(child), 'the grandchild to be killed', 5000);
  });

  it('ends with FAILED_INTERRUPTED when FailedAction is INTERRUPT; TerminateJob then makes it FAILED', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('exit 1', { FailedAction: 'INTERRUPT' }));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('FAILED_INTERRUPTED');
    expect((await instances(JobId))[0]!.TaskInstanceState).toBe('FAILED_INTERRUPTED');
    expect((await errorOf(c.DeleteJob!({ JobId }))).code).toBe('ResourceInUse.Job');
    await c.TerminateJob!({ JobId });
    const after = await c.DescribeJob!({ JobId });
    expect(after.JobState).toBe('FAILED');
    expect((await instances(JobId))[0]!.TaskInstanceState).toBe('FAILED');
    await c.DeleteJob!({ JobId });
  });

  it('never runs more than MaxConcurrentNum instances of a task at once, and says why the rest wait', async () => {
    const dir = path.join(scratch, 'conc');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o1777); // tasks run as another user: they need its permission to write here
    const cmd = `echo start >> ${dir}/log; sleep 0.5; echo end >> ${dir}/log`;
    const { JobId } = await c.SubmitJob!(simpleJob(cmd, { TaskInstanceNum: 6, MaxConcurrentNum: 2 }));
    const waiting = await waitFor(async () => {
      const set = await instances(JobId);
      return set.find((i) => i.TaskInstanceState === 'RUNNABLE' && i.StateReason === 'MaxConcurrentNumReached');
    }, 'a waiting instance with a reason');
    expect(waiting.StateDetailedReason).toContain('MaxConcurrentNum is 2');
    await waitJobDone(c, JobId);
    let cur = 0, max = 0;
    for (const line of fs.readFileSync(`${dir}/log`, 'utf8').trim().split('\n')) {
      cur += line === 'start' ? 1 : -1;
      max = Math.max(max, cur);
    }
    expect(max).toBeLessThanOrEqual(2);
    expect(max).toBe(2);
  });
});

describe('waiting for capacity', () => {
  it('says why every queued task waits while the local slots are full, and runs them in order as slots free', async () => {
    const one = await startServer({ slots: 1 });
    try {
      const c1 = one.client();
      const dir = path.join(scratch, 'capacity');
      fs.mkdirSync(dir);
      fs.chmodSync(dir, 0o1777);
      // the first job holds the only slot until the checks are done (a fixed sleep can end first on a busy machine)
      const first = await c1.SubmitJob!(simpleJob(`while [ ! -f ${dir}/go ]; do sleep 0.05; done`));
      const queued: string[] = [];
      for (let k = 0; k < 4; k++) queued.push((await c1.SubmitJob!(simpleJob(`echo ${k} >> ${dir}/order`))).JobId);
      await waitFor(async () => (await c1.DescribeJob!({ JobId: first.JobId })).JobState === 'RUNNING', 'the first job to run');
      // every queued task, not only those the scheduler touched last, carries the capacity reason
      for (const JobId of queued) {
        // the scheduler takes each job in (SUBMITTED → RUNNABLE) in its own time; the slot stays taken meanwhile
        const inst = await waitFor(async () => {
          const i = (await c1.DescribeTask!({ JobId, TaskName: 'A' })).TaskInstanceSet[0];
          return i.TaskInstanceState === 'SUBMITTED' ? undefined : i;
        }, `job ${JobId} to be taken in`);
        expect(inst.TaskInstanceState).toBe('RUNNABLE');
        expect(inst.StateReason).toBe('WaitingForCapacity');
        expect(inst.StateDetailedReason).toContain('all 1 local slots are busy');
      }
      fs.writeFileSync(`${dir}/go`, '');
      for (const JobId of queued) expect((await waitJobDone(c1, JobId)).JobState).toBe('SUCCEED');
      expect(fs.readFileSync(`${dir}/order`, 'utf8')).toBe('0\n1\n2\n3\n');
    } finally {
      await one.stop();
    }
  });
});

describe('DAG', () => {
  it('runs tasks in dependency order (A → B, A → C, B+C → D)', async () => {
    const order = path.join(scratch, 'dag-order');
    const cmd = (n: string) => `echo ${n} >> ${order}`;
    const { JobId } = await c.SubmitJob!(dagJob(
      { D: cmd('D'), C: cmd('C'), B: cmd('B'), A: cmd('A') },
      [['A', 'B'], ['A', 'C'], ['B', 'D'], ['C', 'D']],
    ));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('SUCCEED');
    const seq = fs.readFileSync(order, 'utf8').trim().split('\n');
    expect(seq[0]).toBe('A');
    expect(seq[3]).toBe('D');
    expect(job.DependenceSet).toEqual([
      { StartTask: 'A', EndTask: 'B' }, { StartTask: 'A', EndTask: 'C' },
      { StartTask: 'B', EndTask: 'D' }, { StartTask: 'C', EndTask: 'D' },
    ]);
    expect(job.TaskSet.map((t: { TaskName: string }) => t.TaskName)).toEqual(['D', 'C', 'B', 'A']);
    expect(job.TaskMetrics.SucceedCount).toBe(4);
  });

  it('shows PENDING with the dependency as reason while upstream runs', async () => {
    const go = path.join(scratch, 'dag-go');
    const { JobId } = await c.SubmitJob!(dagJob({ A: `while [ ! -f ${go} ]; do sleep 0.05; done`, B: 'true' }, [['A', 'B']]));
    const b = await waitFor(async () => {
      const r = await c.DescribeTask!({ JobId, TaskName: 'B' });
      return r.TaskState === 'PENDING' ? r : undefined;
    }, 'B pending');
    fs.writeFileSync(go, '');
    expect(b.TaskInstanceSet[0].TaskInstanceState).toBe('PENDING');
    expect(b.TaskInstanceSet[0].StateReason).toBe('WaitingForDependence');
    expect(b.TaskInstanceSet[0].StateDetailedReason).toContain('task A');
    expect(b.TaskInstanceMetrics.PendingCount).toBe(1);
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
  });

  it('fails downstream tasks that can never run, with a reason, and the job FAILED', async () => {
    const { JobId } = await c.SubmitJob!(dagJob({ A: 'exit 2', B: 'true', C: 'true' }, [['A', 'B'], ['B', 'C']]));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('FAILED');
    const states = Object.fromEntries(job.TaskSet.map((t: { TaskName: string; TaskState: string }) => [t.TaskName, t.TaskState]));
    expect(states).toEqual({ A: 'FAILED', B: 'FAILED', C: 'FAILED' });
    const [b] = await instances(JobId, 'B');
    expect(b!.StateReason).toBe('DependenceFailed');
    expect(b!.StateDetailedReason).toContain('upstream task A');
    expect(b!.LaunchTime).toBeNull();
    expect(b!.ExitCode).toBeNull();
    expect(b!.EndTime).not.toBeNull();
  });

  it('PRE_TASK_FINISHED runs downstream after a failure; PRE_TASK_AT_LEAST_PARTLY_SUCCEED needs one success', async () => {
    const fin = await c.SubmitJob!(dagJob({ A: 'exit 1', B: 'true' }, [['A', 'B']], { TaskExecutionDependOn: 'PRE_TASK_FINISHED' }));
    const j1 = await waitJobDone(c, fin.JobId);
    expect(j1.TaskSet.find((t: { TaskName: string }) => t.TaskName === 'B').TaskState).toBe('SUCCEED');
    expect(j1.JobState).toBe('FAILED');

    const partly = {
      Placement: { Zone: 'ap-guangzhou-3' },
      Job: {
        TaskExecutionDependOn: 'PRE_TASK_AT_LEAST_PARTLY_SUCCEED',
        Tasks: [
          { TaskName: 'A', TaskInstanceNum: 2, Application: { DeliveryForm: 'LOCAL', Command: 'exit $BATCH_TASK_INSTANCE_INDEX' }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } },
          { TaskName: 'B', Application: { DeliveryForm: 'LOCAL', Command: 'true' }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } },
        ],
        Dependences: [{ StartTask: 'A', EndTask: 'B' }],
      },
    };
    const j2 = await waitJobDone(c, (await c.SubmitJob!(partly)).JobId);
    expect(j2.TaskSet.find((t: { TaskName: string }) => t.TaskName === 'B').TaskState).toBe('SUCCEED');
  });
});

describe('terminate, retry, delete', () => {
  it('TerminateJob fails waiting and running instances and shows NextAction meanwhile', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('sleep 60', { TaskInstanceNum: 8 }));
    await waitFor(async () => (await c.DescribeJob!({ JobId })).JobState === 'RUNNING', 'running');
    await c.TerminateJob!({ JobId });
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('FAILED');
    expect(job.NextAction).toBe('');
    const set = await instances(JobId);
    expect(set.every((i) => i.TaskInstanceState === 'FAILED' && i.StateReason === 'Terminated')).toBe(true);
    expect(set.filter((i) => i.LaunchTime === null).length).toBeGreaterThan(0); // some never ran
    expect(job.TaskInstanceMetrics.FailedCount).toBe(8);
  });

  it('TerminateJob on a SUCCEED job changes nothing', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('true'));
    await waitJobDone(c, JobId);
    await c.TerminateJob!({ JobId });
    expect((await c.DescribeJob!({ JobId })).JobState).toBe('SUCCEED');
  });

  it('TerminateTaskInstance fails one instance; the others go on', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('sleep 1', { TaskInstanceNum: 3, MaxConcurrentNum: 1 }));
    await c.TerminateTaskInstance!({ JobId, TaskName: 'A', TaskInstanceIndex: 2 });
    const job = await waitJobDone(c, JobId);
    const set = await instances(JobId);
    expect(set.map((i) => i.TaskInstanceState)).toEqual(['SUCCEED', 'SUCCEED', 'FAILED']);
    expect(set[2]!.StateDetailedReason).toContain('TerminateTaskInstance');
    expect(job.JobState).toBe('FAILED');
    // on a finished instance it is a no-op
    await c.TerminateTaskInstance!({ JobId, TaskName: 'A', TaskInstanceIndex: 0 });
    expect((await instances(JobId))[0]!.TaskInstanceState).toBe('SUCCEED');
    expect((await errorOf(c.TerminateTaskInstance!({ JobId, TaskName: 'A', TaskInstanceIndex: 3 }))).code).toBe('ResourceNotFound.TaskInstance');
    expect((await errorOf(c.TerminateTaskInstance!({ JobId, TaskName: 'Z', TaskInstanceIndex: 0 }))).code).toBe('ResourceNotFound.TaskInstance');
  });

  it('RetryJobs re-runs only the failed instances of a FAILED job, in DAG order, keeping earlier logs', async () => {
    const flag = path.join(scratch, 'retry-ok');
    const cmd = `echo run; [ $BATCH_TASK_INSTANCE_INDEX -eq 0 ] || [ -f ${flag} ]`;
    const req = {
      Placement: { Zone: 'ap-guangzhou-3' },
      Job: {
        Tasks: [
          { TaskName: 'A', TaskInstanceNum: 3, Application: { DeliveryForm: 'LOCAL', Command: cmd }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } },
          { TaskName: 'B', Application: { DeliveryForm: 'LOCAL', Command: 'echo B' }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } },
        ],
        Dependences: [{ StartTask: 'A', EndTask: 'B' }],
      },
    };
    const { JobId } = await c.SubmitJob!(req);
    const first = await waitJobDone(c, JobId);
    expect(first.JobState).toBe('FAILED');
    expect((await instances(JobId)).map((i) => i.TaskInstanceState)).toEqual(['SUCCEED', 'FAILED', 'FAILED']);
    expect((await instances(JobId, 'B'))[0]!.TaskInstanceState).toBe('FAILED');
    const before = (await instances(JobId))[0]!;

    fs.writeFileSync(flag, '');
    await c.RetryJobs!({ JobIds: [JobId] });
    const second = await waitJobDone(c, JobId);
    expect(second.JobState).toBe('SUCCEED');
    const after = await instances(JobId);
    expect(after.map((i) => i.TaskInstanceState)).toEqual(['SUCCEED', 'SUCCEED', 'SUCCEED']);
    expect(after[0]).toEqual(before); // the succeeded instance did not run again
    expect(fs.existsSync(path.join(srv.dataDir, 'logs', JobId, 'A', '1.1.stdout'))).toBe(true);
    expect(fs.existsSync(path.join(srv.dataDir, 'logs', JobId, 'A', '1.2.stdout'))).toBe(true);
    expect((await instances(JobId, 'B'))[0]!.TaskInstanceState).toBe('SUCCEED');
    // only FAILED jobs can be retried
    expect((await errorOf(c.RetryJobs!({ JobIds: [JobId] }))).code).toBe('UnsupportedOperation');
  });

  it('DeleteJob refuses unfinished jobs, deletes finished ones, and then the job is gone', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('sleep 30'));
    await waitFor(async () => (await c.DescribeJob!({ JobId })).JobState === 'RUNNING', 'running');
    const e = await errorOf(c.DeleteJob!({ JobId }));
    expect(e.code).toBe('ResourceInUse.Job');
    await c.TerminateJob!({ JobId });
    await waitJobDone(c, JobId);
    await c.DeleteJob!({ JobId });
    expect((await errorOf(c.DescribeJob!({ JobId }))).code).toBe('ResourceNotFound.Job');
    expect((await errorOf(c.DescribeJobSubmitInfo!({ JobId }))).code).toBe('ResourceNotFound.Job');
    expect((await errorOf(c.DescribeTask!({ JobId, TaskName: 'A' }))).code).toBe('ResourceNotFound.Task');
    expect((await errorOf(c.DeleteJob!({ JobId }))).code).toBe('ResourceNotFound.Job');
    await waitFor(async () => !fs.existsSync(path.join(srv.dataDir, 'logs', JobId)), 'log files to go');
  });
});

describe('describing jobs', () => {
  it('DescribeJobSubmitInfo echoes the definition with defaults, secrets masked', async () => {
    const req = simpleJob('true', {
      TaskInstanceNum: 2,
      Authentications: [{ Scene: 'COS', SecretId: 'AKIDsecretsecretsecret1234', SecretKey: 'supersecretkeyvalue0987' }],
    }, { JobDescription: 'demo job', Priority: 7, Tags: [{ Key: 'team', Value: 'hpc' }] });
    const { JobId } = await c.SubmitJob!(req);
    const info = await c.DescribeJobSubmitInfo!({ JobId });
    expect(info.JobId).toBe(JobId);
    expect(info.JobName).toBe('test');
    expect(info.JobDescription).toBe('demo job');
    expect(info.Priority).toBe(7);
    expect(info.Tags).toEqual([{ Key: 'team', Value: 'hpc' }]);
    expect(info.Dependences).toEqual([]);
    const t = info.Tasks[0];
    expect(t.TaskName).toBe('A');
    expect(t.TaskInstanceNum).toBe(2);
    expect(t.MaxRetryCount).toBe(0);
    expect(t.FailedAction).toBe('TERMINATE');
    expect(t.Timeout).toBe(86400);
    expect(t.ComputeEnv).toEqual({ EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } });
    expect(t.Application).toEqual({ DeliveryForm: 'LOCAL', Command: 'true' });
    const a = t.Authentications[0];
    expect(a.Scene).toBe('COS');
    expect(a.SecretId).not.toContain('secretsecret');
    expect(a.SecretKey).not.toContain('secretkey');
    expect(a.SecretKey).toMatch(/\*{4,}/);
  });

  it('DescribeJobs pages and filters (job-id, job-name, job-state, zone, tag-key, tag-value, tag:<key>)', async () => {
    const mk = (name: string, zone: string, tags: { Key: string; Value: string }[]) =>
      c.SubmitJob!({ ...simpleJob('true', {}, { JobName: name, Tags: tags }), Placement: { Zone: zone } });
    const a = await mk('list-a', 'ap-guangzhou-4', [{ Key: 'proj', Value: 'x' }]);
    const b = await mk('list-b', 'ap-guangzhou-6', [{ Key: 'proj', Value: 'y' }, { Key: 'owner', Value: 'me' }]);
    await waitJobDone(c, a.JobId);
    await waitJobDone(c, b.JobId);
    const ids = (r: { JobSet: { JobId: string }[] }) => r.JobSet.map((j) => j.JobId).sort();
    const q = (Filters: unknown) => c.DescribeJobs!({ Filters, Limit: 100 });
    expect(ids(await q([{ Name: 'job-name', Values: ['list-a', 'list-b'] }]))).toEqual([a.JobId, b.JobId].sort());
    expect(ids(await q([{ Name: 'job-id', Values: [a.JobId] }]))).toEqual([a.JobId]);
    expect(ids(await q([{ Name: 'zone', Values: ['ap-guangzhou-6'] }, { Name: 'job-name', Values: ['list-a', 'list-b'] }]))).toEqual([b.JobId]);
    expect(ids(await q([{ Name: 'tag-key', Values: ['owner'] }]))).toEqual([b.JobId]);
    expect(ids(await q([{ Name: 'tag-value', Values: ['x'] }]))).toEqual([a.JobId]);
    expect(ids(await q([{ Name: 'tag:proj', Values: ['y'] }]))).toEqual([b.JobId]);
    expect(ids(await q([{ Name: 'job-state', Values: ['SUCCEED'] }, { Name: 'job-name', Values: ['list-b'] }]))).toEqual([b.JobId]);
    const byIds = await c.DescribeJobs!({ JobIds: [a.JobId, b.JobId] });
    expect(byIds.TotalCount).toBe(2);
    const view = byIds.JobSet.find((j: { JobId: string }) => j.JobId === b.JobId);
    expect(view).toMatchObject({
      JobName: 'list-b', JobState: 'SUCCEED', Priority: 0, Placement: { Zone: 'ap-guangzhou-6', ProjectId: 0 },
      Tags: [{ Key: 'proj', Value: 'y' }, { Key: 'owner', Value: 'me' }],
      TaskMetrics: { SucceedCount: 1, FailedCount: 0, RunningCount: 0 },
    });
    // paging: TotalCount is the full count whatever the page
    const all = await c.DescribeJobs!({});
    const page = await c.DescribeJobs!({ Offset: 1, Limit: 1 });
    expect(page.TotalCount).toBe(all.TotalCount);
    expect(page.JobSet).toHaveLength(1);
    expect(all.JobSet.length).toBe(Math.min(20, all.TotalCount));
    expect(page.JobSet[0].JobId).toBe(all.JobSet[1].JobId);
  });

  it('DescribeTask pages instances (default 100, max 1000) with TotalCount the full match count', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('exit $((BATCH_TASK_INSTANCE_INDEX % 3 == 0))', { TaskInstanceNum: 150 }));
    await waitJobDone(c, JobId, 120_000);
    const d = await c.DescribeTask!({ JobId, TaskName: 'A' });
    expect(d.TaskInstanceSet).toHaveLength(100);
    expect(d.TaskInstanceTotalCount).toBe(150);
    const p2 = await c.DescribeTask!({ JobId, TaskName: 'A', Offset: 140, Limit: 1000 });
    expect(p2.TaskInstanceSet.map((i: { TaskInstanceIndex: number }) => i.TaskInstanceIndex)).toEqual([140, 141, 142, 143, 144, 145, 146, 147, 148, 149]);
    const failed = await c.DescribeTask!({ JobId, TaskName: 'A', Filters: [{ Name: 'task-instance-state', Values: ['FAILED'] }], Offset: 10, Limit: 5 });
    expect(failed.TaskInstanceTotalCount).toBe(50);
    expect(failed.TaskInstanceSet.map((i: { TaskInstanceIndex: number }) => i.TaskInstanceIndex)).toEqual([30, 33, 36, 39, 42]);
    expect(d.TaskInstanceMetrics).toMatchObject({ FailedCount: 50, SucceedCount: 100 });
    const both = await c.DescribeTask!({ JobId, TaskName: 'A', Filters: [{ Name: 'task-instance-state', Values: ['FAILED', 'SUCCEED'] }], Limit: 1 });
    expect(both.TaskInstanceTotalCount).toBe(150);
    expect((await errorOf(c.DescribeTask!({ JobId, TaskName: 'A', Limit: 1001 }))).code).toBe('InvalidParameterValue');
  });

  it('rolls task and job metrics up from instances while a job runs', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('sleep 2', { TaskInstanceNum: 10 }));
    const j = await waitFor(async () => {
      const r = await c.DescribeJob!({ JobId });
      return r.TaskInstanceMetrics.RunningCount > 0 ? r : undefined;
    }, 'running instances');
    expect(j.JobState).toBe('RUNNING');
    const m = j.TaskInstanceMetrics;
    expect(Object.values(m as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(10);
    expect(m.RunningCount + m.StartingCount).toBeLessThanOrEqual(4); // 4 local slots
    const t = await c.DescribeTask!({ JobId, TaskName: 'A' });
    const byState: Record<string, number> = {};
    for (const i of t.TaskInstanceSet) byState[i.TaskInstanceState] = (byState[i.TaskInstanceState] ?? 0) + 1;
    expect(t.TaskInstanceMetrics.RunnableCount).toBe(byState.RUNNABLE ?? 0);
    const runnable = t.TaskInstanceSet.find((i: { TaskInstanceState: string }) => i.TaskInstanceState === 'RUNNABLE');
    if (runnable) expect(runnable.StateDetailedReason).toMatch(/slot/);
    // a running instance names the node of the anonymous environment that runs it; waiting ones none
    for (const i of t.TaskInstanceSet) {
      if (i.TaskInstanceState === 'RUNNING') expect(i.ComputeNodeInstanceId).toMatch(/^ins-[a-z0-9]{8}$/);
      if (i.TaskInstanceState === 'RUNNABLE') expect(i.ComputeNodeInstanceId).toBeNull();
    }
    await c.TerminateJob!({ JobId });
    await waitJobDone(c, JobId);
  });

  it('ClientToken makes SubmitJob idempotent', async () => {
    const req = { ...simpleJob('true'), ClientToken: 'token-abc-123' };
    const a = await c.SubmitJob!(req);
    const b = await c.SubmitJob!(req);
    expect(b.JobId).toBe(a.JobId);
    const other = await c.SubmitJob!({ ...req, ClientToken: 'token-abc-124' });
    expect(other.JobId).not.toBe(a.JobId);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('priorities', () => {
  it('runs the waiting instances of a higher-priority job first', async () => {
    const one = await startServer({ slots: 1 });
    try {
      const c1 = one.client();
      const order = path.join(scratch, 'prio-order');
      const go = path.join(scratch, 'prio-go');
      const low = await c1.SubmitJob!(simpleJob(`while [ ! -f ${go} ]; do sleep 0.05; done; echo low-$BATCH_TASK_INSTANCE_INDEX >> ${order}`, { TaskInstanceNum: 4 }, { Priority: 1 }));
      await waitFor(async () => (await c1.DescribeJob!({ JobId: low.JobId })).TaskInstanceMetrics.RunningCount === 1, 'low running');
      const high = await c1.SubmitJob!(simpleJob(`echo high-$BATCH_TASK_INSTANCE_INDEX >> ${order}`, { TaskInstanceNum: 2 }, { Priority: 90 }));
      await waitFor(async () => (await c1.DescribeJob!({ JobId: high.JobId })).JobState === 'RUNNABLE', 'high waiting for the slot');
      fs.writeFileSync(go, '');
      await waitJobDone(c1, low.JobId);
      await waitJobDone(c1, high.JobId);
      const seq = fs.readFileSync(order, 'utf8').trim().split('\n');
      // the low job's first instance was already running; the high job's instances come next
      expect(seq.slice(0, 3)).toEqual(['low-0', 'high-0', 'high-1']);
      expect(seq).toHaveLength(6);
    } finally {
      await one.stop();
    }
  });
});
