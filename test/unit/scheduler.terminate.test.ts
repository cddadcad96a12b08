// TerminateJob and TerminateTaskInstance through JobService, on a real store with a scripted executor
// and a manual clock: waiting instances fail at once, running ones are stopped with the kill grace and
// fail once they end, NextAction says TERMINATING until then, and nothing terminated is retried.
import { describe, expect, it } from 'vitest';
import { caller, key, makeRig, rigsClosedAfterEach, type Rig } from '../support/scheduler-rig.ts';

const rig = rigsClosedAfterEach();

const BY_JOB = 'FAILED Terminated (terminated by TerminateJob)';
const BY_INSTANCE = 'FAILED Terminated (terminated by TerminateTaskInstance)';

describe('scheduler: TerminateJob', () => {
  it('fails waiting instances at once, stops running ones with the grace, and fails them when they end', async () => {
    const r = await rig({ capacity: { slots: 2 }, killGraceMs: 1500 });
    const jobId = await r.submit(
      [{ TaskName: 'A', TaskInstanceNum: 3, MaxRetryCount: 3 }, { TaskName: 'B', TaskInstanceNum: 2 }],
      { Dependences: [{ StartTask: 'A', EndTask: 'B' }] },
    );
    const [k0, k1] = [key(jobId, 'A', 0), key(jobId, 'A', 1)];
    expect(r.executor.running()).toEqual([k0, k1]);
    await r.jobs.terminateJob(caller, { JobId: jobId });
    await r.settle();
    expect(r.executor.stops).toEqual([
      { key: k0, handle: r.executor.handleOf(k0)!, why: 'terminate', graceMs: 1500 },
      { key: k1, handle: r.executor.handleOf(k1)!, why: 'terminate', graceMs: 1500 },
    ]);
    // the waiting one and the downstream task say Terminated (not DependenceFailed)
    expect(await r.line(jobId, 'A', 2)).toBe(BY_JOB);
    for (const i of [0, 1]) expect(await r.line(jobId, 'B', i)).toBe(BY_JOB);
    // the running ones show RUNNING until they end
    expect([await r.line(jobId, 'A', 0), await r.line(jobId, 'A', 1)]).toEqual(['RUNNING  (running)', 'RUNNING  (running)']);
    expect(await r.jobState(jobId)).toBe('RUNNING TERMINATING');
    expect((await r.jobs.describeJob(caller, { JobId: jobId })).NextAction).toBe('TERMINATING');

    // no kill grace of the scheduler's own: the executor escalates, the scheduler waits for the end
    r.clock.advance(60_000);
    expect(r.executor.stops).toHaveLength(2);
    r.executor.exit(k0, { signal: 'SIGTERM' });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe(BY_JOB);
    expect(await r.jobState(jobId)).toBe('RUNNING TERMINATING');
    // exiting 0 after SIGTERM is still Terminated, and nothing is retried despite MaxRetryCount
    r.executor.exit(k1, { exitCode: 0 });
    await r.settle();
    expect(await r.line(jobId, 'A', 1)).toBe(BY_JOB);
    expect(await r.store.getInstance(jobId, 'A', 1)).toMatchObject({ exitCode: 0, attempt: 1 });
    expect(r.executor.launchedKeys()).toEqual([k0, k1]);
    expect(await r.jobState(jobId)).toBe('FAILED');
    const d = await r.jobs.describeJob(caller, { JobId: jobId });
    expect([d.JobState, d.NextAction, d.TaskSet.map((t: { TaskState: string }) => t.TaskState)]).toEqual(['FAILED', '', ['FAILED', 'FAILED']]);
  });

  it('ends a job with nothing running at once, without NextAction', async () => {
    const r = await rig({ capacity: { slots: 1 } });
    const blocker = await r.submit([{ TaskName: 'X' }]);
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 3 }]);
    await r.jobs.terminateJob(caller, { JobId: jobId });
    await r.settle();
    for (const i of [0, 1, 2]) expect(await r.line(jobId, 'A', i)).toBe(BY_JOB);
    expect(await r.jobState(jobId)).toBe('FAILED');
    expect(r.executor.stops).toEqual([]);
    r.executor.exit(key(blocker, 'X', 0), { exitCode: 0 });
    await r.settle();
    expect(r.executor.launchedKeys()).toEqual([key(blocker, 'X', 0)]);
  });

  it('stops an instance that was STARTING as soon as the executor says it started', async () => {
    const r = await rig({ onLaunch: () => 'hold', killGraceMs: 700 });
    const jobId = await r.submit([{ TaskName: 'A' }]);
    const k = key(jobId, 'A', 0);
    await r.jobs.terminateJob(caller, { JobId: jobId });
    await r.settle();
    expect(r.executor.stops).toEqual([]); // no handle yet to stop
    expect(await r.jobState(jobId)).toBe('STARTING TERMINATING');
    r.executor.start(k, { ok: true, handle: { executor: 'scripted', id: 'late' } });
    await r.settle();
    expect(r.executor.stops).toEqual([{ key: k, handle: { executor: 'scripted', id: 'late' }, why: 'terminate', graceMs: 700 }]);
    r.executor.exit(k, { signal: 'SIGKILL' });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe(BY_JOB);
    expect(await r.jobState(jobId)).toBe('FAILED');
  });

  it('says Terminated for an attempt already being stopped for its Timeout, without a second stop', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', Timeout: 5, MaxRetryCount: 2 }]);
    r.clock.advance(5_000);
    expect(r.executor.stops.map((s) => s.why)).toEqual(['timeout']);
    await r.jobs.terminateJob(caller, { JobId: jobId });
    await r.settle();
    expect(r.executor.stops.map((s) => s.why)).toEqual(['timeout']);
    r.executor.exit(key(jobId, 'A', 0), { signal: 'SIGKILL' });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe(BY_JOB);
    expect(r.executor.launchedKeys()).toHaveLength(1);
  });

  it('turns FAILED_INTERRUPTED instances into FAILED Terminated', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 2, FailedAction: 'INTERRUPT' }]);
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 9 });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('FAILED_INTERRUPTED Exit code 9 (the application exited with code 9)');
    await r.jobs.terminateJob(caller, { JobId: jobId });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe(BY_JOB);
    r.executor.exit(key(jobId, 'A', 1), { signal: 'SIGTERM' });
    await r.settle();
    expect(await r.line(jobId, 'A', 1)).toBe(BY_JOB);
    expect(await r.jobState(jobId)).toBe('FAILED');
  });
});

describe('scheduler: TerminateTaskInstance', () => {
  it('stops a running instance and fails it without a retry; fails a waiting one at once; the rest runs on', async () => {
    const r = await rig({ capacity: { slots: 2 }, killGraceMs: 250 });
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 4, MaxRetryCount: 2 }]);
    const k0 = key(jobId, 'A', 0);
    await r.jobs.terminateTaskInstance(caller, { JobId: jobId, TaskName: 'A', TaskInstanceIndex: 0 });
    await r.jobs.terminateTaskInstance(caller, { JobId: jobId, TaskName: 'A', TaskInstanceIndex: 3 });
    await r.settle();
    expect(r.executor.stops).toEqual([{ key: k0, handle: r.executor.handleOf(k0)!, why: 'terminate', graceMs: 250 }]);
    expect(await r.line(jobId, 'A', 3)).toBe(BY_INSTANCE);
    expect(await r.line(jobId, 'A', 0)).toBe('RUNNING  (running)');
    // no NextAction for an instance
    expect(await r.jobState(jobId)).toBe('RUNNING');
    r.executor.exit(k0, { signal: 'SIGTERM' });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe(BY_INSTANCE);
    // its slot goes to instance 2, not to a retry of 0; 3 never runs
    expect(r.executor.running()).toEqual([key(jobId, 'A', 1), key(jobId, 'A', 2)]);
    for (const i of [1, 2]) r.executor.exit(key(jobId, 'A', i), { exitCode: 0 });
    await r.settle();
    expect(r.executor.launchedKeys()).toEqual([0, 1, 2].map((i) => key(jobId, 'A', i)));
    expect(await r.jobState(jobId)).toBe('FAILED');
    expect((await r.store.getTask(jobId, 'A'))!.counts).toMatchObject({ SUCCEED: 2, FAILED: 2 });
  });

  it('fails an instance whose retry waits', async () => {
    const r = await rig({ capacity: { slots: 1 } });
    const jobId = await r.submit([{ TaskName: 'A', MaxRetryCount: 2 }]);
    const hog = await r.submit([{ TaskName: 'H' }], { Priority: 99 });
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 1 });
    await r.settle();
    expect(r.executor.running()).toEqual([key(hog, 'H', 0)]);
    expect((await r.store.getInstance(jobId, 'A', 0))?.state).toBe('RUNNABLE');
    await r.jobs.terminateTaskInstance(caller, { JobId: jobId, TaskName: 'A', TaskInstanceIndex: 0 });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe(BY_INSTANCE);
    r.executor.exit(key(hog, 'H', 0), { exitCode: 0 });
    await r.settle();
    expect(r.executor.launchedKeys()).toEqual([key(jobId, 'A', 0), key(hog, 'H', 0)]);
    expect(await r.jobState(jobId)).toBe('FAILED');
  });

  it('leaves a finished instance as it is', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 2 }]);
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 0 });
    await r.settle();
    await r.jobs.terminateTaskInstance(caller, { JobId: jobId, TaskName: 'A', TaskInstanceIndex: 0 });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('SUCCEED  (successful)');
    expect(r.executor.stops).toEqual([]);
  });
});
