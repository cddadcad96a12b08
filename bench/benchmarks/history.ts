// history: the cost of the API as history piles up (issue 14). Two stores of each backend, one holding
// 1,000 jobs and one holding N (default 100,000 at full scale, 10,000 with --small; --history-max N or
// BENCH_HISTORY_MAX=N, e.g. 1000000), filled straight into their tables (bench/history-fill.ts). Then
// DescribeJobs (pages of 20, with and without filters, and a deeper Offset), DescribeJob of random jobs
// and Store.loadActive, through the JobService as the API calls it, asked of both stores in turn (so
// that the machine's noise falls on both alike). Each figure is p99 at N against p99 at 1,000: target
// ≤ 2. Every answer's TotalCount and page are checked against the generator's own count first. Last,
// the write side: Store.insertJob (SubmitJob's insert) of jobs of another account, at 1,000 and at N.
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_LIMITS } from '../../src/config/config.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { LocalLayout, LocalLogs } from '../../src/executors/local/layout.ts';
import { JobService } from '../../src/services/jobs.ts';
import pg from 'pg';
import { PgStore } from '../../src/store/postgres/pg-store.ts';
import { Conn } from '../../src/store/sqlite/connection.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { JobFilter, JobRecord, Store } from '../../src/store/types.ts';
import { freshDatabase, pgSkipReason } from '../../test/support/pg.ts';
import { COMMON_NAME, fillPostgres, fillSqlite, History, jobIdOf, OWNER, TEAM } from '../history-fill.ts';
import { percentile, tempDir, type Benchmark, type Figure } from '../lib.ts';

const SMALL = 1000;
const LIMIT = 20;
/** Offsets deep into the owner's jobs, and into those of the tag filter, yet within what 1,000 jobs hold
 *  (the owner has about 550 of them, about 140 of them tagged team=ml): a page past the end reads nothing. */
const DEEP = 500;
const DEEP_TAG = 100;

interface Query {
  name: string;
  filters?: { Name: string; Values: string[] }[];
  offset?: number;
  /** The same filter over a generated job (the check of TotalCount and page). */
  match(j: JobRecord): boolean;
}

const tagged = (j: JobRecord, key?: string, value?: string) => j.tags.some((t) => (key === undefined || t.Key === key) && (value === undefined || t.Value === value));

function queries(uniqueName: string): Query[] {
  return [
    { name: 'DescribeJobs, no filter', match: () => true },
    { name: `DescribeJobs, no filter, Offset ${DEEP}`, offset: DEEP, match: () => true },
    { name: 'DescribeJobs, job-state FAILED', filters: [{ Name: 'job-state', Values: ['FAILED'] }], match: (j) => j.state === 'FAILED' },
    { name: 'DescribeJobs, job-state RUNNING', filters: [{ Name: 'job-state', Values: ['RUNNING'] }], match: (j) => j.state === 'RUNNING' },
    { name: 'DescribeJobs, job-state SUCCEED or FAILED', filters: [{ Name: 'job-state', Values: ['SUCCEED', 'FAILED'] }], match: (j) => j.state === 'SUCCEED' || j.state === 'FAILED' },
    { name: 'DescribeJobs, job-name (recurring)', filters: [{ Name: 'job-name', Values: [COMMON_NAME] }], match: (j) => j.name === COMMON_NAME },
    { name: 'DescribeJobs, job-name (one old job)', filters: [{ Name: 'job-name', Values: [uniqueName] }], match: (j) => j.name === uniqueName },
    { name: 'DescribeJobs, zone', filters: [{ Name: 'zone', Values: ['ap-guangzhou-3'] }], match: (j) => j.zone === 'ap-guangzhou-3' },
    { name: `DescribeJobs, tag:${TEAM.key}=${TEAM.value}`, filters: [{ Name: `tag:${TEAM.key}`, Values: [TEAM.value] }], match: (j) => tagged(j, TEAM.key, TEAM.value) },
    { name: 'DescribeJobs, tag-key run', filters: [{ Name: 'tag-key', Values: ['run'] }], match: (j) => tagged(j, 'run') },
    { name: 'DescribeJobs, tag-value prod', filters: [{ Name: 'tag-value', Values: ['prod'] }], match: (j) => tagged(j, undefined, 'prod') },
    { name: `DescribeJobs, tag:${TEAM.key}=${TEAM.value} Offset ${DEEP_TAG}`, offset: DEEP_TAG, filters: [{ Name: `tag:${TEAM.key}`, Values: [TEAM.value] }], match: (j) => tagged(j, TEAM.key, TEAM.value) },
    {
      name: `DescribeJobs, job-state FAILED and tag:${TEAM.key}=${TEAM.value}`,
      filters: [{ Name: 'job-state', Values: ['FAILED'] }, { Name: `tag:${TEAM.key}`, Values: [TEAM.value] }],
      match: (j) => j.state === 'FAILED' && tagged(j, TEAM.key, TEAM.value),
    },
  ];
}

/** Job numbers of the jobs the insert benchmark adds (beyond any history's own). */
const WRITES_FROM = 100_000_000;

/** DescribeJob calls per side (warm-up included): fewer than the owner's jobs at 1,000. */
const DESCRIBED = 420;

interface Expected {
  total: number;
  page: string[];
}

/** TotalCount and page of every query over the generated history (newest first). */
function expected(h: History, qs: Query[]): Expected[] {
  const out = qs.map(() => ({ total: 0, page: [] as string[] }));
  for (let i = h.n - 1; i >= 0; i--) {
    const { job } = h.job(i);
    if (job.account !== OWNER.account || job.region !== OWNER.region) continue;
    qs.forEach((q, k) => {
      if (!q.match(job)) return;
      const e = out[k]!;
      const at = e.total++;
      const from = q.offset ?? 0;
      if (at >= from && at < from + LIMIT) e.page.push(job.id);
    });
  }
  return out;
}

/** Distinct jobs of the owner picked at random (DescribeJob's targets: each is read once, so that the
 *  SQLite store's cache of job records answers none of them on either side), and the oldest one-off name
 *  of the owner (the same job whatever N: a job's name and owner depend on its number only). */
function targets(h: History): { ids: string[]; uniqueName: string } {
  const ids = new Set<string>();
  let uniqueName: string | undefined;
  for (let i = 0; uniqueName === undefined; i++) {
    const { job } = h.job(i);
    if (job.account === OWNER.account && job.region === OWNER.region && job.name === h.uniqueNameOf(i)) uniqueName = job.name;
  }
  let seed = 12345;
  for (let tries = 0; ids.size < DESCRIBED; tries++) {
    if (tries > 100 * DESCRIBED) throw new Error(`history: the owner has fewer than ${DESCRIBED} jobs among ${h.n}`);
    // xorshift32 (exact in 32-bit integers, unlike a product of doubles)
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const { job } = h.job((seed >>> 0) % h.n);
    if (job.account === OWNER.account && job.region === OWNER.region) ids.add(job.id);
  }
  return { ids: [...ids], uniqueName: uniqueName! };
}

/** The plan lines of every statement of a listing that read a whole table or index, or sorted
 *  (undefined for a build without job-page.ts, such as the one before issue 14: the benchmark runs on it). */
type Planner = (q: JobFilter) => Promise<string[] | undefined>;

type Seen = (s: { sql: string; args: unknown[] }) => void;
type SqlitePage = (c: Conn, account: string, region: string, q: JobFilter, seen: Seen) => unknown;
type PgPage = (c: pg.Client, account: string, region: string, q: JobFilter, seen: Seen) => Promise<unknown>;
// (variables, so that the type check does not need these modules: the build before issue 14 has none)
const SQLITE_PAGE = '../../src/store/sqlite/job-page.ts';
const PG_PAGE = '../../src/store/postgres/job-page.ts';
const pageOf = async <T>(m: string): Promise<T | undefined> => ((await import(m).catch(() => undefined)) as { jobPage?: T } | undefined)?.jobPage;

interface Side {
  h: History;
  store: Store;
  plans: Planner;
  jobs: JobService;
  expected: Expected[];
  ids: string[];
  uniqueName: string;
  close(): Promise<void>;
}

function serviceOf(store: Store): JobService {
  const dir = tempDir('openbatch-history-svc-');
  return new JobService({
    store, commands: { send: async () => { throw new Error('the history benchmark sends no commands'); } }, clock: systemClock,
    limits: DEFAULT_LIMITS, logs: new LocalLogs(new LocalLayout(dir)), localRoot: path.join(dir, 'local'),
  });
}

async function side(n: number, open: Open): Promise<Side> {
  const h = await History.of(n);
  const t = targets(h);
  const t0 = performance.now();
  const { store, plans, close } = await open(h);
  console.log(`    ${n} jobs filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { h, store, plans, jobs: serviceOf(store), expected: expected(h, queries(t.uniqueName)), ids: t.ids, uniqueName: t.uniqueName, close };
}

/** SQLite plans (EXPLAIN QUERY PLAN): a SCAN other than of the partial index of active jobs, or a sort. */
function sqlitePlans(file: string): Planner {
  return async (q) => {
    const sqliteJobPage = await pageOf<SqlitePage>(SQLITE_PAGE);
    if (!sqliteJobPage) return undefined;
    const c = new Conn(file);
    try {
      const bad: string[] = [];
      c.read(() => sqliteJobPage(c, OWNER.account, OWNER.region, q, (st) => {
        for (const { detail } of c.db.prepare(`EXPLAIN QUERY PLAN ${st.sql}`).all(...st.args) as { detail: string }[]) {
          if (/^SCAN /.test(detail) || /TEMP B-TREE FOR (ORDER BY|count)/.test(detail)) bad.push(`${detail} ← ${st.sql.replace(/\s+/g, ' ')}`);
        }
      }));
      return bad;
    } finally {
      c.close();
    }
  };
}

interface PlanNode { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; 'Index Cond'?: string; Plans?: PlanNode[] }

/** PostgreSQL plans (EXPLAIN, with the database's statistics): a Seq Scan, an index read whole, or a sort. */
function pgPlans(url: string): Planner {
  return async (q) => {
    const pgJobPage = await pageOf<PgPage>(PG_PAGE);
    if (!pgJobPage) return undefined;
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    await c.connect();
    try {
      const seen: { sql: string; args: unknown[] }[] = [];
      await pgJobPage(c, OWNER.account, OWNER.region, q, (st) => seen.push(st));
      const bad: string[] = [];
      for (const st of seen) {
        const walk = (p: PlanNode) => {
          const t = p['Node Type'];
          if (t === 'Seq Scan' || t === 'Sort' || (/^Index (Only )?Scan$/.test(t) && p['Index Cond'] === undefined)) {
            bad.push(`${t} ${p['Index Name'] ?? p['Relation Name'] ?? ''} ← ${st.sql.replace(/\s+/g, ' ')}`);
          }
          for (const x of p.Plans ?? []) walk(x);
        };
        walk((await c.query(`EXPLAIN (FORMAT JSON) ${st.sql}`, st.args)).rows[0]['QUERY PLAN'][0].Plan as PlanNode);
      }
      return bad;
    } finally {
      await c.end();
    }
  };
}

function check(s: Side, q: Query, k: number, got: { TotalCount: number; JobSet: { JobId: string }[] }): void {
  const e = s.expected[k]!;
  const page = got.JobSet.map((j) => j.JobId);
  if (got.TotalCount !== e.total || page.join() !== e.page.join()) {
    throw new Error(`history: ${q.name} at ${s.h.n} jobs answered TotalCount ${got.TotalCount} and ${page.length} jobs; expected ${e.total} and `
      + `${e.page.length} (${page.join() === e.page.join() ? 'same page' : 'another page'})`);
  }
}

/** Samples of `op` on each side in turn, for up to `budgetMs` (at least 30, at most `max` each). */
async function alternate(sides: Side[], op: (s: Side, i: number) => Promise<unknown>, budgetMs = 8000, max = 400): Promise<number[][]> {
  const times = sides.map(() => [] as number[]);
  for (let i = 0; i < 20; i++) for (const s of sides) await op(s, i);
  const end = performance.now() + budgetMs;
  for (let i = 0; i < max && (i < 30 || performance.now() < end); i++) {
    for (const [k, s] of sides.entries()) {
      const t0 = performance.now();
      await op(s, i);
      times[k]!.push(performance.now() - t0);
    }
  }
  return times;
}

const caller = { account: OWNER.account, region: OWNER.region } as never;
const fmt = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));

function figure(backend: string, metric: string, small: number[], big: number[], n: number): Figure {
  const p = (xs: number[], q: number) => percentile(xs, q);
  const figure: Figure = {
    benchmark: 'history', metric: `${backend}: ${metric}, p99 at ${n} jobs`, unit: 'ms',
    median: p(big, 99), min: p(big, 50), max: Math.max(...big),
    baseline: { what: `p99 at ${SMALL} jobs`, median: p(small, 99), min: p(small, 50), max: Math.max(...small) },
    ratio: p(big, 99) / p(small, 99), target: '≤ 2',
    note: `p50 ${fmt(p(small, 50))} → ${fmt(p(big, 50))} ms (${small.length} samples each)`,
  };
  console.log(`    ${metric}: p99 ${fmt(figure.baseline!.median)} → ${fmt(figure.median)} ms, ratio ${figure.ratio!.toFixed(2)}; ${figure.note}`);
  return figure;
}

async function measure(backend: string, small: Side, big: Side): Promise<Figure[]> {
  const out: Figure[] = [];
  const sides = [small, big];
  const qs = queries(small.uniqueName);
  for (const [k, q] of qs.entries()) {
    const req = { Filters: q.filters, Offset: q.offset, Limit: LIMIT };
    for (const s of sides) check(s, q, k, await s.jobs.describeJobs(caller, req));
    const [a, b] = await alternate(sides, (s) => s.jobs.describeJobs(caller, req));
    const f = figure(backend, q.name, a!, b!, big.h.n);
    const bad = await big.plans({ filters: q.filters?.map((x) => ({ name: x.Name, values: x.Values })), offset: q.offset ?? 0, limit: LIMIT });
    f.note += bad === undefined ? '' : bad.length ? `; plan at ${big.h.n}: ${bad.length} whole scan(s) or sort(s)` : `; plan at ${big.h.n}: index ranges only`;
    for (const x of bad ?? []) console.log(`      plan: ${x}`);
    out.push(f);
  }
  // another job each call, picked at random
  const next = new Map(sides.map((s) => [s, 0]));
  const [a, b] = await alternate(sides, (s) => {
    const i = next.get(s)!;
    next.set(s, i + 1);
    return s.jobs.describeJob(caller, { JobId: s.ids[i % s.ids.length]! });
  }, 8000, DESCRIBED - 20);
  out.push(figure(backend, 'DescribeJob of a random job', a!, b!, big.h.n));
  const [la, lb] = await alternate(sides, (s) => s.store.loadActive(), 4000, 50);
  out.push(figure(backend, 'Store.loadActive', la!, lb!, big.h.n));
  // the write side: SubmitJob's insert (a job of the generator's shape, of another account), last
  const made = new Map(sides.map((s) => [s, 0]));
  const [ia, ib] = await alternate(sides, (s) => {
    const k = made.get(s)!;
    made.set(s, k + 1);
    const { job: { seq: _, ...j }, tasks } = s.h.job(k);
    const id = jobIdOf(WRITES_FROM + k);
    return s.store.insertJob({ ...j, id, account: 'acc-writer', state: 'SUBMITTED', endTime: null }, tasks.map((t) => ({ ...t, jobId: id })));
  }, 4000, 300);
  out.push(figure(backend, 'Store.insertJob (SubmitJob)', ia!, ib!, big.h.n));
  return out;
}

type Open = (h: History) => Promise<{ store: Store; plans: Planner; close(): Promise<void> }>;

async function both(backend: string, n: number, open: Open): Promise<Figure[]> {
  const small = await side(SMALL, open);
  try {
    const big = await side(n, open);
    try {
      return await measure(backend, small, big);
    } finally {
      await big.close();
    }
  } finally {
    await small.close();
  }
}

const openSqlite: Open = async (h) => {
  const file = path.join(tempDir('openbatch-history-'), 'openbatch.db');
  fillSqlite(file, h);
  const store = new SqliteStore(file);
  return { store, plans: sqlitePlans(file), close: async () => { await store.close(); fs.rmSync(path.dirname(file), { recursive: true, force: true }); } };
};

const openPostgres: Open = async (h) => {
  const d = await freshDatabase();
  await fillPostgres(d.url, h);
  const store = await PgStore.open(d.url);
  return { store, plans: pgPlans(d.url), close: async () => { await store.close(); await d.drop(); } };
};

export function historyMax(scale: { name: string }): number {
  const env = process.env.BENCH_HISTORY_MAX;
  return env ? Number(env) : scale.name === 'full' ? 100_000 : 10_000;
}

export const history: Benchmark = {
  name: 'history',
  description: 'DescribeJobs/DescribeJob/loadActive p99 with 1,000 vs N jobs in the store (SQLite, PostgreSQL): target ≤ 2× (--history-max N)',
  async run(scale) {
    const n = historyMax(scale);
    // BENCH_HISTORY_BACKENDS=sqlite or =postgres: one of them only (e.g. to run 1,000,000 again on one)
    const backends = (process.env.BENCH_HISTORY_BACKENDS ?? 'sqlite,postgres').split(',');
    const out: Figure[] = [];
    if (backends.includes('sqlite')) {
      console.log('  SQLite');
      out.push(...await both('SQLite', n, openSqlite));
    }
    if (!backends.includes('postgres')) return out;
    const skip = await pgSkipReason();
    if (skip !== undefined) {
      console.log(`  PostgreSQL skipped: ${skip}`);
      return out;
    }
    console.log('  PostgreSQL');
    out.push(...await both('PostgreSQL', n, openPostgres));
    return out;
  },
};
