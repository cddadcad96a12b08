// DescribeJobs on PostgreSQL: the reads of a job listing (../job-listing.ts) over the indexes of
// migration 5 — jobs_by_owner (owner, seq), jobs_by_owner_state (owner, state, seq), the job_facets
// ranges (owner, facet, value, seq) and the kept counts (job_counts, job_facet_counts, and of migration 8
// job_facet_finished_counts). A range of one value is asked with `=` (its index then yields the rows
// newest first, and the LIMIT stops the scan); the other conjuncts are EXISTS probes of one index entry
// per candidate. Values are always bound parameters (a value set as one text[]), never SQL. Run it
// inside one snapshot (Db.read).
import { listing, run, type Conjunct, type JobPage, type JobRead } from '../job-listing.ts';
import { toJob } from '../sqlite/rows.ts';
import type { JobFilter } from '../types.ts';
import type { Queryable, Row } from './db.ts';

export interface Statement {
  sql: string;
  args: unknown[];
}

/** Appends a value to args and answers its placeholder. */
function binder(args: unknown[]): (v: unknown, type?: string) => string {
  return (v, type) => {
    args.push(v);
    return type ? `$${args.length}::${type}` : `$${args.length}`;
  };
}

/** A value set as SQL: `= $n` for one value, `= ANY($n::text[])` for several. */
function among(bind: (v: unknown, type?: string) => string, values: string[]): string {
  return values.length === 1 ? `= ${bind(values[0])}` : `= ANY(${bind(values, 'text[]')})`;
}

/** A range of candidates over alias d (a row of jobs or of job_facets, with d.seq). */
function range(bind: (v: unknown, type?: string) => string, driver: Conjunct | undefined, values: string[]): string {
  if (driver === undefined) return 'jobs d WHERE d.account = $1 AND d.region = $2';
  if (driver.kind === 'state') return `jobs d WHERE d.account = $1 AND d.region = $2 AND d.state ${among(bind, values)}`;
  return `job_facets d WHERE d.account = $1 AND d.region = $2 AND d.facet = ${bind(driver.facet)} AND d.value ${among(bind, values)}`;
}

/** The other conjuncts as conditions on the candidate d.seq. */
function others(bind: (v: unknown, type?: string) => string, cs: Conjunct[]): string {
  return cs.map((c) => c.kind === 'state'
    ? ` AND EXISTS (SELECT 1 FROM jobs s WHERE s.account = $1 AND s.region = $2 AND s.state ${among(bind, c.values)} AND s.seq = d.seq)`
    : ` AND EXISTS (SELECT 1 FROM job_facets g WHERE g.account = $1 AND g.region = $2 AND g.facet = ${bind(c.facet)}
        AND g.value ${among(bind, c.values)} AND g.seq = d.seq)`).join('');
}

/** The statement of one read of the listing of an owner's jobs. */
export function statementOf(account: string, region: string, r: JobRead): Statement {
  const args: unknown[] = [account, region];
  const bind = binder(args);
  switch (r.read) {
    case 'byIds':
      return { sql: `SELECT * FROM jobs WHERE account = $1 AND region = $2 AND id = ANY(${bind(r.ids, 'text[]')})`, args };
    case 'stateCounts':
      return { sql: 'SELECT state, n FROM job_counts WHERE account = $1 AND region = $2', args };
    case 'facetCount':
      return {
        sql: `SELECT COALESCE(SUM(n), 0)::int8 AS n FROM job_facet_counts WHERE account = $1 AND region = $2 AND facet = ${bind(r.facet)}
          AND value = ANY(${bind(r.values, 'text[]')})`,
        args,
      };
    case 'finishedFacetCount':
      return {
        sql: `SELECT COALESCE(SUM(n), 0)::int8 AS n FROM job_facet_finished_counts WHERE account = $1 AND region = $2
          AND facet = ${bind(r.facet)} AND value = ANY(${bind(r.values, 'text[]')}) AND state = ANY(${bind(r.states, 'text[]')})`,
        args,
      };
    case 'count': {
      const what = r.driver.kind === 'facet' && r.driver.multi && r.driver.values.length > 1 ? 'COUNT(DISTINCT d.seq)' : 'COUNT(*)';
      const from = range(bind, r.driver, r.driver.values);
      return { sql: `SELECT ${what} AS n FROM ${from}${others(bind, r.others)}`, args };
    }
    case 'seqs': {
      const from = range(bind, r.driver, r.value === undefined ? [] : [r.value]);
      const where = others(bind, r.others);
      return { sql: `SELECT d.seq FROM ${from}${where} ORDER BY d.seq DESC LIMIT ${bind(r.limit)} OFFSET ${bind(r.offset)}`, args };
    }
    case 'bySeqs':
      return { sql: `SELECT * FROM jobs WHERE seq = ANY($1::int8[])`, args: [r.seqs] };
  }
}

async function answer(c: Queryable, r: JobRead, s: Statement): Promise<unknown> {
  const rows = (await c.query(s.sql, s.args)).rows as Row[];
  switch (r.read) {
    case 'byIds':
    case 'bySeqs':
      return rows.map(toJob);
    case 'stateCounts':
      return new Map(rows.map((x) => [x.state as string, x.n as number]));
    case 'facetCount':
    case 'finishedFacetCount':
    case 'count':
      return rows[0]!.n as number;
    case 'seqs':
      return rows.map((x) => x.seq as number);
  }
}

/** DescribeJobs' page and exact TotalCount for an owner (newest first), on `c` (inside one snapshot).
 *  `seen` hears every statement run (tests and the benchmark EXPLAIN them). */
export function jobPage(c: Queryable, account: string, region: string, q: JobFilter, seen?: (s: Statement) => void): Promise<JobPage> {
  return run(listing(q), (r) => {
    const s = statementOf(account, region, r);
    seen?.(s);
    return answer(c, r, s);
  });
}
