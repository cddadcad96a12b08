// The Store contract: every backend (SQLite now, PostgreSQL next) must pass these tests. This file:
// jobs, tasks, instances and job seqs; store-resources.contract.ts: envs, nodes, activities, templates,
// samples; store-coordination.contract.ts: commands, the leadership lease and fencing;
// store-replicas.contract.ts: the registry of replicas.
// store-events.contract.ts: events and their readers' cursors.
import { describe, expect, it } from 'vitest';
import { zeroCounts } from '../../src/domain/states.ts';
import type { JobRecord, Store, TaskRecord } from '../../src/store/types.ts';
import { coordinationContract } from './store-coordination.contract.ts';
import { inst, job, task, type StoreFactory } from './store-fixtures.ts';
import { replicasContract } from './store-replicas.contract.ts';
import { eventsContract } from './store-events.contract.ts';
import { resourcesContract } from './store-resources.contract.ts';

export type { StoreFactory } from './store-fixtures.ts';

/** A stored job: what was inserted plus the seq the store gave it. */
const stored = <T extends object>(j: T) => ({ ...j, seq: expect.any(Number) });

/** The record the scheduler would hold for an inserted job (read back, with its seq). */
async function held(s: Store, id: string): Promise<JobRecord> {
  const r = await s.getJobById(id);
  if (!r) throw new Error(`job ${id} is not stored`);
  return r;
}

export function storeContract(name: string, f: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    it('inserts a job with its tasks and reads it back only for its owner and region', async () => {
      const s = await f.create();
      const j = job({ tags: [{ Key: 'k', Value: 'v' }] });
      expect(await s.insertJob(j, [task(j.id, 'A'), task(j.id, 'B', 5, { ord: 1 })])).toEqual({ jobId: j.id, created: true });
      expect(await s.getJob('acc-a', 'ap-guangzhou', j.id)).toEqual(stored(j));
      expect(await s.getJob('acc-b', 'ap-guangzhou', j.id)).toBeUndefined();
      expect(await s.getJob('acc-a', 'ap-shanghai', j.id)).toBeUndefined();
      expect((await s.getTasks(j.id)).map((t) => t.name)).toEqual(['A', 'B']);
      expect((await s.jobWithTasks('acc-a', 'ap-guangzhou', j.id))?.tasks).toHaveLength(2);
      expect(await s.jobWithTasks('acc-b', 'ap-guangzhou', j.id)).toBeUndefined();
      await s.close();
    });

    it('makes SubmitJob idempotent per account and region with a client token', async () => {
      const s = await f.create();
      const a = job({ clientToken: 'tok' });
      const b = job({ clientToken: 'tok' });
      expect((await s.insertJob(a, [task(a.id)])).created).toBe(true);
      expect(await s.insertJob(b, [task(b.id)])).toEqual({ jobId: a.id, created: false });
      expect(await s.getJob('acc-a', 'ap-guangzhou', b.id)).toBeUndefined();
      const other = job({ clientToken: 'tok', account: 'acc-b' });
      expect((await s.insertJob(other, [task(other.id)])).created).toBe(true);
      await s.close();
    });

    it('lists jobs newest first with filters and the full TotalCount', async () => {
      const s = await f.create();
      const jobs = [
        job({ name: 'x', zone: 'ap-guangzhou-3', tags: [{ Key: 'team', Value: 'a' }] }),
        job({ name: 'y', state: 'RUNNING', tags: [{ Key: 'team', Value: 'b' }, { Key: 'env', Value: 'prod' }] }),
        job({ name: 'x', state: 'FAILED' }),
        job({ name: 'z', account: 'acc-b' }),
      ];
      for (const j of jobs) await s.insertJob(j, [task(j.id)]);
      const ids = async (filters: { name: string; values: string[] }[], offset = 0, limit = 20) => {
        const r = await s.listJobs('acc-a', 'ap-guangzhou', { filters, offset, limit });
        return [r.total, r.jobs.map((j) => j.id)];
      };
      expect(await ids([])).toEqual([3, [jobs[2]!.id, jobs[1]!.id, jobs[0]!.id]]);
      expect(await ids([], 1, 1)).toEqual([3, [jobs[1]!.id]]);
      expect(await ids([{ name: 'job-name', values: ['x'] }])).toEqual([2, [jobs[2]!.id, jobs[0]!.id]]);
      expect(await ids([{ name: 'job-state', values: ['RUNNING', 'FAILED'] }, { name: 'job-name', values: ['y'] }])).toEqual([1, [jobs[1]!.id]]);
      expect(await ids([{ name: 'zone', values: ['ap-guangzhou-3'] }])).toEqual([1, [jobs[0]!.id]]);
      expect(await ids([{ name: 'tag-key', values: ['env'] }])).toEqual([1, [jobs[1]!.id]]);
      expect(await ids([{ name: 'tag-value', values: ['a', 'b'] }])).toEqual([2, [jobs[1]!.id, jobs[0]!.id]]);
      expect(await ids([{ name: 'tag:team', values: ['b'] }])).toEqual([1, [jobs[1]!.id]]);
      expect(await ids([{ name: 'job-id', values: [jobs[3]!.id] }])).toEqual([0, []]);
      // SQL-looking input is data, not SQL
      expect(await ids([{ name: 'job-name', values: ["x' OR '1'='1"] }])).toEqual([0, []]);
      expect(await ids([{ name: "tag:team' --", values: ['a'] }])).toEqual([0, []]);
      const byIds = await s.listJobs('acc-a', 'ap-guangzhou', { jobIds: [jobs[0]!.id, jobs[3]!.id], offset: 0, limit: 20 });
      expect(byIds.jobs.map((j) => j.id)).toEqual([jobs[0]!.id]);
      const states = await s.taskStatesOf([jobs[0]!.id, jobs[1]!.id]);
      expect(states.get(jobs[0]!.id)).toEqual(['SUBMITTED']);
      await s.close();
    });

    it('keeps TotalCount by state right through state changes and deletes', async () => {
      const s = await f.create();
      const a = [job(), job(), job({ state: 'RUNNING' }), job({ account: 'acc-b', state: 'RUNNING' }), job({ region: 'ap-shanghai' })];
      for (const j of a) await s.insertJob(j, [task(j.id)]);
      const [a0, a2] = [await held(s, a[0]!.id), await held(s, a[2]!.id)];
      const total = async (states?: string[][], account = 'acc-a', region = 'ap-guangzhou') =>
        (await s.listJobs(account, region, { filters: states?.map((values) => ({ name: 'job-state', values })), offset: 0, limit: 1 })).total;
      expect([await total(), await total([['SUBMITTED']]), await total([['RUNNING']])]).toEqual([3, 2, 1]);
      // an update that changes the state moves the job between counts; one that keeps it does not
      await s.applyBatch({ jobs: [{ ...a0, state: 'RUNNING' }, { ...a2, stateReason: 'same state' }], tasks: [], instances: [], attempts: [] });
      expect([await total([['SUBMITTED']]), await total([['RUNNING']])]).toEqual([1, 2]);
      await s.applyBatch({ jobs: [{ ...a0, state: 'SUCCEED' }, { ...a2, state: 'FAILED' }], tasks: [], instances: [], attempts: [] });
      expect(await total([['SUCCEED', 'FAILED']])).toBe(2);
      // several state filters are ANDed
      expect(await total([['SUCCEED', 'FAILED'], ['FAILED', 'RUNNING']])).toBe(1);
      expect(await total([['SUCCEED'], ['FAILED']])).toBe(0);
      await s.deleteJob(a[2]!.id);
      expect([await total(), await total([['FAILED']])]).toEqual([2, 0]);
      // other owners are counted apart
      expect([await total(undefined, 'acc-b'), await total(undefined, 'acc-a', 'ap-shanghai')]).toEqual([1, 1]);
      await s.close();
    });

    it('upserts batches, loads what is active, pages instances, and deletes a job whole', async () => {
      const s = await f.create();
      const j = job();
      const t = task(j.id, 'A', 10);
      await s.insertJob(j, [t]);
      const jr = await held(s, j.id);
      // 4 instances dispatched: 2 succeeded, 2 running; instance 7 terminated early
      const rows = [inst(j.id, 0, 'SUCCEED'), inst(j.id, 1, 'SUCCEED'), inst(j.id, 2, 'RUNNING'), inst(j.id, 3, 'RUNNING'), { ...inst(j.id, 7, 'FAILED'), attempt: 0 }];
      const t2: TaskRecord = {
        ...t, state: 'RUNNING', cursor: 4, counts: { ...zeroCounts(), SUCCEED: 2, RUNNING: 2, RUNNABLE: 5, FAILED: 1 },
        wait: { state: 'RUNNABLE', reason: 'WaitingForCapacity', detail: 'busy', endTime: null },
      };
      await s.applyBatch({
        jobs: [{ ...jr, state: 'RUNNING' }], tasks: [t2], instances: rows,
        attempts: [{ jobId: j.id, taskName: 'A', index: 0, attempt: 1, launchTime: 1001, runningTime: 1002, endTime: 1003, exitCode: 0, signal: null, reason: '', nodeId: null }],
      });
      expect((await s.getJob('acc-a', 'ap-guangzhou', j.id))?.state).toBe('RUNNING');
      expect(await s.getTask(j.id, 'A')).toEqual(t2);
      expect(await s.getInstance(j.id, 'A', 2)).toEqual(rows[2]);
      expect(await s.attemptsOf(j.id, 'A', 0)).toHaveLength(1);
      const active = await s.loadActive();
      expect(active.jobs.map((x) => x.id)).toContain(j.id);
      // running rows and rows beyond the cursor, not the finished ones below it
      expect(active.instances.filter((x) => x.jobId === j.id).map((x) => x.index).sort()).toEqual([2, 3, 7]);
      const page = await s.instancePage(j.id, 'A', ['RUNNABLE'], 0, 3);
      expect(page?.total).toBe(5);
      expect(page?.items.map((x) => x.index)).toEqual([4, 5, 6]);
      expect((await s.instancePage(j.id, 'A', undefined, 6, 3))?.items.map((x) => `${x.index}:${x.state}`)).toEqual(['6:RUNNABLE', '7:FAILED', '8:RUNNABLE']);
      expect(await s.countInstanceRows(j.id, 'A', ['SUCCEED'], 0, 10)).toBe(2);
      expect(await s.instancePage(j.id, 'Z', undefined, 0, 3)).toBeUndefined();
      // an update of the same row replaces it
      await s.applyBatch({ jobs: [], tasks: [], instances: [{ ...rows[2]!, state: 'SUCCEED', exitCode: 0, endTime: 2000, handle: null }], attempts: [] });
      expect((await s.getInstance(j.id, 'A', 2))?.state).toBe('SUCCEED');
      await s.deleteJob(j.id);
      expect(await s.getJob('acc-a', 'ap-guangzhou', j.id)).toBeUndefined();
      expect(await s.getTasks(j.id)).toEqual([]);
      expect(await s.getInstance(j.id, 'A', 3)).toBeUndefined();
      expect(await s.attemptsOf(j.id, 'A', 0)).toEqual([]);
      await s.close();
    });

    it('answers the compute nodes an instance of an active job is starting or running on', async () => {
      const s = await f.create();
      expect(await s.busyNodes()).toEqual(new Set());
      const [a, b] = [job(), job()];
      for (const j of [a, b]) await s.insertJob(j, [task(j.id, 'A', 6), task(j.id, 'B', 2, { ord: 1 })]);
      const on = (i: ReturnType<typeof inst>, nodeId: string | null) => ({ ...i, nodeId });
      await s.applyBatch({
        jobs: [{ ...(await held(s, a.id)), state: 'RUNNING' }], tasks: [],
        instances: [on(inst(a.id, 0, 'RUNNING'), 'ins-run'), on(inst(a.id, 1, 'STARTING'), 'ins-start'), on(inst(a.id, 2, 'SUCCEED'), 'ins-done'),
          on(inst(a.id, 3, 'FAILED'), 'ins-failed'), on(inst(a.id, 4, 'RUNNING'), null), on(inst(a.id, 0, 'RUNNING', 'B'), 'ins-run'),
          on(inst(b.id, 0, 'RUNNING', 'B'), 'ins-b')],
        attempts: [],
      });
      expect(await s.busyNodes()).toEqual(new Set(['ins-run', 'ins-start', 'ins-b']));
      // an instance that ends frees its node; a finished job holds none (whatever its rows say)
      await s.applyBatch({
        jobs: [{ ...(await held(s, b.id)), state: 'FAILED' }], tasks: [],
        instances: [on(inst(a.id, 1, 'SUCCEED'), 'ins-start')], attempts: [],
      });
      expect(await s.busyNodes()).toEqual(new Set(['ins-run']));
      await s.close();
    });

    it('answers jobWithTasks with what was last written, read after read, and no caller can change what the next one reads', async () => {
      const s = await f.create();
      const j = job();
      const t = task(j.id, 'A', 10);
      await s.insertJob(j, [t]);
      const jr = await held(s, j.id);
      const read = () => s.jobWithTasks('acc-a', 'ap-guangzhou', j.id);
      expect((await read())?.job.state).toBe('SUBMITTED');
      // records may be shared (frozen) or copies: either way a caller that tries to change what it got
      // does not change what the next caller gets
      const mine = (await read())!;
      const attempt = (change: () => void) => {
        try {
          change();
        } catch (e) {
          expect(e).toBeInstanceOf(TypeError); // frozen
        }
      };
      attempt(() => (mine.job.state = 'FAILED'));
      attempt(() => (mine.tasks[0]!.counts.SUBMITTED = 0));
      attempt(() => (mine.job.spec.dependences as unknown[]).push({}));
      expect((await read())?.job.state).toBe('SUBMITTED');
      expect((await read())?.tasks[0]?.counts.SUBMITTED).toBe(10);
      expect((await read())?.job.spec.dependences).toEqual(j.spec.dependences);
      // a task written alone, then the job written alone
      await s.applyBatch({ jobs: [], tasks: [{ ...t, state: 'RUNNING', counts: { ...zeroCounts(), RUNNING: 10 } }], instances: [], attempts: [] });
      expect((await read())?.tasks[0]?.state).toBe('RUNNING');
      expect((await read())?.tasks[0]?.counts.RUNNING).toBe(10);
      expect((await read())?.job.state).toBe('SUBMITTED');
      await s.applyBatch({ jobs: [{ ...jr, state: 'RUNNING' }], tasks: [], instances: [], attempts: [] });
      expect((await read())?.job.state).toBe('RUNNING');
      expect(await s.jobWithTasks('acc-b', 'ap-guangzhou', j.id)).toBeUndefined();
      expect(await s.jobWithTasks('acc-a', 'ap-shanghai', j.id)).toBeUndefined();
      await s.deleteJob(j.id);
      expect(await read()).toBeUndefined();
      // a late write of a deleted job's progress does not bring its rows back
      await s.applyBatch({ jobs: [{ ...jr, state: 'SUCCEED' }], tasks: [{ ...t, state: 'SUCCEED' }], instances: [], attempts: [] });
      expect(await read()).toBeUndefined();
      expect(await s.getTasks(j.id)).toEqual([]);
      await s.close();
    });

    it('takes job seqs from the database: increasing, read back by every read, never reused, kept across a reopen', async () => {
      const s = await f.create();
      const [a, b, c] = [job(), job({ account: 'acc-b' }), job()];
      for (const j of [a, b, c]) await s.insertJob(j, [task(j.id)]);
      const [sa, sb, sc] = [(await held(s, a.id)).seq, (await held(s, b.id)).seq, (await held(s, c.id)).seq];
      expect(Number.isInteger(sa)).toBe(true);
      expect(sa).toBeLessThan(sb);
      expect(sb).toBeLessThan(sc);
      // every read carries the same seq
      expect((await s.getJob('acc-a', 'ap-guangzhou', c.id))?.seq).toBe(sc);
      expect((await s.jobWithTasks('acc-a', 'ap-guangzhou', c.id))?.job.seq).toBe(sc);
      expect((await s.listJobs('acc-a', 'ap-guangzhou', { offset: 0, limit: 10 })).jobs.map((x) => x.seq)).toEqual([sc, sa]);
      expect((await s.loadActive()).jobs.map((x) => [x.id, x.seq])).toEqual([[a.id, sa], [b.id, sb], [c.id, sc]]);
      // the newest job deleted, its seq is not given again (seqs may have gaps: a backend's sequence may
      // skip values)
      const t1 = job({ clientToken: 'seq-tok' });
      await s.insertJob(t1, [task(t1.id)]);
      const s1 = (await held(s, t1.id)).seq;
      expect(s1).toBeGreaterThan(sc);
      expect((await s.insertJob(job({ clientToken: 'seq-tok' }), [])).created).toBe(false);
      await s.deleteJob(t1.id);
      const d = job();
      await s.insertJob(d, [task(d.id)]);
      const sd = (await held(s, d.id)).seq;
      expect(sd).toBeGreaterThan(s1);
      if (f.reopen) {
        const again = await f.reopen(s);
        const e = job();
        await again.insertJob(e, [task(e.id)]);
        expect((await held(again, e.id)).seq).toBeGreaterThan(sd);
        await again.close();
      } else {
        await s.close();
      }
    });

    it('keeps everything across a reopen', async () => {
      if (!f.reopen) return;
      const s = await f.create();
      const j = job();
      await s.insertJob(j, [task(j.id)]);
      await s.applyBatch({ jobs: [], tasks: [], instances: [inst(j.id, 0, 'RUNNING')], attempts: [] });
      const again = await f.reopen(s);
      expect(await again.getJob('acc-a', 'ap-guangzhou', j.id)).toEqual(stored(j));
      expect((await again.getInstance(j.id, 'A', 0))?.handle).toEqual({ pid: 42 });
      await again.close();
    });
    it('writes the end samples and completes the commands of a batch with it, and none of a fenced one', async () => {
      const s = await f.create();
      const j = job();
      await s.insertJob(j, [task(j.id)]);
      const queued = (await s.pendingCommands(0, 10)).map((c) => c.id); // the job's `submitted`
      const terminate = await s.insertCommand({ kind: 'terminate-job', jobId: j.id, createdAt: 1 });
      const sample = (attempt: number, ts: number) => ({ jobId: j.id, taskName: 'A', index: 0, attempt, ts, cpu: 12.5, mem: 3, disk: 40 });
      const lease = (await s.acquireLease('me', 10_000, 0))!;
      await s.applyBatch({ jobs: [], tasks: [], instances: [inst(j.id, 0, 'SUCCEED')], attempts: [], samples: [sample(1, 100)], completedCommands: queued }, lease.epoch);
      expect(await s.samplesOf(j.id, 'A', 0, 0, 1000)).toEqual([sample(1, 100)]);
      expect((await s.pendingCommands(0, 10)).map((c) => c.id)).toEqual([terminate.id]);
      // another holder takes the lease over: the former one's batch writes nothing, samples included
      const other = (await s.acquireLease('other', 10_000, 20_000))!;
      expect(other.epoch).toBeGreaterThan(lease.epoch);
      await expect(s.applyBatch({ jobs: [], tasks: [], instances: [inst(j.id, 0, 'FAILED')], attempts: [], samples: [sample(2, 200)], completedCommands: [terminate.id] }, lease.epoch))
        .rejects.toMatchObject({ code: 'Fenced' });
      expect((await s.pendingCommands(0, 10)).map((c) => c.id)).toEqual([terminate.id]);
      expect(await s.samplesOf(j.id, 'A', 0, 0, 1000)).toEqual([sample(1, 100)]);
      expect((await s.getInstance(j.id, 'A', 0))?.state).toBe('SUCCEED');
      await s.close();
    });
    resourcesContract(f);
    coordinationContract(f);
    replicasContract(f);
    eventsContract(f);
  });
}
