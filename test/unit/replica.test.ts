// Two replicas sharing one store (two SqliteStores on one file, as two processes would see it), each
// with its own scripted engine, on a manual clock: one leads, the other stands by and answers commands
// through the store; when the leader can no longer renew its lease, the other takes over with a new
// epoch, and the first stops what its host still ran once it learns it was taken over.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config/config.ts';
import { HostCapacity } from '../../src/domain/capacity.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { EnvPools } from '../../src/scheduler/env-pools.ts';
import { Replica, RESULT_WAIT_MS, replicaOf } from '../../src/scheduler/replica.ts';
import { LEASE_RETRY_MS, LEASE_TTL_MS, Scheduler } from '../../src/scheduler/scheduler.ts';
import { JobService } from '../../src/services/jobs.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { RequestOf } from '../../src/api/models.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { ScriptedExecutor } from '../support/scripted-executor.ts';
import { caller, key, task } from '../support/scheduler-rig.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
});

function replicaOn(file: string, id: string, clock: ManualClock, exclusive = false) {
  const store = new SqliteStore(file, { cacheJobRecords: false });
  // the other replica's attempts are on its host: lost with it, as the local engine says of them
  const executor = new ScriptedExecutor({ observe: () => ({ state: 'lost', reason: 'it ran on the host of another replica', infrastructure: true }) });
  let abandoned = 0;
  // what the scripted engine stops for a replica that was taken over
  (executor as unknown as { abandonAll(): Promise<number> }).abandonAll = async () => {
    const n = executor.running().length;
    abandoned += n;
    return n;
  };
  const replica = new Replica({
    id, exclusive, store, clock, logger: silentLogger, executor,
    makeScheduler: (holder, onLost) => new Scheduler({
      holder, onLost, store, executor, clock, logger: silentLogger, pools: new EnvPools(store, clock, silentLogger),
      capacity: new HostCapacity({ cpus: 64, memGiB: 256 }, 1), resourcesOf: () => ({ cpus: 1, memGiB: 1 }),
    }),
  });
  const jobs = new JobService({ store, commands: replica, clock, limits: DEFAULT_LIMITS, logs: executor.logs, localRoot: path.join(path.dirname(file), id) });
  closers.push(async () => {
    await replica.close();
    await executor.close();
    await store.close();
  });
  return { store, executor, replica, jobs, abandoned: () => abandoned };
}

/** Let promises and immediates run, moving the manual clock `ms` in steps of 50 ms. */
async function pass(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t <= ms; t += 50) {
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    clock.advance(Math.min(50, ms - t));
  }
  await new Promise((r) => setImmediate(r));
}

async function until(clock: ManualClock, what: string, ok: () => boolean | Promise<boolean>, maxMs = 30_000): Promise<number> {
  for (let t = 0; t <= maxMs; t += 50) {
    if (await ok()) return t;
    await pass(clock, 50);
  }
  throw new Error(`not within ${maxMs} ms of the manual clock: ${what}`);
}

function submitTo(jobs: JobService, n: number) {
  return jobs.submitJob(caller, {
    Placement: { Zone: 'ap-guangzhou-2' },
    Job: { JobName: 'replicas', Tasks: [task({ TaskName: 'A', TaskInstanceNum: n })] },
  } as RequestOf<'SubmitJob'>);
}

describe('replicas sharing one store', () => {
  const file = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-replicas-')), 'openbatch.db');

  it('one leads, the other stands by, serves the API and has its commands carried out by the leader', async () => {
    const clock = new ManualClock();
    const f = file();
    const a = replicaOn(f, 'a', clock);
    const b = replicaOn(f, 'b', clock);
    await a.replica.start();
    await b.replica.start();
    expect(a.replica.leading).toBe(true);
    expect(b.replica.leading).toBe(false);
    const st = await b.replica.status();
    expect(st).toMatchObject({ replica: 'b', leading: false, leader: { replica: 'a', epoch: expect.any(Number) } });
    expect(replicaOf(st.leader!.holder)).toBe('a');
    // a job submitted on b runs on a's engine
    const { JobId } = await submitTo(b.jobs, 3);
    await until(clock, 'the leader runs the job b took', () => a.executor.running().length === 3);
    expect(b.executor.running()).toEqual([]);
    await until(clock, 'b shows the job running', async () => (await b.jobs.describeJob(caller, { JobId })).JobState === 'RUNNING');
    // TerminateJob on b: carried out by a, answered on b once it is written
    const done = b.jobs.terminateJob(caller, { JobId });
    await until(clock, 'a was asked to stop the attempts', () => a.executor.stopsOf(key(JobId, 'A', 0)).length > 0);
    for (let i = 0; i < 3; i++) a.executor.exit(key(JobId, 'A', i), { signal: 'SIGTERM', exitCode: null });
    a.executor.deliver();
    await pass(clock, 500);
    await done;
    await until(clock, 'the job failed', async () => (await b.jobs.describeJob(caller, { JobId })).JobState === 'FAILED');
    // what b answers from the shared store: a running job is not deleted
    const r2 = await submitTo(b.jobs, 1);
    await until(clock, 'the second job runs', () => a.executor.running().length === 1);
    const refused = b.jobs.deleteJob(caller, { JobId: r2.JobId }).then(() => 'deleted', (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`);
    await pass(clock, 3000);
    expect(await refused).toMatch(/^ResourceInUse\.Job: .* is (STARTING|RUNNING)/);
    expect((await b.jobs.describeJob(caller, { JobId: r2.JobId })).JobId).toBe(r2.JobId);
  });

  it('takes over within the lease and its retry once the leader cannot renew; the old leader stops what its host ran', async () => {
    const clock = new ManualClock();
    const f = file();
    const a = replicaOn(f, 'a', clock);
    const b = replicaOn(f, 'b', clock);
    await a.replica.start();
    await b.replica.start();
    const { JobId } = await submitTo(a.jobs, 2);
    await until(clock, 'a runs the job', () => a.executor.running().length === 2);
    const epochA = (await a.replica.status()).leader!.epoch;
    // a's lease calls fail from now on, as for a leader cut off from the database
    const lease = a.store as unknown as Record<string, unknown>;
    const real = Object.fromEntries(['acquireLease', 'renewLease', 'releaseLease', 'currentLease'].map((m) => [m, lease[m]]));
    for (const m of Object.keys(real)) {
      lease[m] = async () => {
        throw new Error('the database cannot be reached');
      };
    }
    const waited = await until(clock, 'b leads', () => b.replica.leading, 3 * LEASE_TTL_MS);
    expect(waited).toBeLessThanOrEqual(LEASE_TTL_MS + LEASE_RETRY_MS + 100);
    expect(a.replica.leading).toBe(false);
    expect((await b.replica.status()).leader).toMatchObject({ replica: 'b', epoch: epochA + 1 });
    // b re-adopted a's attempts: its engine does not know them, so they run again on b
    await until(clock, 'the instances run again on b', () => b.executor.running().length === 2);
    // a can reach the database again, asks for the lease, learns b leads: it stops what it still ran
    Object.assign(lease, real);
    await until(clock, 'a stopped its attempts', () => a.abandoned() === 2);
    expect(b.executor.running().sort()).toEqual([key(JobId, 'A', 0, 2), key(JobId, 'A', 1, 2)]);
    for (let i = 0; i < 2; i++) b.executor.exit(key(JobId, 'A', i, 2), { exitCode: 0 });
    b.executor.deliver();
    await until(clock, 'the job succeeded', async () => (await a.jobs.describeJob(caller, { JobId })).JobState === 'SUCCEED');
  });

  it('tells a sender that no scheduler carried its command out when nobody leads', async () => {
    const clock = new ManualClock();
    const f = file();
    const a = replicaOn(f, 'a', clock);
    const b = replicaOn(f, 'b', clock);
    await a.replica.start();
    await b.replica.start();
    const { JobId } = await submitTo(a.jobs, 1);
    await until(clock, 'a runs the job', () => a.executor.running().length === 1);
    await a.replica.close();
    // b would lead now; keep it from doing so to see the sender's answer
    b.store.acquireLease = async () => undefined;
    const r = b.jobs.terminateJob(caller, { JobId }).then(() => 'done', (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`);
    await pass(clock, RESULT_WAIT_MS + 500);
    expect(await r).toMatch(/^FailedOperation: .*no scheduler carried the command out within 20 s/);
  });

  it('alone on its store (the data-dir lock), takes the lease of a former process back at once, whatever its id, and stops nothing', async () => {
    const clock = new ManualClock();
    const f = file();
    const former = new SqliteStore(f, { cacheJobRecords: false });
    const old = await former.acquireLease('host:pid1', LEASE_TTL_MS, clock.now());
    await former.close(); // as after a kill -9: the lease is still running
    const a = replicaOn(f, 'host:pid2', clock, true);
    const { JobId } = await submitTo(a.jobs, 1);
    await a.replica.start();
    expect(a.replica.leading).toBe(true);
    expect((await a.replica.status()).leader).toMatchObject({ holder: 'host:pid2', epoch: old!.epoch + 1 });
    await until(clock, 'it runs the job', () => a.executor.running().length === 1, LEASE_TTL_MS / 2);
    expect(a.abandoned()).toBe(0);
    expect(JobId).toMatch(/^job-/);
  });
});
