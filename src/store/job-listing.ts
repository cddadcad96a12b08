// DescribeJobs' page and TotalCount over a store whose cost does not grow with history (issue 14),
// backend-neutral: the filters become conjuncts (job ids; states; one value set per other filter, a
// "facet": job-name, zone, tag-key, tag-value, tag:<key>), each an index range per value, newest first.
// The conjunct with the fewest matches (from the counts the store keeps) drives: the page is the first
// Offset+Limit seqs of its ranges (merged when it has several values) that pass the other conjuncts,
// checked row by row; TotalCount comes from the counts when one conjunct is asked, and when a state and
// one facet are asked (the kept counts of the facet's finished jobs per state, plus the owner's active
// jobs in those states that pass the facet: active jobs are few whatever the history), else from
// counting the driver's matches that pass the others. The algorithm is a generator of reads, run over
// an async reader (PostgreSQL, in one snapshot) or a synchronous one (better-sqlite3, in a transaction).
import { FINISHED_STATES } from '../domain/states.ts';
import type { JobFilter, JobRecord } from './types.ts';

export type Conjunct =
  | { kind: 'state'; values: string[] }
  /** multi: a job may have several values of the facet (tag-key, tag-value): counts of several values overlap. */
  | { kind: 'facet'; facet: string; values: string[]; multi: boolean };

/** The filters of a JobFilter, normalised: values deduplicated, the ANDed value sets of a facet a job
 *  has one value of (job-id, job-state, job-name, zone, tag:<key>) intersected. */
export interface JobQuery {
  /** Some conjunct matches nothing (an empty intersection). */
  none: boolean;
  ids: string[] | undefined;
  conjuncts: Conjunct[];
}

const SINGLE = new Set(['job-name', 'zone']);

export function normalise(q: JobFilter): JobQuery {
  let ids = q.jobIds ? [...new Set(q.jobIds)] : undefined;
  let states: string[] | undefined;
  const single = new Map<string, string[]>();
  const multi: Conjunct[] = [];
  const meet = (a: string[] | undefined, b: string[]) => {
    const bs = new Set(b);
    return a === undefined ? [...bs] : a.filter((x) => bs.has(x));
  };
  for (const f of q.filters ?? []) {
    if (f.name === 'job-id') ids = meet(ids, f.values);
    else if (f.name === 'job-state') states = meet(states, f.values);
    else if (SINGLE.has(f.name) || f.name.startsWith('tag:')) single.set(f.name, meet(single.get(f.name), f.values));
    else multi.push({ kind: 'facet', facet: f.name, values: [...new Set(f.values)], multi: true });
  }
  const conjuncts: Conjunct[] = [];
  if (states) conjuncts.push({ kind: 'state', values: states });
  for (const [facet, values] of single) conjuncts.push({ kind: 'facet', facet, values, multi: false });
  conjuncts.push(...multi);
  const none = ids?.length === 0 || conjuncts.some((c) => c.values.length === 0);
  return { none, ids, conjuncts };
}

/** Whether a job passes every conjunct (for the jobs asked by id). */
export function passes(j: JobRecord, cs: Conjunct[]): boolean {
  return cs.every((c) => {
    if (c.kind === 'state') return c.values.includes(j.state);
    if (c.facet === 'job-name') return c.values.includes(j.name);
    if (c.facet === 'zone') return c.values.includes(j.zone);
    if (c.facet === 'tag-key') return j.tags.some((t) => c.values.includes(t.Key));
    if (c.facet === 'tag-value') return j.tags.some((t) => c.values.includes(t.Value));
    const key = c.facet.slice(4);
    return j.tags.some((t) => t.Key === key && c.values.includes(t.Value));
  });
}

/** Reads of one listing, all from one snapshot of the owner's jobs. */
export type JobRead =
  /** Jobs of the owner with these ids → JobRecord[] (any order). */
  | { read: 'byIds'; ids: string[] }
  /** The owner's job count per state → Map<string, number>. */
  | { read: 'stateCounts' }
  /** The sum of the owner's kept counts of each value of a facet → number. */
  | { read: 'facetCount'; facet: string; values: string[] }
  /** The sum of the owner's kept counts of finished jobs in these (finished) states with a value of the
   *  facet → number. */
  | { read: 'finishedFacetCount'; facet: string; values: string[]; states: string[] }
  /** Distinct matches of `driver` that pass `others` → number. */
  | { read: 'count'; driver: Conjunct; others: Conjunct[] }
  /** Seqs of the driver's range for `value` (all the owner's jobs when no driver) that pass `others`,
   *  newest first, from `offset`, at most `limit` → number[]. */
  | { read: 'seqs'; driver: Conjunct | undefined; value: string | undefined; others: Conjunct[]; offset: number; limit: number }
  /** The jobs of these seqs → JobRecord[] (any order). */
  | { read: 'bySeqs'; seqs: number[] };

export interface JobPage {
  total: number;
  jobs: JobRecord[];
}

export type JobListing = Generator<JobRead, JobPage, unknown>;

const FINISHED: ReadonlySet<string> = new Set(FINISHED_STATES);

/** Whether the kept counts of a facet's values add up to its matches: a job has one value of the facet,
 *  or one value is asked. */
const countable = (c: Conjunct & { kind: 'facet' }) => !c.multi || c.values.length === 1;

/** A state conjunct and a countable facet, when those two are all that is asked. */
function stateAndFacet(cs: Conjunct[]): [Conjunct & { kind: 'state' }, Conjunct & { kind: 'facet' }] | undefined {
  if (cs.length !== 2) return undefined;
  const [a, b] = cs as [Conjunct, Conjunct];
  const [state, facet] = a.kind === 'state' ? [a, b] : [b, a];
  return state.kind === 'state' && facet.kind === 'facet' && countable(facet) ? [state, facet] : undefined;
}

export function* listing(q: JobFilter): JobListing {
  const n = normalise(q);
  if (n.none) return { total: 0, jobs: [] };
  if (n.ids) {
    const jobs = ((yield { read: 'byIds', ids: n.ids }) as JobRecord[]).filter((j) => passes(j, n.conjuncts)).sort((a, b) => b.seq - a.seq);
    return { total: jobs.length, jobs: jobs.slice(q.offset, q.offset + q.limit) };
  }
  let counts: Map<string, number> | undefined;
  const sizes: number[] = [];
  for (const c of n.conjuncts) {
    if (c.kind === 'state') {
      counts ??= (yield { read: 'stateCounts' }) as Map<string, number>;
      sizes.push(c.values.reduce((s, v) => s + (counts!.get(v) ?? 0), 0));
    } else {
      sizes.push((yield { read: 'facetCount', facet: c.facet, values: c.values }) as number);
    }
  }
  let total: number;
  let driver: Conjunct | undefined;
  let others: Conjunct[] = [];
  if (n.conjuncts.length === 0) {
    counts ??= (yield { read: 'stateCounts' }) as Map<string, number>;
    total = [...counts.values()].reduce((s, x) => s + x, 0);
  } else {
    let k = 0;
    sizes.forEach((s, i) => {
      if (s < sizes[k]!) k = i;
    });
    driver = n.conjuncts[k]!;
    others = n.conjuncts.filter((_, i) => i !== k);
    const exact = others.length === 0 && (driver.kind === 'state' || countable(driver));
    const pair = stateAndFacet(n.conjuncts);
    if (sizes[k] === 0) total = 0;
    else if (exact) total = sizes[k]!;
    else if (pair) {
      const [state, facet] = pair;
      const finished = state.values.filter((v) => FINISHED.has(v));
      const active = state.values.filter((v) => !FINISHED.has(v));
      total = (finished.length === 0 ? 0 : (yield { read: 'finishedFacetCount', facet: facet.facet, values: facet.values, states: finished }) as number)
        + (active.length === 0 ? 0 : (yield { read: 'count', driver: { kind: 'state', values: active }, others: [facet] }) as number);
    } else {
      total = (yield { read: 'count', driver, others }) as number;
    }
  }
  if (total <= q.offset || q.limit <= 0) return { total, jobs: [] };
  let seqs: number[];
  if (driver === undefined || driver.values.length === 1) {
    seqs = (yield { read: 'seqs', driver, value: driver?.values[0], others, offset: q.offset, limit: q.limit }) as number[];
  } else {
    // each value's range newest first, the first Offset+Limit of each; merged (a job in two ranges once)
    const all = new Set<number>();
    for (const value of driver.values) {
      for (const s of (yield { read: 'seqs', driver, value, others, offset: 0, limit: q.offset + q.limit }) as number[]) all.add(s);
    }
    seqs = [...all].sort((a, b) => b - a).slice(q.offset, q.offset + q.limit);
  }
  if (seqs.length === 0) return { total, jobs: [] };
  const bySeq = new Map(((yield { read: 'bySeqs', seqs }) as JobRecord[]).map((j) => [j.seq, j]));
  return { total, jobs: seqs.map((s) => bySeq.get(s)).filter((j): j is JobRecord => j !== undefined) };
}

/** Run a listing over a synchronous reader (inside the caller's transaction). */
export function runSync(g: JobListing, read: (r: JobRead) => unknown): JobPage {
  let step = g.next();
  while (!step.done) step = g.next(read(step.value));
  return step.value;
}

/** Run a listing over an async reader (in the caller's snapshot). */
export async function run(g: JobListing, read: (r: JobRead) => Promise<unknown>): Promise<JobPage> {
  let step = g.next();
  while (!step.done) step = g.next(await read(step.value));
  return step.value;
}
