// The Store contract of DescribeJobs' listing (listJobs) and of loadActive, run on every backend: each
// filter alone and combined, several values, a filter given twice, paging across the ranges of several
// values, the exact TotalCount, newest first, account and region apart, deletes and state changes moving
// jobs between filters, and what a reopen keeps. Expectations come from a plain model of the filters
// over the inserted jobs (written here, not the store's code); a seeded random run compares many more.
import { describe, expect, it } from 'vitest';
import type { JobFilter, JobRecord, NewJobRecord, Store, Tag } from '../../src/store/types.ts';
import { inst, job, task, type StoreFactory } from './store-fixtures.ts';

type F = { name: string; values: string[] }[];

/** The model: which of `jobs` (the owner's and others') a listing returns, newest first. */
function model(jobs: JobRecord[], account: string, region: string, q: JobFilter): { total: number; ids: string[] } {
  const has = (tags: Tag[], key?: string, value?: string) => tags.some((t) => (key === undefined || t.Key === key) && (value === undefined || t.Value === value));
  const ok = (j: JobRecord) => j.account === account && j.region === region && (q.jobIds === undefined || q.jobIds.includes(j.id))
    && (q.filters ?? []).every((f) => f.values.some((v) => {
      switch (f.name) {
        case 'job-id': return j.id === v;
        case 'job-name': return j.name === v;
        case 'job-state': return j.state === v;
        case 'zone': return j.zone === v;
        case 'tag-key': return has(j.tags, v);
        case 'tag-value': return has(j.tags, undefined, v);
        default: return has(j.tags, f.name.slice(4), v);
      }
    }));
  const all = jobs.filter(ok).sort((a, b) => b.seq - a.seq);
  return { total: all.length, ids: all.slice(q.offset, q.offset + q.limit).map((j) => j.id) };
}

/** A seeded generator (the random run is the same every time). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OWNER = ['acc-a', 'ap-guangzhou'] as const;

export function listingContract(name: string, f: StoreFactory): void {
  describe(`Store listing contract: ${name}`, () => {
    /** Inserts the jobs and reads them back (with their seqs); `all` is what the store holds. */
    async function fill(s: Store, js: NewJobRecord[]): Promise<JobRecord[]> {
      const out: JobRecord[] = [];
      for (const j of js) {
        await s.insertJob(j, [task(j.id)]);
        out.push((await s.getJobById(j.id))!);
      }
      return out;
    }

    async function expectListing(s: Store, all: JobRecord[], filters: F, offset = 0, limit = 20, owner: readonly [string, string] = OWNER): Promise<void> {
      const q = { filters, offset, limit };
      const got = await s.listJobs(owner[0], owner[1], q);
      expect({ total: got.total, ids: got.jobs.map((j) => j.id) }, JSON.stringify(q)).toEqual(model(all, owner[0], owner[1], q));
    }

    function sample(): NewJobRecord[] {
      return [
        job({ name: 'etl', zone: 'ap-guangzhou-2', state: 'SUCCEED', tags: [{ Key: 'team', Value: 'ml' }, { Key: 'env', Value: 'prod' }] }),
        job({ name: 'etl', zone: 'ap-guangzhou-3', state: 'FAILED', tags: [{ Key: 'team', Value: 'web' }] }),
        job({ name: 'train', zone: 'ap-guangzhou-2', state: 'RUNNING', tags: [{ Key: 'team', Value: 'ml' }, { Key: 'owner', Value: 'ml' }] }),
        job({ name: 'etl', zone: 'ap-guangzhou-2', state: 'SUCCEED', tags: [] }),
        job({ name: 'report', zone: 'ap-guangzhou-4', state: 'SUBMITTED', tags: [{ Key: 'env', Value: 'dev' }, { Key: 'team', Value: 'ml' }] }),
        job({ name: 'train', zone: 'ap-guangzhou-3', state: 'FAILED', tags: [{ Key: 'env', Value: 'prod' }] }),
        // the same names and tags in another account and another region: never counted for acc-a/ap-guangzhou
        job({ name: 'etl', account: 'acc-b', state: 'SUCCEED', tags: [{ Key: 'team', Value: 'ml' }] }),
        job({ name: 'etl', region: 'ap-shanghai', zone: 'ap-shanghai-2', state: 'FAILED', tags: [{ Key: 'team', Value: 'ml' }] }),
      ];
    }

    it('answers each filter alone, with one value and several, newest first with the exact TotalCount', async () => {
      const s = await f.create();
      const all = await fill(s, sample());
      const cases: F[] = [
        [],
        [{ name: 'job-name', values: ['etl'] }],
        [{ name: 'job-name', values: ['etl', 'train', 'missing'] }],
        [{ name: 'job-state', values: ['FAILED'] }],
        [{ name: 'job-state', values: ['SUCCEED', 'RUNNING'] }],
        [{ name: 'zone', values: ['ap-guangzhou-2'] }],
        [{ name: 'zone', values: ['ap-guangzhou-3', 'ap-guangzhou-4'] }],
        [{ name: 'tag-key', values: ['env'] }],
        // a job with both keys (or both values) is one match, not two
        [{ name: 'tag-key', values: ['env', 'team'] }],
        [{ name: 'tag-value', values: ['ml'] }],
        [{ name: 'tag-value', values: ['ml', 'prod'] }],
        [{ name: 'tag:team', values: ['ml'] }],
        [{ name: 'tag:team', values: ['ml', 'web'] }],
        [{ name: 'tag:owner', values: ['web'] }],
        [{ name: 'job-id', values: [all[2]!.id, all[0]!.id, all[6]!.id] }],
        // duplicated values count once
        [{ name: 'job-name', values: ['etl', 'etl'] }],
        [{ name: 'tag-key', values: ['team', 'team'] }],
        [{ name: 'job-state', values: ['FAILED', 'FAILED'] }],
      ];
      for (const c of cases) await expectListing(s, all, c);
      expect((await s.listJobs('acc-a', 'ap-guangzhou', { filters: [{ name: 'tag-key', values: ['env', 'team'] }], offset: 0, limit: 20 })).total).toBe(5);
      await s.close();
    });

    it('ANDs filters, intersects a filter given twice, and finds nothing in an empty intersection', async () => {
      const s = await f.create();
      const all = await fill(s, sample());
      const cases: F[] = [
        [{ name: 'job-name', values: ['etl'] }, { name: 'job-state', values: ['SUCCEED'] }],
        [{ name: 'job-state', values: ['FAILED', 'RUNNING'] }, { name: 'tag:team', values: ['ml'] }],
        [{ name: 'zone', values: ['ap-guangzhou-2'] }, { name: 'tag-key', values: ['env'] }, { name: 'job-name', values: ['etl'] }],
        [{ name: 'tag-key', values: ['team'] }, { name: 'tag-key', values: ['env'] }],
        [{ name: 'tag-value', values: ['ml'] }, { name: 'tag-value', values: ['prod', 'dev'] }],
        [{ name: 'tag:team', values: ['ml'] }, { name: 'tag:env', values: ['prod'] }],
        [{ name: 'job-name', values: ['etl', 'train'] }, { name: 'job-name', values: ['train', 'report'] }],
        [{ name: 'job-name', values: ['etl'] }, { name: 'job-name', values: ['train'] }],
        [{ name: 'job-state', values: ['SUCCEED'] }, { name: 'job-state', values: ['FAILED'] }],
        [{ name: 'job-id', values: [all[0]!.id, all[1]!.id] }, { name: 'job-state', values: ['FAILED'] }],
        [{ name: 'job-id', values: [all[0]!.id] }, { name: 'job-id', values: [all[1]!.id] }],
        [{ name: 'job-id', values: [all[0]!.id, all[4]!.id] }, { name: 'tag:team', values: ['ml'] }, { name: 'tag-value', values: ['dev'] }],
        [{ name: 'zone', values: ['ap-guangzhou-9'] }, { name: 'job-state', values: ['SUCCEED'] }],
      ];
      for (const c of cases) await expectListing(s, all, c);
      await s.close();
    });

    it('pages with Offset and Limit across the ranges of several values, to the end and past it', async () => {
      const s = await f.create();
      const js: NewJobRecord[] = [];
      for (let i = 0; i < 30; i++) {
        js.push(job({ name: ['a', 'b', 'c'][i % 3]!, state: i % 4 === 0 ? 'FAILED' : 'SUCCEED', tags: i % 2 ? [{ Key: 'k', Value: String(i % 5) }] : [] }));
      }
      const all = await fill(s, js);
      for (const filters of [[], [{ name: 'job-name', values: ['a', 'c'] }], [{ name: 'tag:k', values: ['1', '3', '4'] }],
        [{ name: 'job-state', values: ['FAILED', 'SUCCEED'] }, { name: 'job-name', values: ['b', 'a'] }]] as F[]) {
        for (const [offset, limit] of [[0, 1], [0, 7], [3, 5], [7, 7], [14, 100], [19, 3], [29, 5], [30, 5], [100, 20], [5, 0]] as const) {
          await expectListing(s, all, filters, offset, limit);
        }
      }
      // JobIds (DescribeJobs' JobIds) page alike
      const ids = all.filter((_, i) => i % 3 === 0).map((j) => j.id);
      const got = await s.listJobs('acc-a', 'ap-guangzhou', { jobIds: ids, offset: 2, limit: 3 });
      expect({ total: got.total, ids: got.jobs.map((j) => j.id) }).toEqual(model(all, 'acc-a', 'ap-guangzhou', { jobIds: ids, offset: 2, limit: 3 }));
      await s.close();
    });

    it('keeps owners apart: the same filters count only the asking account and region', async () => {
      const s = await f.create();
      const all = await fill(s, sample());
      for (const owner of [['acc-b', 'ap-guangzhou'], ['acc-a', 'ap-shanghai'], ['acc-c', 'ap-guangzhou']] as const) {
        for (const c of [[], [{ name: 'job-name', values: ['etl'] }], [{ name: 'tag:team', values: ['ml'] }], [{ name: 'job-state', values: ['FAILED'] }],
          [{ name: 'job-id', values: [all[6]!.id, all[7]!.id] }]] as F[]) {
          await expectListing(s, all, c, 0, 20, owner);
        }
      }
      await s.close();
    });

    it('moves jobs between filters as their state changes and forgets deleted jobs everywhere', async () => {
      const s = await f.create();
      let all = await fill(s, sample());
      const filters: F[] = [
        [], [{ name: 'job-state', values: ['RUNNING'] }], [{ name: 'job-state', values: ['SUCCEED'] }],
        [{ name: 'job-name', values: ['etl'] }], [{ name: 'tag:team', values: ['ml'] }], [{ name: 'tag-value', values: ['ml'] }],
        [{ name: 'zone', values: ['ap-guangzhou-2'] }], [{ name: 'job-state', values: ['SUCCEED'] }, { name: 'tag:team', values: ['ml'] }],
      ];
      const check = async () => {
        for (const c of filters) await expectListing(s, all, c);
      };
      await check();
      const moved = [{ ...all[2]!, state: 'SUCCEED' as const, endTime: 5000 }, { ...all[4]!, state: 'RUNNING' as const }];
      await s.applyBatch({ jobs: moved, tasks: [], instances: [], attempts: [] });
      all = all.map((j) => moved.find((m) => m.id === j.id) ?? j);
      await check();
      for (const gone of [all[0]!, all[2]!, all[6]!]) {
        await s.deleteJob(gone.id);
        all = all.filter((j) => j.id !== gone.id);
        await check();
      }
      // a job of the same name and tags inserted after the deletes counts again
      all.push(...await fill(s, [job({ name: 'etl', zone: 'ap-guangzhou-2', state: 'SUCCEED', tags: [{ Key: 'team', Value: 'ml' }] })]));
      await check();
      if (f.reopen) {
        const again = await f.reopen(s);
        for (const c of filters) {
          const q = { filters: c, offset: 0, limit: 20 };
          const got = await again.listJobs('acc-a', 'ap-guangzhou', q);
          expect({ total: got.total, ids: got.jobs.map((j) => j.id) }).toEqual(model(all, 'acc-a', 'ap-guangzhou', q));
        }
        await again.close();
      } else {
        await s.close();
      }
    });

    it('counts a state and one facet asked together through finishing, retries, interruptions and deletes', async () => {
      const s = await f.create();
      const tags = (...kv: [string, string][]) => kv.map(([Key, Value]) => ({ Key, Value }));
      let all = await fill(s, [
        job({ name: 'etl', state: 'RUNNING', tags: tags(['team', 'ml'], ['owner', 'ml']) }),
        job({ name: 'etl', state: 'RUNNING', tags: tags(['team', 'ml']) }),
        job({ name: 'etl', state: 'SUBMITTED', tags: tags(['team', 'web']) }),
        job({ name: 'train', state: 'FAILED', tags: tags(['team', 'ml']) }),
        job({ name: 'etl', state: 'SUCCEED', tags: tags(['team', 'ml'], ['env', 'ml']) }),
        job({ name: 'etl', state: 'FAILED_INTERRUPTED', tags: tags(['team', 'ml']) }),
        job({ name: 'etl', account: 'acc-b', state: 'FAILED', tags: tags(['team', 'ml']) }),
      ]);
      const filters: F[] = [];
      for (const states of [['FAILED'], ['SUCCEED', 'FAILED'], ['RUNNING'], ['RUNNING', 'FAILED', 'SUBMITTED'], ['FAILED_INTERRUPTED', 'SUCCEED'],
        ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEED', 'FAILED', 'FAILED_INTERRUPTED']]) {
        for (const facet of [{ name: 'job-name', values: ['etl'] }, { name: 'job-name', values: ['etl', 'train'] }, { name: 'tag:team', values: ['ml'] },
          { name: 'tag:team', values: ['ml', 'web'] }, { name: 'tag-value', values: ['ml'] }, { name: 'tag-key', values: ['env'] }, { name: 'zone', values: ['ap-guangzhou-2'] }]) {
          filters.push([{ name: 'job-state', values: states }, facet], [facet, { name: 'job-state', values: states }]);
        }
      }
      const check = async () => {
        for (const c of filters) await expectListing(s, all, c);
      };
      await check();
      const change = async (moves: [number, JobRecord['state']][]) => {
        const moved = moves.map(([i, state]) => ({ ...all[i]!, state }));
        await s.applyBatch({ jobs: moved, tasks: [], instances: [], attempts: [] });
        all = all.map((j) => moved.find((m) => m.id === j.id) ?? j);
        await check();
      };
      // several jobs with the same values finish in one batch
      await change([[0, 'FAILED'], [1, 'FAILED'], [2, 'SUCCEED']]);
      // RetryJobs: finished jobs run again; one finishes otherwise
      await change([[0, 'RUNNABLE'], [3, 'PENDING'], [5, 'FAILED']]);
      await change([[0, 'SUCCEED'], [3, 'FAILED'], [4, 'RUNNING']]);
      for (const i of [1, 3]) {
        await s.deleteJob(all[i]!.id);
        all = all.filter((j) => j.id !== all[i]!.id);
        await check();
      }
      await s.close();
    });

    it('treats filter values as data (quotes, SQL, percent signs, non-ASCII) and matches them exactly', async () => {
      const s = await f.create();
      const all = await fill(s, [
        job({ name: "it's", tags: [{ Key: "k'; DROP TABLE jobs; --", Value: '100%' }] }),
        job({ name: 'It\'s', tags: [{ Key: 'k', Value: '作业' }] }),
        job({ name: 'etl_%', tags: [{ Key: 'k', Value: 'a\\b' }] }),
      ]);
      for (const c of [[{ name: 'job-name', values: ["it's"] }], [{ name: 'job-name', values: ['etl_%', 'etl'] }], [{ name: 'job-name', values: ['%'] }],
        [{ name: "tag:k'; DROP TABLE jobs; --", values: ['100%'] }], [{ name: 'tag-value', values: ['作业', 'a\\b'] }], [{ name: 'tag-key', values: ['K'] }]] as F[]) {
        await expectListing(s, all, c);
      }
      await s.close();
    });

    it('agrees with the model on a seeded random history and random queries', async () => {
      const s = await f.create();
      const r = rng(20240514);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
      const NAMES = ['a', 'b', 'c', 'd'];
      const STATES = ['SUBMITTED', 'RUNNING', 'SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'] as const;
      const ZONES = ['ap-guangzhou-2', 'ap-guangzhou-3'];
      const KEYS = ['k1', 'k2', 'k3'];
      const VALUES = ['x', 'y', 'z'];
      const js: NewJobRecord[] = [];
      for (let i = 0; i < 80; i++) {
        const tags = KEYS.filter(() => r() < 0.5).map((Key) => ({ Key, Value: pick(VALUES) }));
        js.push(job({
          name: pick(NAMES), state: pick(STATES), zone: pick(ZONES), tags,
          account: r() < 0.85 ? 'acc-a' : 'acc-b', region: r() < 0.9 ? 'ap-guangzhou' : 'ap-shanghai',
        }));
      }
      let all = await fill(s, js);
      const some = <T>(xs: readonly T[]) => {
        const out = xs.filter(() => r() < 0.4);
        return out.length ? out : [pick(xs)];
      };
      const randomFilter = (): F[number] => {
        switch (Math.floor(r() * 7)) {
          case 0: return { name: 'job-name', values: some(NAMES) };
          case 1: return { name: 'job-state', values: some(STATES) };
          case 2: return { name: 'zone', values: some(ZONES) };
          case 3: return { name: 'tag-key', values: some(KEYS) };
          case 4: return { name: 'tag-value', values: some(VALUES) };
          case 5: return { name: `tag:${pick(KEYS)}`, values: some(VALUES) };
          default: return { name: 'job-id', values: some(all.map((j) => j.id)) };
        }
      };
      for (let round = 0; round < 150; round++) {
        const filters = Array.from({ length: Math.floor(r() * 4) }, randomFilter);
        await expectListing(s, all, filters, Math.floor(r() * 3) === 0 ? Math.floor(r() * 40) : 0, 1 + Math.floor(r() * 25));
        if (round % 25 === 24) {
          // some state changes and a delete between rounds
          const moved = all.filter(() => r() < 0.2).map((j) => ({ ...j, state: pick(STATES) }));
          await s.applyBatch({ jobs: moved, tasks: [], instances: [], attempts: [] });
          const gone = pick(all);
          await s.deleteJob(gone.id);
          all = all.map((j) => moved.find((m) => m.id === j.id) ?? j).filter((j) => j.id !== gone.id);
        }
      }
      await s.close();
    });

    it('loads exactly the active jobs (not finished, or with a next action), their tasks and their live instance rows', async () => {
      const s = await f.create();
      const [fin, run, sub, act] = [job({ state: 'SUCCEED' }), job({ state: 'RUNNING' }), job(), job({ state: 'FAILED' })];
      for (const j of [fin, run, sub, act]) await s.insertJob(j, [task(j.id, 'A', 6), task(j.id, 'B', 2, { ord: 1 })]);
      const held = await Promise.all([fin, run, sub, act].map(async (j) => (await s.getJobById(j.id))!));
      const runTask = { ...task(run.id, 'A', 6), state: 'RUNNING' as const, cursor: 4 };
      await s.applyBatch({
        jobs: [{ ...held[3]!, nextAction: 'RETRY' }], tasks: [runTask],
        instances: [inst(run.id, 0, 'SUCCEED'), inst(run.id, 1, 'RUNNING'), inst(run.id, 2, 'FAILED'), inst(run.id, 3, 'FAILED_INTERRUPTED'),
          { ...inst(run.id, 5, 'FAILED'), attempt: 0 }, inst(fin.id, 0, 'RUNNING')],
        attempts: [],
      });
      const a = await s.loadActive();
      expect(a.jobs.map((j) => j.id)).toEqual([run.id, sub.id, act.id]);
      expect(a.tasks.map((t) => `${t.jobId}/${t.name}`)).toEqual([run.id, sub.id, act.id].flatMap((id) => [`${id}/A`, `${id}/B`]));
      // below the cursor only rows still live (running, interrupted); at or beyond it every row
      expect(a.instances.filter((i) => i.jobId === run.id).map((i) => i.index).sort()).toEqual([1, 3, 5]);
      expect(a.instances.some((i) => i.jobId === fin.id)).toBe(false);
      // a job that finishes (and has no next action) is no longer loaded
      await s.applyBatch({ jobs: [{ ...held[1]!, state: 'SUCCEED' }, { ...held[3]!, nextAction: '' }], tasks: [], instances: [], attempts: [] });
      expect((await s.loadActive()).jobs.map((j) => j.id)).toEqual([sub.id]);
      await s.close();
    });
  });
}
