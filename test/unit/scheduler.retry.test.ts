// Retries (MaxRetryCount) and Timeout, on a real store with a scripted executor and a manual clock:
// the attempts counted, the reasons and details recorded, the final FAILED once retries are used up,
// and an attempt stopped for its Timeout when the clock passes it.
import { describe, expect, it } from 'vitest';
import { key, makeRig, rigsClosedAfterEach, type Rig } from '../support/scheduler-rig.ts';

const rig = rigsClosedAfterEach();

const EXIT3 = 'the application exited with code 3';

describe('scheduler: MaxRetryCount', () => {
  it('runs a failing instance 1 + MaxRetryCount times, then FAILED with the last reason', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', MaxRetryCount: 2 }]);
    for (const attempt of [1, 2, 3]) {
      expect(r.executor.running()).toEqual([key(jobId, 'A', 0, attempt)]);
      expect(await r.store.getInstance(jobId, 'A', 0)).toMatchObject({ state: 'RUNNING', attempt });
      r.executor.exit(key(jobId, 'A', 0, attempt), { exitCode: 3 });
      await r.settle();
    }
    expect(r.executor.running()).toEqual([]);
    expect(r.executor.launchedKeys()).toEqual([1, 2, 3].map((a) => key(jobId, 'A', 0, a)));
    expect(r.executor.instances().map((x) => x.inst.attempt)).toEqual([1, 2, 3]);
    expect(await r.line(jobId, 'A', 0)).toBe(`FAILED Exit code 3 (${EXIT3})`);
    expect(await r.store.getInstance(jobId, 'A', 0)).toMatchObject({ state: 'FAILED', attempt: 3, exitCode: 3 });
    const atts = await r.store.attemptsOf(jobId, 'A', 0);
    expect(atts.map((a) => [a.attempt, a.exitCode, a.reason])).toEqual([[1, 3, EXIT3], [2, 3, EXIT3], [3, 3, EXIT3]]);
    expect(await r.jobState(jobId)).toBe('FAILED');
    // every ended attempt's handle was released
    expect(r.executor.releases.map((x) => x.key)).toEqual([1, 2, 3].map((a) => key(jobId, 'A', 0, a)));
  });

  it('says which attempt failed and which retry waits while the retry cannot start', async () => {
    // one slot: a job of higher priority takes it while the retry waits
    const r = await rig({ capacity: { slots: 1 } });
    const low = await r.submit([{ TaskName: 'A', MaxRetryCount: 2 }]);
    const high = await r.submit([{ TaskName: 'B' }], { Priority: 10 });
    expect(r.executor.running()).toEqual([key(low, 'A', 0)]);
    r.executor.exit(key(low, 'A', 0), { signal: 'SIGSEGV' });
    await r.settle();
    expect(r.executor.running()).toEqual([key(high, 'B', 0)]);
    const row = await r.store.getInstance(low, 'A', 0);
    expect(row).toMatchObject({
      state: 'RUNNABLE', attempt: 1, exitCode: null, endTime: null, stateReason: 'Killed by signal SIGSEGV',
      stateDetail: 'attempt 1 failed (the application was killed by signal SIGSEGV); retry 1 of 2 waits for a slot',
    });
    expect(await r.line(low, 'A', 0)).toBe('RUNNABLE WaitingForCapacity (no free capacity: all 1 local slots are busy; '
      + 'attempt 1 failed (the application was killed by signal SIGSEGV); retry 1 of 2 waits for a slot)');
    expect((await r.store.attemptsOf(low, 'A', 0)).map((a) => [a.attempt, a.signal, a.reason]))
      .toEqual([[1, 'SIGSEGV', 'the application was killed by signal SIGSEGV']]);
    r.executor.exit(key(high, 'B', 0), { exitCode: 0 });
    await r.settle();
    expect(r.executor.running()).toEqual([key(low, 'A', 0, 2)]);
    expect(await r.line(low, 'A', 0)).toBe('RUNNING  (running)');
  });

  it('succeeds when a retry succeeds', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 2, MaxRetryCount: 1 }]);
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 1 });
    r.executor.exit(key(jobId, 'A', 1), { exitCode: 0 });
    await r.settle();
    r.executor.exit(key(jobId, 'A', 0, 2), { exitCode: 0 });
    await r.settle();
    expect([await r.line(jobId, 'A', 0), await r.line(jobId, 'A', 1)]).toEqual(['SUCCEED  (successful)', 'SUCCEED  (successful)']);
    expect(await r.store.getInstance(jobId, 'A', 0)).toMatchObject({ attempt: 2, exitCode: 0 });
    expect((await r.store.attemptsOf(jobId, 'A', 0)).map((a) => [a.exitCode, a.reason])).toEqual([[1, 'the application exited with code 1'], [0, '']]);
    expect(await r.jobState(jobId)).toBe('SUCCEED');
  });

  it('retries a lost attempt with reason Lost', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', MaxRetryCount: 1 }]);
    r.executor.lose(key(jobId, 'A', 0), 'node n1 stopped answering');
    await r.settle();
    expect(r.executor.running()).toEqual([key(jobId, 'A', 0, 2)]);
    r.executor.lose(key(jobId, 'A', 0, 2), 'node n2 stopped answering');
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('FAILED Lost (the attempt was lost: node n2 stopped answering)');
  });

  it('records an out-of-memory end with the memory of the instance type', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL2', ImageId: 'img-bd78fy2t' } } }]);
    r.executor.exit(key(jobId, 'A', 0), { signal: 'SIGKILL', oom: true });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('FAILED OutOfMemory (the attempt needed more than the 2 GiB of memory of its instance type S1.SMALL2 and was killed for memory (signal SIGKILL))');
  });

  it('makes the instance FAILED_INTERRUPTED with FailedAction INTERRUPT once retries are used up', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', MaxRetryCount: 1, FailedAction: 'INTERRUPT' }]);
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 3 });
    await r.settle();
    r.executor.exit(key(jobId, 'A', 0, 2), { exitCode: 3 });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe(`FAILED_INTERRUPTED Exit code 3 (${EXIT3})`);
    expect(await r.jobState(jobId)).toBe('FAILED_INTERRUPTED');
  });
});

describe('scheduler: Timeout', () => {
  it('stops an attempt when the clock passes its Timeout, and records it as Timeout', async () => {
    const r = await rig({ killGraceMs: 4000 });
    const jobId = await r.submit([{ TaskName: 'A', Timeout: 10 }]);
    const k = key(jobId, 'A', 0);
    r.clock.advance(9_999);
    expect(r.executor.stops).toEqual([]);
    r.clock.advance(1);
    // forced at once (grace 0), whatever the kill grace of terminations is
    expect(r.executor.stops).toEqual([{ key: k, handle: r.executor.handleOf(k)!, why: 'timeout', graceMs: 0 }]);
    expect(await r.line(jobId, 'A', 0)).toBe('RUNNING  (running)');
    r.clock.advance(60_000);
    expect(r.executor.stops).toHaveLength(1); // asked once
    r.executor.exit(k, { signal: 'SIGKILL' });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('FAILED Timeout (the attempt ran longer than Timeout (10 s) and was killed)');
    expect(await r.store.attemptsOf(jobId, 'A', 0)).toEqual([
      expect.objectContaining({ signal: 'SIGKILL', exitCode: null, reason: 'the attempt ran longer than Timeout (10 s) and was killed' }),
    ]);
    expect(await r.jobState(jobId)).toBe('FAILED');
  });

  it('counts Timeout from when the attempt runs, not from its launch (as after a restart)', async () => {
    const r = await rig({ onLaunch: () => 'hold' });
    const jobId = await r.submit([{ TaskName: 'A', Timeout: 10 }]);
    const k = key(jobId, 'A', 0);
    r.clock.advance(8_000); // 8 s starting
    r.executor.start(k);
    await r.settle();
    r.clock.advance(9_999);
    expect(r.executor.stops).toEqual([]);
    r.clock.advance(1);
    expect(r.executor.stops).toEqual([{ key: k, handle: r.executor.handleOf(k)!, why: 'timeout', graceMs: 0 }]);
  });

  it('gives the retry a Timeout of its own', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', Timeout: 10, MaxRetryCount: 1 }]);
    r.clock.advance(10_000);
    r.executor.exit(key(jobId, 'A', 0), { signal: 'SIGKILL' });
    await r.settle();
    expect(await r.store.getInstance(jobId, 'A', 0)).toMatchObject({ state: 'RUNNING', attempt: 2 });
    expect((await r.store.attemptsOf(jobId, 'A', 0))[0]?.reason).toBe('the attempt ran longer than Timeout (10 s) and was killed');
    r.clock.advance(9_999);
    expect(r.executor.stops.map((s) => s.key)).toEqual([key(jobId, 'A', 0)]);
    r.clock.advance(1);
    expect(r.executor.stops.map((s) => [s.key, s.why])).toEqual([[key(jobId, 'A', 0), 'timeout'], [key(jobId, 'A', 0, 2), 'timeout']]);
    // it ends with exit 0 after all: the stop was sent, so it is still a Timeout
    r.executor.exit(key(jobId, 'A', 0, 2), { exitCode: 0 });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('FAILED Timeout (the attempt ran longer than Timeout (10 s) and was killed)');
  });

  it('never stops an attempt that ended before its Timeout, and keeps the others\' deadlines', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', Timeout: 30, TaskInstanceNum: 2 }]);
    r.clock.advance(5_000);
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 0 });
    await r.settle();
    r.clock.advance(24_999);
    expect(r.executor.stops).toEqual([]);
    r.clock.advance(1);
    expect(r.executor.stops.map((s) => s.key)).toEqual([key(jobId, 'A', 1)]);
    expect(await r.line(jobId, 'A', 0)).toBe('SUCCEED  (successful)');
  });

  it('arms the earliest deadline of attempts launched later with a shorter Timeout', async () => {
    const r = await rig();
    const long = await r.submit([{ TaskName: 'A', Timeout: 100 }]);
    r.clock.advance(10_000);
    const short = await r.submit([{ TaskName: 'A', Timeout: 5 }]);
    r.clock.advance(5_000);
    expect(r.executor.stops.map((s) => s.key)).toEqual([key(short, 'A', 0)]);
    r.clock.advance(84_999);
    expect(r.executor.stops.map((s) => s.key)).toEqual([key(short, 'A', 0)]);
    r.clock.advance(1);
    expect(r.executor.stops.map((s) => s.key)).toEqual([key(short, 'A', 0), key(long, 'A', 0)]);
  });
});
