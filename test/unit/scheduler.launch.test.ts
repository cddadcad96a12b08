// The scheduler's launches, on a real store with a scripted executor and a manual clock: what the
// group given to the executor carries, how an attempt's start and end are recorded, the handle
// released once the end is written, and launches that fail.
import { describe, expect, it } from 'vitest';
import { key, makeRig, rigsClosedAfterEach, type Rig } from '../support/scheduler-rig.ts';

const rig = rigsClosedAfterEach();

describe('scheduler: launch groups', () => {
  it('launches one group per task with the BATCH_* variables, the EnvVars, the limits and one instance per index', async () => {
    const r = await rig({ capacity: { slots: 8 } });
    const jobId = await r.submit([
      {
        TaskName: 'A', TaskInstanceNum: 3, Timeout: 77, MaxConcurrentNum: 5,
        Application: { DeliveryForm: 'LOCAL', Command: 'echo "$GREETING" > out' },
        ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL2', ImageId: 'img-bd78fy2t' } },
        // BATCH_JOB_ID given as an EnvVar loses to the scheduler's own
        EnvVars: [{ Name: 'GREETING', Value: 'hello world' }, { Name: 'BATCH_JOB_ID', Value: 'forged' }],
      },
    ]);
    expect(r.executor.launches).toHaveLength(1);
    const g = r.executor.launches[0]!;
    expect(g).toEqual({
      jobId, taskName: 'A', account: 'acc', command: 'echo "$GREETING" > out',
      env: { GREETING: 'hello world', BATCH_JOB_ID: jobId, BATCH_TASK_NAME: 'A', BATCH_TASK_INSTANCE_NUM: '3' },
      resources: { cpus: 1, memoryBytes: 2 * 2 ** 30 },
      limits: { timeoutSec: 77, maxConcurrent: 5 },
      instances: [0, 1, 2].map((index) => ({ key: key(jobId, 'A', index), index, attempt: 1, resources: undefined })),
    });
    // the executor adds BATCH_TASK_INSTANCE_INDEX itself, per instance
    expect(g.env).not.toHaveProperty('BATCH_TASK_INSTANCE_INDEX');
    for (const i of [0, 1, 2]) {
      const inst = await r.store.getInstance(jobId, 'A', i);
      expect(inst).toMatchObject({ state: 'RUNNING', attempt: 1, handle: r.executor.handleOf(key(jobId, 'A', i)), launchTime: r.clock.now(), runningTime: r.clock.now() });
    }
  });

  it('launches a group per task of a job, with its own variables', async () => {
    const r = await rig({ capacity: { slots: 8 } });
    const jobId = await r.submit([
      { TaskName: 'A', TaskInstanceNum: 2, EnvVars: [{ Name: 'X', Value: '1' }] },
      { TaskName: 'B', TaskInstanceNum: 1, EnvVars: [{ Name: 'Y', Value: '2' }] },
    ]);
    expect(r.executor.launches.map((g) => [g.taskName, g.env.X ?? g.env.Y, g.env.BATCH_TASK_INSTANCE_NUM, g.instances.map((i) => i.index)]))
      .toEqual([['A', '1', '2', [0, 1]], ['B', '2', '1', [0]]]);
    expect(r.executor.launches.every((g) => g.env.BATCH_JOB_ID === jobId)).toBe(true);
  });

  it('holds an instance STARTING until the executor says it started, then RUNNING, then SUCCEED; the handle is released after the end is written', async () => {
    const r = await rig({ onLaunch: () => 'hold' });
    const jobId = await r.submit([{ TaskName: 'A' }]);
    const k = key(jobId, 'A', 0);
    expect(r.executor.held()).toEqual([k]);
    expect(await r.line(jobId, 'A', 0)).toBe('STARTING  (starting)');
    expect((await r.store.getInstance(jobId, 'A', 0))?.handle).toBeNull();
    expect(await r.jobState(jobId)).toBe('STARTING');

    r.clock.advance(2000);
    r.executor.start(k, { ok: true, handle: { executor: 'scripted', slurmJob: 4711, array: [0] } });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('RUNNING  (running)');
    const running = await r.store.getInstance(jobId, 'A', 0);
    expect(running?.handle).toEqual({ executor: 'scripted', slurmJob: 4711, array: [0] });
    expect(running?.runningTime).toBe(running!.launchTime! + 2000);
    expect(await r.jobState(jobId)).toBe('RUNNING');
    expect(r.scheduler.runningAttempts().map((a) => a.key)).toEqual([k]);

    r.executor.logs.write({ jobId, taskName: 'A', index: 0, attempt: 1 }, 'stdout', 'hi there\n');
    r.clock.advance(3000);
    r.executor.exit(k, { exitCode: 0 });
    expect(r.executor.releases).toEqual([]); // not before the end is written
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('SUCCEED  (successful)');
    const done = await r.store.getInstance(jobId, 'A', 0);
    expect(done).toMatchObject({ exitCode: 0, handle: null, endTime: running!.runningTime! + 3000 });
    expect(await r.store.attemptsOf(jobId, 'A', 0)).toEqual([expect.objectContaining({ attempt: 1, exitCode: 0, signal: null, reason: '' })]);
    expect(r.executor.releases).toEqual([{ key: k, handle: { executor: 'scripted', slurmJob: 4711, array: [0] } }]);
    expect(await r.jobState(jobId)).toBe('SUCCEED');
    // the logs of the attempt are the executor's
    const logs = await r.jobs.describeTaskLogs({ account: 'acc', region: 'ap-guangzhou' }, { JobId: jobId, TaskName: 'A' });
    expect(Buffer.from(logs.TaskInstanceLogSet[0]!.StdoutLog!.split(',')[1]!, 'base64').toString()).toBe('hi there\n');
  });

  it('delivers ends of several attempts in one batch', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 3 }]);
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 0 });
    r.executor.exit(key(jobId, 'A', 2), { exitCode: 0 });
    r.executor.exit(key(jobId, 'A', 1), { exitCode: 4 });
    await r.settle();
    expect(r.executor.delivered).toHaveLength(1);
    expect([await r.line(jobId, 'A', 0), await r.line(jobId, 'A', 1), await r.line(jobId, 'A', 2)]).toEqual([
      'SUCCEED  (successful)', 'FAILED Exit code 4 (the application exited with code 4)', 'SUCCEED  (successful)',
    ]);
    expect(await r.jobState(jobId)).toBe('FAILED');
    expect((await r.store.getJobById(jobId))?.stateReason).toBe('task A did not succeed');
  });
});

describe('scheduler: launch failures', () => {
  it('records an instance that could not start as FAILED LaunchFailed, without an end from the executor', async () => {
    const r = await rig({ onLaunch: (i) => (i.index === 1 ? { ok: false, error: 'exec format error' } : { ok: true }) });
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 2 }]);
    expect(await r.line(jobId, 'A', 1)).toBe('FAILED LaunchFailed (the attempt could not be started: exec format error)');
    expect(await r.store.getInstance(jobId, 'A', 1)).toMatchObject({ exitCode: null, attempt: 1, handle: null });
    expect(await r.store.attemptsOf(jobId, 'A', 1)).toEqual([
      expect.objectContaining({ attempt: 1, exitCode: null, signal: null, reason: 'the attempt could not be started: exec format error' }),
    ]);
    // nothing to release: it never had a handle
    expect(r.executor.releases).toEqual([]);
    expect(await r.line(jobId, 'A', 0)).toBe('RUNNING  (running)');
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 0 });
    await r.settle();
    expect(await r.jobState(jobId)).toBe('FAILED');
  });

  it('retries a failed launch while MaxRetryCount allows, then fails with LaunchFailed', async () => {
    let n = 0;
    const r = await rig({ onLaunch: () => ({ ok: false, error: `no node (${++n})` }) });
    const jobId = await r.submit([{ TaskName: 'A', MaxRetryCount: 2 }]);
    expect(r.executor.launchedKeys()).toEqual([1, 2, 3].map((a) => key(jobId, 'A', 0, a)));
    expect(await r.line(jobId, 'A', 0)).toBe('FAILED LaunchFailed (the attempt could not be started: no node (3))');
    expect((await r.store.attemptsOf(jobId, 'A', 0)).map((a) => a.reason)).toEqual([1, 2, 3].map((i) => `the attempt could not be started: no node (${i})`));
  });

  it('fails every instance of a group whose launch() rejects', async () => {
    const r = await rig();
    r.executor.rejectLaunches = 'sbatch: error: invalid partition';
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 2 }]);
    expect(r.executor.launches).toHaveLength(1);
    for (const i of [0, 1]) expect(await r.line(jobId, 'A', i)).toBe('FAILED LaunchFailed (the attempt could not be started: sbatch: error: invalid partition)');
  });
});

describe('the scripted executor', () => {
  it('refuses an end before the attempt started, and an end twice', async () => {
    const r = await rig({ onLaunch: () => 'hold' });
    const jobId = await r.submit([{ TaskName: 'A' }]);
    const k = key(jobId, 'A', 0);
    expect(() => r.executor.exit(k, { exitCode: 0 })).toThrow(/not running \(starting\)/);
    r.executor.start(k);
    r.executor.exit(k, { exitCode: 0 });
    expect(() => r.executor.exit(k, { exitCode: 0 })).toThrow(/not running \(ending\)/);
    await r.settle();
    expect(() => r.executor.lose(k, 'gone')).toThrow(/not running \(ended\)/);
  });
});
