// The Store contract, part 3: what several replicas need to agree on one scheduler. The command queue
// (ids from the database, pending after an id, completion, coalesced wake-ups), the leadership lease
// (acquire, renew, takeover after expiry with a new epoch, release) and fencing of the scheduler's writes.
import { describe, expect, it } from 'vitest';
import { zeroCounts } from '../../src/domain/states.ts';
import { REFUSALS_KEPT_MS } from '../../src/store/coordination.ts';
import { FencedError } from '../../src/store/errors.ts';
import type { Command, Lease, Store } from '../../src/store/types.ts';
import { activity, env, inst, job, node, settle, task, type StoreFactory } from './store-fixtures.ts';

const TTL = 10_000;

/** A store whose lease went from holder a (epoch `stale`) to holder b (epoch `current`) by takeover. */
async function takenOver(s: Store): Promise<{ stale: number; current: number; b: Lease }> {
  const a = (await s.acquireLease('a', TTL, 1000))!;
  const b = (await s.acquireLease('b', TTL, 1000 + TTL))!;
  return { stale: a.epoch, current: b.epoch, b };
}

export function coordinationContract(f: StoreFactory): void {
  describe('commands', () => {
    it('gives increasing ids from the database, answers what is pending after an id, and completes', async () => {
      const s = await f.create();
      const all: Command[] = [
        { kind: 'terminate-job', jobId: 'job-1' },
        { kind: 'terminate-instance', jobId: 'job-1', taskName: 'A', index: 3 },
        { kind: 'retry-job', jobId: 'job-2' },
        { kind: 'delete-job', jobId: 'job-3' },
        { kind: 'env-changed', envId: 'env-1' },
        { kind: 'terminate-node', envId: 'env-1', instanceId: 'ins-1' },
        { kind: 'submitted', jobId: 'job-4' },
      ];
      const recs = [];
      for (const [i, c] of all.entries()) recs.push(await s.insertCommand({ ...c, createdAt: 100 + i }));
      recs.forEach((r, i) => expect(r).toEqual({ ...all[i], createdAt: 100 + i, id: expect.any(Number) }));
      for (let i = 1; i < recs.length; i++) expect(recs[i]!.id).toBeGreaterThan(recs[i - 1]!.id);
      // every kind comes back with its own fields
      expect(await s.pendingCommands(0, 100)).toEqual(recs);
      expect(await s.pendingCommands(recs[1]!.id, 2)).toEqual(recs.slice(2, 4));
      expect(await s.pendingCommands(recs[6]!.id, 10)).toEqual([]);
      const { epoch } = (await s.acquireLease('a', TTL, 1000))!;
      await s.completeCommands([recs[0]!.id, recs[2]!.id, 999_999], epoch);
      expect((await s.pendingCommands(0, 100)).map((r) => r.id)).toEqual([recs[1], ...recs.slice(3)].map((r) => r!.id));
      await s.completeCommands([], epoch);
      await s.completeCommands(recs.map((r) => r.id), epoch);
      expect(await s.pendingCommands(0, 100)).toEqual([]);
      // ids are never given again, even once every command was completed
      const later = await s.insertCommand({ kind: 'retry-job', jobId: 'job-9', createdAt: 200 });
      expect(later.id).toBeGreaterThan(recs[6]!.id);
      await s.close();
    });

    it('queues a submitted command with each job insertJob creates, in the same transaction', async () => {
      const s = await f.create();
      const j = job({ clientToken: 'cmd-tok' });
      await s.insertJob(j, [task(j.id)]);
      expect(await s.pendingCommands(0, 10)).toEqual([{ kind: 'submitted', jobId: j.id, createdAt: j.createTime, id: expect.any(Number) }]);
      // a retry with the same client token creates nothing, so it queues nothing
      expect((await s.insertJob(job({ clientToken: 'cmd-tok' }), [])).created).toBe(false);
      expect(await s.pendingCommands(0, 10)).toHaveLength(1);
      await s.close();
    });

    it('wakes its listeners once for inserts made close together, until they unsubscribe', async () => {
      const s = await f.create();
      let a = 0, b = 0;
      const offA = s.onCommand(() => a++);
      s.onCommand(() => b++);
      for (let i = 0; i < 5; i++) await s.insertCommand({ kind: 'env-changed', envId: `env-${i}`, createdAt: i });
      await settle(() => a > 0);
      expect([a, b]).toEqual([1, 1]);
      await s.insertCommand({ kind: 'env-changed', envId: 'env-x', createdAt: 9 });
      await settle(() => a > 1);
      expect([a, b]).toEqual([2, 2]);
      const j = job();
      await s.insertJob(j, [task(j.id)]);
      await settle(() => a > 2);
      expect([a, b]).toEqual([3, 3]);
      offA();
      await s.insertCommand({ kind: 'env-changed', envId: 'env-y', createdAt: 10 });
      await settle(() => b > 3);
      expect([a, b]).toEqual([3, 4]);
      await s.close();
    });
  });

  describe('leadership lease', () => {
    it('grants a free lease, renews it for its holder only, and hands it over after expiry with epoch + 1', async () => {
      const s = await f.create();
      expect(await s.currentLease()).toBeUndefined();
      const a = (await s.acquireLease('a', TTL, 1000))!;
      expect(a).toEqual({ holder: 'a', epoch: expect.any(Number), expiresAt: 1000 + TTL, since: 1000 });
      expect(a.epoch).toBeGreaterThanOrEqual(1);
      expect(await s.currentLease()).toEqual(a);
      // another holder waits while the lease runs
      expect(await s.acquireLease('b', TTL, 1000 + TTL - 1)).toBeUndefined();
      // the holder renews it: same epoch, later expiry (by acquire or by renew)
      expect(await s.acquireLease('a', TTL, 2000)).toEqual({ holder: 'a', epoch: a.epoch, expiresAt: 2000 + TTL, since: 1000 });
      const renewed = (await s.renewLease(a, TTL, 3000))!;
      expect(renewed).toEqual({ holder: 'a', epoch: a.epoch, expiresAt: 3000 + TTL, since: 1000 });
      expect(await s.acquireLease('b', TTL, 2000 + TTL)).toBeUndefined();
      // expired: b takes over with a new epoch; a can no longer renew, nor take it back while b's runs
      const b = (await s.acquireLease('b', TTL, 3000 + TTL))!;
      expect(b).toEqual({ holder: 'b', epoch: a.epoch + 1, expiresAt: 3000 + 2 * TTL, since: 3000 + TTL });
      expect(await s.currentLease()).toEqual(b);
      expect(await s.renewLease(renewed, TTL, 3000 + TTL)).toBeUndefined();
      expect(await s.acquireLease('a', TTL, 3001 + TTL)).toBeUndefined();
      // a stale holder's release leaves the current lease alone
      await s.releaseLease(a);
      expect(await s.currentLease()).toEqual(b);
      await s.close();
    });

    it('renews a lapsed lease nobody took over, and gives a new epoch after a release, even to the same holder', async () => {
      const s = await f.create();
      const a = (await s.acquireLease('a', TTL, 1000))!;
      expect(await s.renewLease(a, TTL, 1000 + 5 * TTL)).toEqual({ holder: 'a', epoch: a.epoch, expiresAt: 1000 + 6 * TTL, since: 1000 });
      expect(await s.acquireLease('a', TTL, 1000 + 9 * TTL)).toEqual({ holder: 'a', epoch: a.epoch, expiresAt: 1000 + 10 * TTL, since: 1000 });
      await s.releaseLease(a);
      expect(await s.currentLease()).toBeUndefined();
      expect(await s.renewLease(a, TTL, 2000)).toBeUndefined();
      const again = (await s.acquireLease('a', TTL, 2000))!;
      expect(again).toMatchObject({ epoch: a.epoch + 1, since: 2000 });
      // the same holder's lease of an older epoch is lost for good
      expect(await s.renewLease(a, TTL, 2001)).toBeUndefined();
      expect(await s.currentLease()).toEqual(again);
      // a released lease can be taken at once, before its expiry
      await s.releaseLease(again);
      expect((await s.acquireLease('b', TTL, 2001))?.epoch).toBe(a.epoch + 2);
      await expect(s.acquireLease('', TTL, 0)).rejects.toThrow(RangeError);
      await expect(s.acquireLease('c', 0, 0)).rejects.toThrow(RangeError);
      await s.close();
    });

    it('keeps the lease and the pending commands across a reopen', async () => {
      if (!f.reopen) return;
      const s = await f.create();
      const a = (await s.acquireLease('a', TTL, 1000))!;
      const c = await s.insertCommand({ kind: 'delete-job', jobId: 'job-1', createdAt: 5 });
      const again = await f.reopen(s);
      expect(await again.currentLease()).toEqual(a);
      expect(await again.pendingCommands(0, 10)).toEqual([c]);
      expect((await again.acquireLease('b', TTL, 1000 + TTL))?.epoch).toBe(a.epoch + 1);
      await again.close();
    });
  });

  describe('fencing', () => {
    it('rejects applyBatch with a stale epoch and writes nothing of it; accepts the current epoch', async () => {
      const s = await f.create();
      const j = job();
      const t = task(j.id);
      await s.insertJob(j, [t]);
      const rec = (await s.getJobById(j.id))!;
      const { stale, current } = await takenOver(s);
      const batch = {
        jobs: [{ ...rec, state: 'RUNNING' as const }], tasks: [{ ...t, state: 'RUNNING' as const, cursor: 1, counts: { ...zeroCounts(), RUNNING: 1, SUBMITTED: 9 } }],
        instances: [inst(j.id, 0, 'RUNNING')],
        attempts: [{ jobId: j.id, taskName: 'A', index: 0, attempt: 1, launchTime: 1001, runningTime: null, endTime: null, exitCode: null, signal: null, reason: '', nodeId: null }],
      };
      const err = await s.applyBatch(batch, stale).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(FencedError);
      expect(err).toMatchObject({ code: 'Fenced', staleEpoch: stale, currentEpoch: current });
      expect((err as Error).message).toContain(`epoch ${stale}`);
      expect((err as Error).message).toContain(`epoch ${current}`);
      expect(await s.getJobById(j.id)).toEqual(rec);
      expect(await s.getTask(j.id, 'A')).toEqual(t);
      expect(await s.getInstance(j.id, 'A', 0)).toBeUndefined();
      expect(await s.attemptsOf(j.id, 'A', 0)).toEqual([]);
      expect((await s.jobWithTasks('acc-a', 'ap-guangzhou', j.id))?.job.state).toBe('SUBMITTED');
      await s.applyBatch(batch, current);
      expect((await s.getJobById(j.id))?.state).toBe('RUNNING');
      expect((await s.getInstance(j.id, 'A', 0))?.state).toBe('RUNNING');
      expect(await s.attemptsOf(j.id, 'A', 0)).toHaveLength(1);
      expect((await s.jobWithTasks('acc-a', 'ap-guangzhou', j.id))?.tasks[0]?.cursor).toBe(1);
      await s.close();
    });

    it('rejects applyEnvBatch with a stale epoch and writes nothing of it; the current epoch and no epoch write', async () => {
      const s = await f.create();
      const e = env();
      await s.insertEnvWithNodes(e, [], [], 10);
      const { stale, current } = await takenOver(s);
      const n = node(e.id);
      const batch = { envs: [{ ...e, name: 'renamed' }], nodes: [n], activities: [activity(n)] };
      await expect(s.applyEnvBatch(batch, stale)).rejects.toBeInstanceOf(FencedError);
      expect(await s.getEnvById(e.id)).toEqual(e);
      expect(await s.nodesOf(e.id)).toEqual([]);
      expect((await s.activitiesOf(e.id, undefined, 0, 10)).total).toBe(0);
      await expect(s.applyEnvBatch({ deleteEnvs: [e.id] }, stale)).rejects.toBeInstanceOf(FencedError);
      expect(await s.getEnvById(e.id)).toEqual(e);
      await s.applyEnvBatch(batch, current);
      expect((await s.getEnvById(e.id))?.name).toBe('renamed');
      expect(await s.nodesOf(e.id)).toEqual([n]);
      // the services' writes carry no epoch
      await s.applyEnvBatch({ nodes: [{ ...n, state: 'DELETING' }] });
      expect((await s.nodesOf(e.id))[0]?.state).toBe('DELETING');
      await s.close();
    });

    it('fences completeCommands and deleteJob too, and every write once the lease was released or never taken', async () => {
      const s = await f.create();
      await expect(s.applyBatch({ jobs: [], tasks: [], instances: [], attempts: [] }, 1)).rejects.toMatchObject({ currentEpoch: undefined });
      const j = job();
      await s.insertJob(j, [task(j.id)]);
      const { stale, current, b } = await takenOver(s);
      const [cmd] = await s.pendingCommands(0, 10);
      await expect(s.completeCommands([cmd!.id], stale)).rejects.toBeInstanceOf(FencedError);
      expect(await s.pendingCommands(0, 10)).toEqual([cmd]);
      await expect(s.deleteJob(j.id, stale)).rejects.toBeInstanceOf(FencedError);
      expect((await s.getJobById(j.id))?.id).toBe(j.id);
      await s.completeCommands([cmd!.id], current);
      expect(await s.pendingCommands(0, 10)).toEqual([]);
      // a lapsed lease nobody took over still writes: epochs fence, not clocks
      await s.applyBatch({ jobs: [], tasks: [], instances: [inst(j.id, 0, 'RUNNING')], attempts: [] }, current);
      expect((await s.getInstance(j.id, 'A', 0))?.state).toBe('RUNNING');
      await s.releaseLease(b);
      const err = await s.deleteJob(j.id, current).then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'Fenced', staleEpoch: current, currentEpoch: undefined });
      expect((await s.getJobById(j.id))?.id).toBe(j.id);
      await s.close();
    });
  });

  describe('command results', () => {
    it('answers pending, done and refused (with its reason) for a sender on any replica', async () => {
      const s = await f.create();
      const { epoch } = (await s.acquireLease('a', TTL, 1000))!;
      const c1 = await s.insertCommand({ kind: 'terminate-job', jobId: 'job-1', createdAt: 1 });
      const c2 = await s.insertCommand({ kind: 'delete-job', jobId: 'job-2', createdAt: 2 });
      const c3 = await s.insertCommand({ kind: 'retry-job', jobId: 'job-3', createdAt: 3 });
      expect(await s.commandResults([c1.id, c2.id, c3.id])).toEqual(new Map());
      await s.applyBatch({
        jobs: [], tasks: [], instances: [], attempts: [], completedCommands: [c1.id, c2.id],
        refusedCommands: [{ id: c2.id, reason: 'the job is still being processed', at: 5000 }],
      }, epoch);
      expect(await s.commandResults([c1.id, c2.id, c3.id])).toEqual(new Map([
        [c1.id, { done: true }], [c2.id, { done: false, reason: 'the job is still being processed' }],
      ]));
      expect(await s.commandResults([])).toEqual(new Map());
      // a stale leader's refusals are fenced with the rest of its batch
      const b = (await s.acquireLease('b', TTL, 1000 + TTL))!;
      await expect(s.applyBatch({ jobs: [], tasks: [], instances: [], attempts: [], completedCommands: [c3.id],
        refusedCommands: [{ id: c3.id, reason: 'no', at: 6000 }] }, epoch)).rejects.toBeInstanceOf(FencedError);
      expect((await s.commandResults([c3.id])).has(c3.id)).toBe(false);
      // reasons are kept for REFUSALS_KEPT_MS: a later refusal drops the ones older than that
      await s.applyBatch({ jobs: [], tasks: [], instances: [], attempts: [], completedCommands: [c3.id],
        refusedCommands: [{ id: c3.id, reason: 'later', at: 5000 + REFUSALS_KEPT_MS + 1 }] }, b.epoch);
      expect(await s.commandResults([c2.id, c3.id])).toEqual(new Map([[c2.id, { done: true }], [c3.id, { done: false, reason: 'later' }]]));
      await s.close();
    });
  });

  describe('request limits', () => {
    it('takes rate tokens from a bucket per key: a burst of perSecond, then perSecond a second', async () => {
      const s = await f.create();
      const take = async (key: string, n: number, at: number) => {
        let ok = 0;
        for (let i = 0; i < n; i++) if (await s.takeRateToken(key, 5, at)) ok++;
        return ok;
      };
      expect(await take('DescribeJob\u0000acc\u0000r', 8, 10_000)).toBe(5);
      expect(await take('DescribeJob\u0000acc\u0000r', 3, 10_000)).toBe(0);
      // another key has its own bucket
      expect(await take('DescribeJob\u0000acc2\u0000r', 1, 10_000)).toBe(1);
      // 400 ms later: 2 tokens back; a second later: full again, not more than the burst
      expect(await take('DescribeJob\u0000acc\u0000r', 5, 10_400)).toBe(2);
      expect(await take('DescribeJob\u0000acc\u0000r', 8, 12_000)).toBe(5);
      await s.close();
    });

    it('answers firstUse true once per key within its window', async () => {
      const s = await f.create();
      expect(await s.firstUse('sig-1', 1000, 60_000)).toBe(true);
      expect(await s.firstUse('sig-1', 1001, 60_000)).toBe(false);
      expect(await s.firstUse('sig-2', 1001, 60_000)).toBe(true);
      expect(await s.firstUse('sig-1', 60_999, 60_000)).toBe(false);
      // once the window has passed the key may be used again (and is recorded anew)
      expect(await s.firstUse('sig-1', 61_000, 60_000)).toBe(true);
      expect(await s.firstUse('sig-1', 61_001, 60_000)).toBe(false);
      await s.close();
    });
  });
}
