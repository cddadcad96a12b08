// The scheduler on an engine queue (a THPC_QUEUE environment, or the anonymous queue): instances are
// submitted past the local slots, wait in the engine's queue as STARTING with the engine's reason,
// run on the engine's node, count Timeout from when they run, rerun after infrastructure failures
// without using MaxRetryCount (up to a limit), fail with the engine's cause, are stopped while they
// wait, and are taken back after a restart — all with a scripted executor and a manual clock.
import { describe, expect, it } from 'vitest';
import { INFRA_RERUN_LIMIT } from '../../src/scheduler/attempts.ts';
import { caller, key, rigsClosedAfterEach, type Rig, type RigOptions } from '../support/scheduler-rig.ts';
import type { Handle } from '../../src/executors/types.ts';
import type { ObserveAnswer } from '../support/scripted-executor.ts';

const rig = rigsClosedAfterEach();
const PRIORITY = { reason: 'Priority', detail: 'waits in Slurm partition batch: jobs of higher priority come first' };
/** A rig whose anonymous tasks go to queue `hpc`, and whose engine queues every launch. */
const queued = (o: RigOptions = {}) =>
  rig({ capacity: { slots: 1 }, queueOf: (envId) => (envId === undefined ? 'hpc' : undefined), onLaunch: () => ({ ok: true, waiting: PRIORITY }), ...o });

async function node(r: Rig, jobId: string, task: string, index: number): Promise<unknown> {
  return (await r.view(jobId, task, index)).ComputeNodeInstanceId;
}

describe('scheduler: instances in an engine queue', () => {
  it('submits every instance past the local slots as one group naming the queue; they wait STARTING with the engine reason, then run on its node', async () => {
    const r = await queued();
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 3 }]);
    expect(r.executor.launches).toHaveLength(1);
    expect(r.executor.launches[0]).toMatchObject({ queue: 'hpc', instances: [{ index: 0 }, { index: 1 }, { index: 2 }] });
    expect(await r.line(jobId, 'A', 0)).toBe(`STARTING Priority (${PRIORITY.detail})`);
    expect(await node(r, jobId, 'A', 0)).toBeNull();
    expect(await r.jobState(jobId)).toBe('STARTING');

    r.executor.wait(key(jobId, 'A', 1), { reason: 'Resources', detail: 'waits for free CPUs' });
    await r.settle();
    expect(await r.line(jobId, 'A', 1)).toBe('STARTING Resources (waits for free CPUs)');

    r.clock.advance(5000);
    r.executor.run(key(jobId, 'A', 0), 'node7', r.clock.now() - 1000);
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('RUNNING  (running)');
    expect(await node(r, jobId, 'A', 0)).toBe('node7');
    const inst = await r.store.getInstance(jobId, 'A', 0);
    expect(inst?.runningTime).toBe(r.clock.now() - 1000);
    expect(await r.jobState(jobId)).toBe('RUNNING');

    r.executor.exit(key(jobId, 'A', 0), { exitCode: 0 });
    await r.settle();
    const done = await r.view(jobId, 'A', 0);
    expect(done.TaskInstanceState).toBe('SUCCEED');
    // COMPAT: the engine's node stays on the ended instance (where it ran)
    expect(done.ComputeNodeInstanceId).toBe('node7');
  });

  it('counts Timeout from when the instance runs, not while it waits in the queue', async () => {
    const r = await queued();
    const jobId = await r.submit([{ TaskName: 'A', Timeout: 10 }]);
    const k = key(jobId, 'A', 0);
    r.clock.advance(60_000);
    await r.settle();
    expect(r.executor.stopsOf(k)).toEqual([]);
    r.executor.run(k, 'n1');
    await r.settle();
    r.clock.advance(9_999);
    expect(r.executor.stopsOf(k)).toEqual([]);
    r.clock.advance(1);
    expect(r.executor.stopsOf(k).map((s) => s.why)).toEqual(['timeout']);
  });

  it('holds MaxConcurrentNum: only that many are submitted at once', async () => {
    const r = await queued();
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 5, MaxConcurrentNum: 2 }]);
    expect(r.executor.launchedKeys()).toEqual([key(jobId, 'A', 0), key(jobId, 'A', 1)]);
    expect(r.executor.launches[0]?.limits.maxConcurrent).toBe(2);
    expect((await r.view(jobId, 'A', 2)).StateReason).toBe('MaxConcurrentNumReached');
  });

  it('reruns an instance lost to an infrastructure failure without using MaxRetryCount, up to the limit', async () => {
    const r = await queued({ onLaunch: () => ({ ok: true }) });
    const jobId = await r.submit([{ TaskName: 'A', MaxRetryCount: 0 }]);
    for (let n = 1; n <= INFRA_RERUN_LIMIT; n++) {
      r.executor.lose(key(jobId, 'A', 0, n), 'NODE_FAIL on node7', true);
      await r.settle();
      expect(r.executor.launchedKeys()).toContain(key(jobId, 'A', 0, n + 1));
    }
    r.executor.lose(key(jobId, 'A', 0, INFRA_RERUN_LIMIT + 1), 'NODE_FAIL on node7', true);
    await r.settle();
    const v = await r.view(jobId, 'A', 0);
    expect(v.TaskInstanceState).toBe('FAILED');
    expect(v.StateReason).toBe('Lost');
    expect(v.StateDetailedReason).toContain('NODE_FAIL on node7');
  });

  it('fails with the engine\'s cause when it knows one (cancelled in the engine behind the service\'s back)', async () => {
    const r = await queued();
    const jobId = await r.submit([{ TaskName: 'A' }]);
    r.executor.exit(key(jobId, 'A', 0), { cause: { reason: 'CancelledInSlurm', detail: 'the element was cancelled in Slurm (scancel) outside OpenBatch' } });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('FAILED CancelledInSlurm (the element was cancelled in Slurm (scancel) outside OpenBatch)');
  });

  it('stops an instance that waits in the queue on TerminateJob; it ends Terminated', async () => {
    const r = await queued();
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 2 }]);
    await r.jobs.terminateJob(caller, { JobId: jobId });
    await r.settle();
    expect(r.executor.stops.map((s) => [s.key, s.why])).toEqual([[key(jobId, 'A', 0), 'terminate'], [key(jobId, 'A', 1), 'terminate']]);
    for (const i of [0, 1]) r.executor.exit(key(jobId, 'A', i), { signal: 'SIGTERM' });
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toMatch(/^FAILED Terminated/);
    expect(await r.jobState(jobId)).toBe('FAILED');
  });

  it('after a restart: one that still waits keeps its reason; one that started meanwhile runs on its node with its Timeout from then', async () => {
    const r1 = await queued();
    const jobId = await r1.submit([{ TaskName: 'A', TaskInstanceNum: 2, Timeout: 100 }]);
    const h0 = r1.executor.handleOf(key(jobId, 'A', 0));
    await r1.close({ keep: true });
    r1.clock.advance(50_000);
    const startedAt = r1.clock.now() - 20_000;
    const script = (x: { key: string; handle: Handle | null }): ObserveAnswer =>
      x.key === key(jobId, 'A', 0) ? { state: 'waiting', wait: { reason: 'Resources', detail: 'no free CPUs' } } : { state: 'running', node: 'node3', since: startedAt };
    const r2 = await queued({ dir: r1.dir, clock: r1.clock, observe: script });
    await r2.settle();
    expect(r2.executor.observeCalls[0]?.find((x) => x.key === key(jobId, 'A', 0))?.handle).toEqual(h0);
    expect(await r2.line(jobId, 'A', 0)).toBe('STARTING Resources (no free CPUs)');
    expect(await r2.line(jobId, 'A', 1)).toBe('RUNNING  (running)');
    expect(await node(r2, jobId, 'A', 1)).toBe('node3');
    // its deadline counts from when it started: 80 s are left of 100
    r2.clock.advance(79_999);
    expect(r2.executor.stopsOf(key(jobId, 'A', 1))).toEqual([]);
    r2.clock.advance(1);
    expect(r2.executor.stopsOf(key(jobId, 'A', 1)).map((s) => s.why)).toEqual(['timeout']);
    expect(r2.executor.stopsOf(key(jobId, 'A', 0))).toEqual([]);
  });
});
