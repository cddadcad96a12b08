// TerminateJob (and TerminateTaskInstance) end to end through the official SDK against a real server:
// every instance they end says StateReason `Terminated`, whatever it was doing (running, starting,
// waiting without a row, waiting for a dependence, a retry or a node, FAILED_INTERRUPTED, killed for
// its Timeout, or ended with its logs still being shipped); instances that had finished keep their own
// reason. Every instance of every task is read (DescribeTask pages of up to 1000, with Offset).
//
// Some windows are held open deterministically with named pipes instead of timing:
// - "starting": the attempt's stdout log file is a FIFO, so the launched child blocks opening it and the
//   instance stays STARTING until the test opens the FIFO (needs the C shim launcher, hence --launcher
//   shim: the portable launcher opens log files in the server process itself);
// - "finishing": the RedirectLocalInfo target's temporary file is a FIFO, so shipping the logs of an
//   attempt that has exited blocks until the test opens it; the RedirectInfo object, shipped first,
//   shows that the exit has been seen.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, simpleJob, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;
const scratch = sharedDir('openbatch-terminate-');
// a few log shipments are held at once (each holds a thread of the pool)
const ENV = { UV_THREADPOOL_SIZE: '16' };

beforeAll(async () => {
  srv = await startServer({ slots: 2, args: ['--launcher', 'shim'], env: ENV });
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});

type Inst = Record<string, any>;
const BY_JOB = 'FAILED Terminated (terminated by TerminateJob)';
const BY_INSTANCE = 'FAILED Terminated (terminated by TerminateTaskInstance)';
const SUCCEEDED = 'SUCCEED  (successful)';
const line = (i: Inst) => `${i.TaskInstanceState} ${i.StateReason} (${i.StateDetailedReason})`;
const done = (s: string) => ['SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'].includes(s);

/** Every instance view of a task, read in pages of 1000. */
async function views(cl: BatchClient, JobId: string, TaskName: string): Promise<Inst[]> {
  const out: Inst[] = [];
  let total = 1;
  for (let Offset = 0; Offset < total; Offset += 1000) {
    const r = await cl.DescribeTask!({ JobId, TaskName, Offset, Limit: 1000 });
    total = r.TaskInstanceTotalCount;
    out.push(...r.TaskInstanceSet);
  }
  expect(out.map((i) => i.TaskInstanceIndex)).toEqual([...Array(total).keys()]);
  return out;
}

/** Check `state reason (detail)` of every instance of a task against `want(index)`. Soft: every
 *  mismatch of a test is reported, not only the first. */
async function expectInstances(JobId: string, TaskName: string, want: (index: number) => string, cl = c): Promise<Inst[]> {
  const set = await views(cl, JobId, TaskName);
  const wrong = set.filter((i) => line(i) !== want(i.TaskInstanceIndex)).map((i) => `${TaskName}[${i.TaskInstanceIndex}] ${line(i)}`);
  expect.soft({ wrong: wrong.length, first: wrong.slice(0, 10) }).toEqual({ wrong: 0, first: [] });
  return set;
}

/** Once nothing is left to do: the job, every TaskView and every DescribeTask say FAILED (or what
 *  `tasks` says for a task). */
async function expectJobFailed(JobId: string, o: { client?: BatchClient; tasks?: Record<string, string> } = {}): Promise<Record<string, any>> {
  const cl = o.client ?? c;
  const job = await waitFor(async () => {
    const r = await cl.DescribeJob!({ JobId });
    return done(r.JobState) && r.NextAction === '' ? r : undefined;
  }, `job ${JobId} to end`);
  const want = (name: string) => `${name} ${o.tasks?.[name] ?? 'FAILED'}`;
  expect.soft(job.JobState).toBe('FAILED');
  expect.soft(job.TaskSet.map((t: Inst) => `${t.TaskName} ${t.TaskState}`)).toEqual(job.TaskSet.map((t: Inst) => want(t.TaskName)));
  for (const t of job.TaskSet) {
    expect.soft(`${t.TaskName} ${(await cl.DescribeTask!({ JobId, TaskName: t.TaskName, Limit: 1 })).TaskState}`).toBe(want(t.TaskName));
  }
  expect.soft((await cl.DescribeJobs!({ JobIds: [JobId] })).JobSet[0].JobState).toBe('FAILED');
  return job;
}

async function metrics(JobId: string): Promise<Record<string, number>> {
  return (await c.DescribeJob!({ JobId })).TaskInstanceMetrics;
}

async function instanceOf(JobId: string, TaskName: string, index: number): Promise<Inst> {
  return (await c.DescribeTask!({ JobId, TaskName, Offset: index, Limit: 1 })).TaskInstanceSet[0];
}

/** Holds the log shipping of attempts that have exited (see the top of the file). */
class ShippingHold {
  private readonly fifo: string;
  private readonly objects: string;
  constructor(private readonly name: string, server = srv) {
    const dir = path.join(server.dataDir, 'local', 'hold', name);
    fs.mkdirSync(dir, { recursive: true });
    this.fifo = path.join(dir, `.out.log.tmp-${server.proc.pid}`);
    execFileSync('mkfifo', [this.fifo]);
    this.objects = path.join(server.dataDir, 'objects', 'hold', name);
  }
  /** Task fields that make the task's log shipping go through the hold. */
  get fields(): Record<string, unknown> {
    return {
      RedirectInfo: { StdoutRedirectPath: `cos://hold/${this.name}/`, StdoutRedirectFileName: '${BATCH_TASK_NAME}.${BATCH_TASK_INSTANCE_INDEX}.log' },
      RedirectLocalInfo: { StdoutLocalPath: `/hold/${this.name}/`, StdoutLocalFileName: 'out.log' },
    };
  }
  /** The exit of this instance's attempt has been seen and its logs are being shipped. */
  async held(task: string, index: number): Promise<void> {
    await waitFor(async () => fs.existsSync(path.join(this.objects, `${task}.${index}.log`)), `${task}[${index}] to exit and be held`);
  }
  release(): void {
    if (!fs.existsSync(this.fifo)) return;
    const fd = fs.openSync(this.fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    fs.rmSync(this.fifo, { force: true });
    fs.closeSync(fd);
  }
}

function dagJob(tasks: Record<string, [string, number]>, deps: [string, string][]) {
  return {
    Placement: { Zone: 'ap-guangzhou-3' },
    Job: {
      JobName: 'dag',
      Tasks: Object.entries(tasks).map(([name, [cmd, n]]) => ({
        TaskName: name,
        TaskInstanceNum: n,
        Application: { DeliveryForm: 'LOCAL', Command: cmd },
        ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } },
      })),
      Dependences: deps.map(([s, e]) => ({ StartTask: s, EndTask: e })),
    },
  };
}

function task(name: string, command: string, over: Record<string, unknown> = {}) {
  return {
    TaskName: name, TaskInstanceNum: 1, Application: { DeliveryForm: 'LOCAL', Command: command },
    ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } }, ...over,
  };
}

function jobOf(...tasks: Record<string, unknown>[]) {
  return { Placement: { Zone: 'ap-guangzhou-3' }, Job: { JobName: 'terminate', Tasks: tasks } };
}

describe('TerminateJob says Terminated on every instance it ends', () => {
  it('running instances and waiting ones without a row; finished instances keep their own reason', async () => {
    const cmd = 'case $BATCH_TASK_INSTANCE_INDEX in 0) exit 0;; 1) exit 3;; *) sleep 30;; esac';
    const { JobId } = await c.SubmitJob!(simpleJob(cmd, { TaskInstanceNum: 1500 }));
    await waitFor(async () => {
      const m = await metrics(JobId);
      return m.SucceedCount === 1 && m.FailedCount === 1 && m.RunningCount === 2;
    }, '0 and 1 finished, 2 and 3 running');
    await c.TerminateJob!({ JobId });
    const job = await expectJobFailed(JobId);
    expect(job.TaskInstanceMetrics).toMatchObject({ SucceedCount: 1, FailedCount: 1499 });
    const set = await expectInstances(JobId, 'A', (i) =>
      i === 0 ? SUCCEEDED : i === 1 ? 'FAILED Exit code 3 (the application exited with code 3)' : BY_JOB);
    expect(set.slice(0, 4).map((i) => i.LaunchTime !== null)).toEqual([true, true, true, true]);
    expect(set.slice(4).every((i) => i.LaunchTime === null && i.EndTime !== null)).toBe(true);
  });

  it('downstream tasks waiting for their dependence, upstream running', async () => {
    const { JobId } = await c.SubmitJob!(dagJob({ A: ['sleep 30', 1], B: ['true', 3], C: ['true', 2] }, [['A', 'B'], ['B', 'C']]));
    await waitFor(async () => {
      const j = await c.DescribeJob!({ JobId });
      const st = Object.fromEntries(j.TaskSet.map((t: Inst) => [t.TaskName, t.TaskState]));
      return st.A === 'RUNNING' && st.B === 'PENDING' && st.C === 'PENDING';
    }, 'A running, B and C pending');
    expect((await instanceOf(JobId, 'C', 0)).StateReason).toBe('WaitingForDependence');
    await c.TerminateJob!({ JobId });
    await expectJobFailed(JobId);
    for (const t of ['A', 'B', 'C']) await expectInstances(JobId, t, () => BY_JOB);
  });

  it('an instance waiting for its retry', async () => {
    const go = path.join(scratch, 'retry.go');
    const low = await c.SubmitJob!(simpleJob(`while [ ! -f ${go} ]; do sleep 0.05; done; exit 1`, { MaxRetryCount: 2 }, { Priority: 1 }));
    await waitFor(async () => (await metrics(low.JobId)).RunningCount === 1, 'the first attempt running');
    // a higher-priority job takes the other slot now, and the freed slot once the first attempt fails
    const high = await c.SubmitJob!(simpleJob('sleep 30', { TaskInstanceNum: 2 }, { Priority: 90 }));
    await waitFor(async () => (await metrics(high.JobId)).RunningCount === 1, 'the high job in the other slot');
    fs.writeFileSync(go, '');
    const waiting = await waitFor(async () => {
      const i = await instanceOf(low.JobId, 'A', 0);
      return i.TaskInstanceState === 'RUNNABLE' && (await metrics(high.JobId)).RunningCount === 2 ? i : undefined;
    }, 'the retry waiting for a slot');
    expect(waiting.StateDetailedReason).toContain('retry 1 of 2');
    await c.TerminateJob!({ JobId: low.JobId });
    await expectJobFailed(low.JobId);
    await expectInstances(low.JobId, 'A', () => BY_JOB);
    await c.TerminateJob!({ JobId: high.JobId });
    await expectJobFailed(high.JobId);
    await expectInstances(high.JobId, 'A', () => BY_JOB);
  });

  it('FAILED_INTERRUPTED instances (FailedAction INTERRUPT), beside running and succeeded ones', async () => {
    const cmd = 'case $BATCH_TASK_INSTANCE_INDEX in 0) exit 1;; 1) sleep 30;; *) exit 0;; esac';
    const mixed = await c.SubmitJob!(simpleJob(cmd, { TaskInstanceNum: 3, FailedAction: 'INTERRUPT' }));
    await waitFor(async () => {
      const m = await metrics(mixed.JobId);
      return m.FailedInterruptedCount === 1 && m.RunningCount === 1 && m.SucceedCount === 1;
    }, 'one interrupted, one running, one succeeded');
    await c.TerminateJob!({ JobId: mixed.JobId });
    await expectJobFailed(mixed.JobId);
    await expectInstances(mixed.JobId, 'A', (i) => (i === 2 ? SUCCEEDED : BY_JOB));

    // a job that is all FAILED_INTERRUPTED (and no longer in the scheduler's memory)
    const all = await c.SubmitJob!(simpleJob('exit 1', { TaskInstanceNum: 3, FailedAction: 'INTERRUPT' }));
    expect((await waitJobDone(c, all.JobId)).JobState).toBe('FAILED_INTERRUPTED');
    await c.TerminateJob!({ JobId: all.JobId });
    await expectJobFailed(all.JobId);
    await expectInstances(all.JobId, 'A', () => BY_JOB);
  });

  it('an attempt still STARTING', async () => {
    const go = path.join(scratch, 'starting.go');
    const { JobId } = await c.SubmitJob!(dagJob({ U: [`while [ ! -f ${go} ]; do sleep 0.05; done`, 1], D: ['sleep 30', 3] }, [['U', 'D']]));
    // D[0]'s first attempt blocks opening its stdout log
    const logDir = path.join(srv.dataDir, 'logs', JobId, 'D');
    fs.mkdirSync(logDir, { recursive: true });
    const fifo = path.join(logDir, '0.1.stdout');
    execFileSync('mkfifo', [fifo]);
    let reader: number | null = null;
    try {
      fs.writeFileSync(go, '');
      await waitFor(async () => {
        const set = await views(c, JobId, 'D');
        return set[0]!.TaskInstanceState === 'STARTING' && set[1]!.TaskInstanceState === 'RUNNING';
      }, 'D[0] starting and D[1] running');
      await c.TerminateJob!({ JobId });
      reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); // D[0] goes on starting
      await expectJobFailed(JobId, { tasks: { U: 'SUCCEED' } });
      await expectInstances(JobId, 'U', () => SUCCEEDED);
      const set = await expectInstances(JobId, 'D', () => BY_JOB);
      expect(set.map((i) => i.LaunchTime !== null)).toEqual([true, true, false]);
    } finally {
      if (reader === null) reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      fs.closeSync(reader);
    }
  });

  it('attempts whose exit was seen but not recorded yet (logs being shipped): no retry, no FAILED_INTERRUPTED', async () => {
    const hold = new ShippingHold('finishing');
    const count = path.join(scratch, 'finishing-runs');
    try {
      const { JobId } = await c.SubmitJob!(jobOf(
        task('R', `echo x >> ${count}; exit 1`, { MaxRetryCount: 1, ...hold.fields }),
        task('I', 'exit 1', { FailedAction: 'INTERRUPT', ...hold.fields }),
      ));
      await hold.held('R', 0);
      await hold.held('I', 0);
      // both still count as running (their ends wait for the shipping); on a shared store the write of
      // their RUNNING may land a moment after the shipping began
      await waitFor(async () => (await c.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 2, 'both attempts to show RUNNING while held');
      await c.TerminateJob!({ JobId });
      // their ends are not recorded yet: the job is still stopping them
      expect.soft((await c.DescribeJob!({ JobId })).NextAction).toBe('TERMINATING');
      hold.release();
      await expectJobFailed(JobId);
      await expectInstances(JobId, 'R', () => BY_JOB);
      await expectInstances(JobId, 'I', () => BY_JOB);
      expect.soft(fs.readFileSync(count, 'utf8')).toBe('x\n'); // not retried
    } finally {
      hold.release();
    }
  });

  it('an attempt killed for its Timeout (or that exited 0) whose end is not recorded yet', async () => {
    // COMPAT: the instance still shows RUNNING, so TerminateJob ends it: Terminated wins over Timeout
    const hold = new ShippingHold('timeout');
    try {
      const { JobId } = await c.SubmitJob!(jobOf(
        task('T', 'sleep 30', { Timeout: 1, ...hold.fields }),
        task('S', 'exit 0', hold.fields),
      ));
      await hold.held('T', 0);
      await hold.held('S', 0);
      await c.TerminateJob!({ JobId });
      hold.release();
      await expectJobFailed(JobId);
      await expectInstances(JobId, 'T', () => BY_JOB);
      await expectInstances(JobId, 'S', () => BY_JOB);
    } finally {
      hold.release();
    }
  });

  it('an attempt whose Timeout passes while TerminateJob is stopping it', async () => {
    // the attempt ignores SIGTERM: it ends with the SIGKILL that follows, after its Timeout; its end is
    // held so that the outcome does not depend on which came first on a slow machine
    const hold = new ShippingHold('grace');
    try {
      const { JobId } = await c.SubmitJob!(simpleJob("trap '' TERM; sleep 30", { Timeout: 2, ...hold.fields }));
      await waitFor(async () => (await metrics(JobId)).RunningCount === 1, 'running');
      await c.TerminateJob!({ JobId });
      await hold.held('A', 0);
      expect.soft((await c.DescribeJob!({ JobId })).NextAction).toBe('TERMINATING');
      hold.release();
      await expectJobFailed(JobId);
      await expectInstances(JobId, 'A', () => BY_JOB);
    } finally {
      hold.release();
    }
  });
});

describe('TerminateJob on a named compute environment', () => {
  async function oneNodeEnv(): Promise<string> {
    const { EnvId } = await c.CreateComputeEnv!({
      ComputeEnv: { EnvName: 'term', EnvType: 'MANAGED', DesiredComputeNodeCount: 1, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
      Placement: { Zone: 'ap-guangzhou-3' },
    });
    await waitFor(async () => (await c.DescribeComputeEnv!({ EnvId })).ComputeNodeMetrics.RunningCount === 1, 'the node running');
    return EnvId;
  }
  const envJob = (EnvId: string, cmd: string, n: number, over: Record<string, unknown> = {}) =>
    simpleJob(cmd, { TaskInstanceNum: n, ComputeEnv: undefined, EnvId, ...over });

  it('instances waiting for a node and the one running on it', async () => {
    const EnvId = await oneNodeEnv();
    const { JobId } = await c.SubmitJob!(envJob(EnvId, 'sleep 30', 5));
    await waitFor(async () => {
      const m = await metrics(JobId);
      return m.RunningCount === 1 && m.RunnableCount === 4 && (await instanceOf(JobId, 'A', 4)).StateReason === 'WaitingForComputeNode';
    }, 'one running, four waiting for the node');
    await c.TerminateJob!({ JobId });
    await expectJobFailed(JobId);
    await expectInstances(JobId, 'A', () => BY_JOB);
  });

  it('an attempt whose node was terminated (it would wait for another node) and whose end is not recorded yet', async () => {
    const EnvId = await oneNodeEnv();
    const hold = new ShippingHold('node');
    try {
      const { JobId } = await c.SubmitJob!(envJob(EnvId, 'sleep 30', 2, hold.fields));
      await waitFor(async () => (await metrics(JobId)).RunningCount === 1, 'running on the node');
      const node = (await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet[0];
      await c.TerminateComputeNode!({ EnvId, ComputeNodeId: node.ComputeNodeId });
      await hold.held('A', 0);
      await c.TerminateJob!({ JobId });
      hold.release();
      await waitFor(async () => (await instanceOf(JobId, 'A', 0)).TaskInstanceState !== 'RUNNING', 'A[0] to end');
      await expectInstances(JobId, 'A', () => BY_JOB);
      await expectJobFailed(JobId);
    } finally {
      hold.release();
    }
  });
});

describe('TerminateTaskInstance says Terminated on the instance it ends', () => {
  it('running, waiting without a row, FAILED_INTERRUPTED, and exited with its end not recorded yet', async () => {
    const hold = new ShippingHold('instance');
    try {
      const { JobId } = await c.SubmitJob!(jobOf(
        task('I', 'exit 1', { FailedAction: 'INTERRUPT' }),
        task('H', 'exit 1', { MaxRetryCount: 1, ...hold.fields }),
        task('A', 'sleep 30', { TaskInstanceNum: 5 }),
      ));
      await hold.held('H', 0);
      await waitFor(async () => {
        const m = await metrics(JobId);
        return m.FailedInterruptedCount === 1 && (await instanceOf(JobId, 'A', 0)).TaskInstanceState === 'RUNNING';
      }, 'I[0] interrupted, A[0] running');
      for (const [TaskName, TaskInstanceIndex] of [['I', 0], ['H', 0], ['A', 0], ['A', 4]] as const) {
        await c.TerminateTaskInstance!({ JobId, TaskName, TaskInstanceIndex });
      }
      hold.release();
      await waitFor(async () => {
        const h = await instanceOf(JobId, 'H', 0);
        const a = await instanceOf(JobId, 'A', 0);
        return h.TaskInstanceState !== 'RUNNING' && h.TaskInstanceState !== 'RUNNABLE' && a.TaskInstanceState === 'FAILED';
      }, 'H[0] and A[0] to end');
      await expectInstances(JobId, 'I', () => BY_INSTANCE);
      await expectInstances(JobId, 'H', () => BY_INSTANCE);
      const a = await views(c, JobId, 'A');
      expect([line(a[0]!), line(a[4]!)]).toEqual([BY_INSTANCE, BY_INSTANCE]);
      // TerminateJob ends the rest and leaves what TerminateTaskInstance ended as it was
      await c.TerminateJob!({ JobId });
      await expectJobFailed(JobId);
      await expectInstances(JobId, 'A', (i) => (i === 0 || i === 4 ? BY_INSTANCE : BY_JOB));
      await expectInstances(JobId, 'H', () => BY_INSTANCE);
    } finally {
      hold.release();
    }
  });
});

describe('TerminateJob across a restart', () => {
  it('attempts still being stopped when the service stops say Terminated after it starts again', async () => {
    const dataDir = tempDir();
    let s = await startServer({ dataDir, slots: 2 });
    try {
      let cl = s.client();
      // the attempts ignore SIGTERM: they are still running when the service stops
      const { JobId } = await cl.SubmitJob!(simpleJob("trap '' TERM; sleep 20", { TaskInstanceNum: 3 }));
      await waitFor(async () => (await cl.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 2, 'two running');
      await cl.TerminateJob!({ JobId });
      await s.stop();
      s = await startServer({ dataDir, slots: 2 });
      cl = s.client();
      await expectJobFailed(JobId, { client: cl });
      await expectInstances(JobId, 'A', () => BY_JOB, cl);
    } finally {
      await s.stop();
    }
  });
});
