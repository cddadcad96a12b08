// Durability of the scheduler, on a real SQLite store with a scripted executor and a manual clock:
// re-adoption after a restart (a new Scheduler on the same database, whose executor's observe() says
// running / exited / lost), and a store write that fails (a real SQLite error) and is retried when the
// clock's retry timer fires.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Handle } from '../../src/executors/types.ts';
import { FLUSH_RETRY_MS } from '../../src/scheduler/write-behind.ts';
import { LEASE_TTL_MS } from '../../src/scheduler/scheduler.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { ObserveAnswer } from '../support/scripted-executor.ts';
import { caller, key, makeRig, rigsClosedAfterEach, type Rig, type RigOptions } from '../support/scheduler-rig.ts';

const rig = rigsClosedAfterEach();

const RESTARTED = 'the service restarted while this attempt was starting or running, and no trace of its outcome was found';

/** Close the first service and start a second one on the same data dir and clock. */
async function restart(r1: Rig, observe: (a: { key: string; handle: Handle | null }) => ObserveAnswer, o: RigOptions = {}): Promise<Rig> {
  await r1.close({ keep: true });
  const r2 = await rig({ ...o, dir: r1.dir, clock: r1.clock, observe });
  await r2.settle();
  return r2;
}

describe('scheduler: re-adoption after a restart', () => {
  it('continues running attempts, records exited ones with their exit, and retries or fails lost ones', async () => {
    const r1 = await rig({ capacity: { slots: 8 } });
    const a = await r1.submit([{ TaskName: 'A', TaskInstanceNum: 4, MaxRetryCount: 1 }]);
    const b = await r1.submit([{ TaskName: 'B', TaskInstanceNum: 2 }]);
    const handles = new Map(r1.executor.running().map((k) => [k, r1.executor.handleOf(k)!]));
    expect(handles.size).toBe(6);
    const script: Record<string, ObserveAnswer> = {
      [key(a, 'A', 0)]: { state: 'running' },
      [key(a, 'A', 1)]: { state: 'exited', exit: { exitCode: 0, signal: null } },
      [key(a, 'A', 2)]: { state: 'exited', exit: { exitCode: 5, signal: null } },
      [key(a, 'A', 3)]: { state: 'lost', reason: 'no status file' },
      [key(b, 'B', 0)]: { state: 'exited', exit: { exitCode: null, signal: 'SIGKILL' } },
      [key(b, 'B', 1)]: { state: 'lost', reason: 'no status file' },
    };
    r1.clock.advance(7_000);
    const r2 = await restart(r1, (x) => script[x.key]!, { capacity: { slots: 8 } });

    // one observe() for every attempt that showed STARTING/RUNNING, with the handles it launched with
    expect(r2.executor.observeCalls).toHaveLength(1);
    expect([...r2.executor.observeCalls[0]!].sort((x, y) => x.key.localeCompare(y.key)))
      .toEqual([...handles].map(([k, handle]) => ({ key: k, handle })).sort((x, y) => x.key.localeCompare(y.key)));

    expect(await r2.line(a, 'A', 0)).toBe('RUNNING  (running)');
    expect(await r2.line(a, 'A', 1)).toBe('SUCCEED  (successful)');
    expect(await r2.store.getInstance(a, 'A', 1)).toMatchObject({ exitCode: 0, attempt: 1, endTime: r2.clock.now() });
    // exit 5 and lost: retried (MaxRetryCount 1) on the new service's executor
    expect(r2.executor.launchedKeys().sort()).toEqual([key(a, 'A', 2, 2), key(a, 'A', 3, 2)].sort());
    expect((await r2.store.attemptsOf(a, 'A', 2)).map((x) => [x.attempt, x.exitCode, x.reason]))
      .toEqual([[1, 5, 'the application exited with code 5'], [2, null, '']]);
    expect((await r2.store.attemptsOf(a, 'A', 3)).map((x) => [x.attempt, x.exitCode, x.reason])).toEqual([[1, null, RESTARTED], [2, null, '']]);
    // no retries: failed with the exit, or ServiceRestarted
    expect(await r2.line(b, 'B', 0)).toBe('FAILED Killed by signal SIGKILL (the application was killed by signal SIGKILL)');
    expect(await r2.line(b, 'B', 1)).toBe(`FAILED ServiceRestarted (${RESTARTED})`);
    // the ends recorded are released with the handles they were launched with
    expect(r2.executor.releases.sort((x, y) => x.key.localeCompare(y.key))).toEqual(
      [key(a, 'A', 1), key(a, 'A', 2), key(a, 'A', 3), key(b, 'B', 0), key(b, 'B', 1)].sort().map((k) => ({ key: k, handle: handles.get(k) })),
    );

    // the running one goes on and ends normally through the new executor
    r2.executor.exit(key(a, 'A', 0), { exitCode: 0 });
    for (const i of [2, 3]) r2.executor.exit(key(a, 'A', i, 2), { exitCode: 0 });
    await r2.settle();
    for (const i of [0, 1, 2, 3]) expect(await r2.line(a, 'A', i)).toBe('SUCCEED  (successful)');
    expect(r2.executor.releases.map((x) => x.key)).toContain(key(a, 'A', 0));
    expect(await r2.jobState(a)).toBe('SUCCEED');
    expect(await r2.jobState(b)).toBe('FAILED');
  });

  it('keeps the Timeout of a re-adopted attempt counted from when it started running', async () => {
    const r1 = await rig();
    const jobId = await r1.submit([{ TaskName: 'A', Timeout: 100 }]);
    r1.clock.advance(60_000);
    const r2 = await restart(r1, () => ({ state: 'running' }));
    const k = key(jobId, 'A', 0);
    r2.clock.advance(39_999);
    expect(r2.executor.stops).toEqual([]);
    r2.clock.advance(1);
    expect(r2.executor.stops).toEqual([{ key: k, handle: r2.executor.handleOf(k)!, why: 'timeout', graceMs: 0 }]);
    r2.executor.exit(k, { signal: 'SIGKILL' });
    await r2.settle();
    expect(await r2.line(jobId, 'A', 0)).toBe('FAILED Timeout (the attempt ran longer than Timeout (100 s) and was killed)');
  });

  it('finds an attempt whose launch was never recorded by its key, and ends it normally', async () => {
    const r1 = await rig({ onLaunch: () => 'hold' });
    const jobId = await r1.submit([{ TaskName: 'A' }]);
    const k = key(jobId, 'A', 0);
    expect((await r1.store.getInstance(jobId, 'A', 0))).toMatchObject({ state: 'STARTING', handle: null });
    const found = { executor: 'scripted', key: k, foundByKey: true };
    const r2 = await restart(r1, (x) => (x.handle === null ? { state: 'running', handle: found } : { state: 'lost', reason: 'unexpected handle' }));
    expect(r2.executor.observeCalls).toEqual([[{ key: k, handle: null }]]);
    expect(r2.executor.handleOf(k)).toEqual(found);
    // recorded as a start would have been: RUNNING, with the handle it was found with, and monitored
    await r2.settle();
    expect(await r2.line(jobId, 'A', 0)).toBe('RUNNING  (running)');
    expect(await r2.store.getInstance(jobId, 'A', 0)).toMatchObject({ state: 'RUNNING', handle: found });
    expect(r2.scheduler.runningAttempts().map((a) => a.key)).toEqual([k]);
    r2.executor.exit(k, { exitCode: 0 });
    await r2.settle();
    expect(await r2.line(jobId, 'A', 0)).toBe('SUCCEED  (successful)');
    expect(r2.executor.releases).toEqual([{ key: k, handle: found }]);
  });

  it('goes on terminating a job that was TERMINATING when the service stopped', async () => {
    const r1 = await rig({ killGraceMs: 900 });
    const jobId = await r1.submit([{ TaskName: 'A', TaskInstanceNum: 2, MaxRetryCount: 3 }]);
    await r1.jobs.terminateJob(caller, { JobId: jobId });
    await r1.settle();
    expect(r1.executor.stops.map((s) => s.why)).toEqual(['terminate', 'terminate']);
    const r2 = await restart(r1, (x) => (x.key === key(jobId, 'A', 0) ? { state: 'running' } : { state: 'lost', reason: 'gone' }), { killGraceMs: 900 });
    // the running one is asked again by the new service; the lost one is Terminated, not retried
    expect(r2.executor.stops).toEqual([{ key: key(jobId, 'A', 0), handle: r2.executor.handleOf(key(jobId, 'A', 0))!, why: 'terminate', graceMs: 900 }]);
    expect(await r2.line(jobId, 'A', 1)).toBe('FAILED Terminated (terminated by TerminateJob)');
    expect(await r2.jobState(jobId)).toBe('RUNNING TERMINATING');
    r2.executor.exit(key(jobId, 'A', 0), { signal: 'SIGTERM' });
    await r2.settle();
    expect(await r2.line(jobId, 'A', 0)).toBe('FAILED Terminated (terminated by TerminateJob)');
    expect(await r2.jobState(jobId)).toBe('FAILED');
    expect(r2.executor.launches).toEqual([]);
  });

  it('treats attempts the executor could not be asked about as lost', async () => {
    const r1 = await rig();
    const jobId = await r1.submit([{ TaskName: 'A' }]);
    const r2 = await restart(r1, () => {
      throw new Error('squeue: connection refused');
    });
    expect(await r2.line(jobId, 'A', 0)).toBe(`FAILED ServiceRestarted (${RESTARTED})`);
  });
});

/** Let the scheduler run what it can (without waiting for idle(), which waits for a write). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('scheduler: a store write that fails', () => {
  it('keeps the changes, launches nothing not yet durable, and writes them when the retry timer fires', async () => {
    const r = await rig({ capacity: { slots: 1 } });
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 3 }]);
    const [k0, k1] = [key(jobId, 'A', 0), key(jobId, 'A', 1)];
    expect(r.executor.running()).toEqual([k0]);
    // a real fault of the real database: another connection makes SQLite refuse every instance write
    const db = new Database(r.dbFile);
    db.exec(`CREATE TRIGGER fault_ins BEFORE INSERT ON instances BEGIN SELECT RAISE(ABORT, 'injected write fault'); END;
             CREATE TRIGGER fault_upd BEFORE UPDATE ON instances BEGIN SELECT RAISE(ABORT, 'injected write fault'); END;`);
    try {
      r.executor.exit(k0, { exitCode: 0 });
      r.executor.deliver();
      await turns();
      // nothing written, nothing released, and instance 1 is not launched before its STARTING is durable
      expect((await r.store.getInstance(jobId, 'A', 0))?.state).toBe('RUNNING');
      expect(await r.store.getInstance(jobId, 'A', 1)).toBeUndefined();
      expect(r.executor.releases).toEqual([]);
      expect(r.executor.launches).toHaveLength(1);
      // a command cannot be made durable either: it says so
      await expect(r.jobs.terminateTaskInstance(caller, { JobId: jobId, TaskName: 'A', TaskInstanceIndex: 2 })).rejects.toThrow(/could not be written/);
      await turns(); // the tick the command asked for fails too
      expect(await r.line(jobId, 'A', 2)).toBe('RUNNABLE WaitingForCapacity (no free capacity: all 1 local slots are busy)');
    } finally {
      db.exec('DROP TRIGGER fault_ins; DROP TRIGGER fault_upd;');
      db.close();
    }
    // the store works again, but nothing is written until the retry timer fires
    await turns();
    expect((await r.store.getInstance(jobId, 'A', 0))?.state).toBe('RUNNING');
    expect(r.executor.launches).toHaveLength(1);
    r.clock.advance(FLUSH_RETRY_MS);
    await r.settle();
    expect(await r.line(jobId, 'A', 0)).toBe('SUCCEED  (successful)');
    expect(r.executor.releases.map((x) => x.key)).toEqual([k0]);
    expect(r.executor.running()).toEqual([k1]);
    expect(await r.line(jobId, 'A', 1)).toBe('RUNNING  (running)');
    // the refused command's change was kept and written too
    expect(await r.line(jobId, 'A', 2)).toBe('FAILED Terminated (terminated by TerminateTaskInstance)');
    r.executor.exit(k1, { exitCode: 0 });
    await r.settle();
    expect(await r.jobState(jobId)).toBe('FAILED');
    expect(r.executor.launchedKeys()).toEqual([k0, k1]);
  });
});

describe('scheduler: leadership', () => {
  it('stops once another scheduler has taken its lease over: its later writes are fenced and change nothing', async () => {
    const r = await rig();
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 2 }]);
    const [k0, k1] = [key(jobId, 'A', 0), key(jobId, 'A', 1)];
    expect(await r.line(jobId, 'A', 0)).toBe('RUNNING  (running)');
    // a second server on the same database takes the lease over once this one's has expired
    const other = new SqliteStore(r.dbFile);
    const mine = (await other.currentLease())!;
    const taken = await other.acquireLease('another-replica', LEASE_TTL_MS, mine.expiresAt + 1);
    expect(taken?.epoch).toBe(mine.epoch + 1);
    r.executor.exit(k0, { exitCode: 0 });
    await r.settle();
    // its write of the end was refused: the instance shows what the new leader will re-adopt
    expect((await other.getInstance(jobId, 'A', 0))?.state).toBe('RUNNING');
    // and it schedules no more: a later end is not applied either, commands are not carried out
    r.executor.exit(k1, { exitCode: 0 });
    await r.settle();
    expect((await other.getInstance(jobId, 'A', 1))?.state).toBe('RUNNING');
    const later = await r.submit([{ TaskName: 'B' }]);
    expect((await other.pendingCommands(0, 10)).map((c) => c.kind)).toEqual(['submitted']);
    expect((await other.getJobById(later))?.state).toBe('SUBMITTED');
    expect(r.executor.launches).toHaveLength(1); // only the first job's group was ever launched
    await other.close();
  });
});
