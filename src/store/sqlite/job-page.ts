// DescribeJobs on SQLite: the reads of a job listing (../job-listing.ts) over the indexes of migration
// 10 — jobs_by_owner (owner, seq), jobs_by_owner_state (owner, state, seq), the job_facets ranges
// (owner, facet, value, seq) and the kept counts (job_counts, job_facet_counts, and of migration 14
// job_facet_finished_counts). Every range is read newest first by its index and stops at its LIMIT; the
// other conjuncts are probes of one index entry per candidate. INDEXED BY pins each plan (a statement
// whose index is missing fails to prepare rather than scan). Values are always bound parameters.
import { listing, runSync, type Conjunct, type JobPage, type JobRead } from '../job-listing.ts';
import type { JobFilter } from '../types.ts';
import { marks, type Conn, type Row } from './connection.ts';
import { toJob } from './rows.ts';

/** A range of candidates as SQL over alias d (a row of jobs or of job_facets, with d.seq). */
function range(driver: Conjunct | undefined, values: string[], args: unknown[]): string {
  if (driver === undefined) return 'jobs d INDEXED BY jobs_by_owner WHERE d.account = ? AND d.region = ?';
  if (driver.kind === 'state') {
    args.push(...values);
    return `jobs d INDEXED BY jobs_by_owner_state WHERE d.account = ? AND d.region = ? AND d.state IN (${marks(values.length)})`;
  }
  args.push(driver.facet, ...values);
  return `job_facets d WHERE d.account = ? AND d.region = ? AND d.facet = ? AND d.value IN (${marks(values.length)})`;
}

/** The other conjuncts as conditions on the candidate d.seq. */
function others(cs: Conjunct[], args: unknown[]): string {
  return cs.map((c) => {
    if (c.kind === 'state') {
      args.push(...c.values);
      return ` AND EXISTS (SELECT 1 FROM jobs s INDEXED BY jobs_by_owner_state WHERE s.account = d.account AND s.region = d.region
        AND s.state IN (${marks(c.values.length)}) AND s.seq = d.seq)`;
    }
    args.push(c.facet, ...c.values);
    return ` AND EXISTS (SELECT 1 FROM job_facets g WHERE g.account = d.account AND g.region = d.region AND g.facet = ?
      AND g.value IN (${marks(c.values.length)}) AND g.seq = d.seq)`;
  }).join('');
}

export interface Statement {
  sql: string;
  args: unknown[];
}

/** The statement of one read of the listing of an owner's jobs. */
function statementOf(account: string, region: string, r: JobRead): Statement {
  const args: unknown[] = [account, region];
  switch (r.read) {
    case 'byIds':
      return { sql: `SELECT * FROM jobs WHERE account = ? AND region = ? AND id IN (${marks(r.ids.length)})`, args: [...args, ...r.ids] };
    case 'stateCounts':
      return { sql: 'SELECT state, n FROM job_counts WHERE account = ? AND region = ?', args };
    case 'facetCount':
      return {
        sql: `SELECT COALESCE(SUM(n), 0) FROM job_facet_counts WHERE account = ? AND region = ? AND facet = ? AND value IN (${marks(r.values.length)})`,
        args: [...args, r.facet, ...r.values],
      };
    case 'finishedFacetCount':
      return {
        sql: `SELECT COALESCE(SUM(n), 0) FROM job_facet_finished_counts WHERE account = ? AND region = ? AND facet = ?
          AND value IN (${marks(r.values.length)}) AND state IN (${marks(r.states.length)})`,
        args: [...args, r.facet, ...r.values, ...r.states],
      };
    case 'count': {
      const what = r.driver.kind === 'facet' && r.driver.multi && r.driver.values.length > 1 ? 'COUNT(DISTINCT d.seq)' : 'COUNT(*)';
      const from = range(r.driver, r.driver.values, args);
      return { sql: `SELECT ${what} FROM ${from}${others(r.others, args)}`, args };
    }
    case 'seqs': {
      const from = range(r.driver, r.value === undefined ? [] : [r.value], args);
      const sql = `SELECT d.seq FROM ${from}${others(r.others, args)} ORDER BY d.seq DESC LIMIT ? OFFSET ?`;
      return { sql, args: [...args, r.limit, r.offset] };
    }
    case 'bySeqs':
      return { sql: `SELECT * FROM jobs WHERE seq IN (${marks(r.seqs.length)})`, args: r.seqs };
  }
}

function answer(c: Conn, r: JobRead, s: Statement): unknown {
  const st = c.dyn(s.sql);
  switch (r.read) {
    case 'byIds':
    case 'bySeqs':
      return (st.all(...s.args) as Row[]).map(toJob);
    case 'stateCounts':
      return new Map((st.all(...s.args) as { state: string; n: number }[]).map((x) => [x.state, x.n]));
    case 'facetCount':
    case 'finishedFacetCount':
    case 'count':
      return st.pluck().get(...s.args) as number;
    case 'seqs':
      return st.pluck().all(...s.args) as number[];
  }
}

/** DescribeJobs' page and exact TotalCount for an owner (newest first); run it inside one read
 *  transaction. `seen` hears every statement run (tests EXPLAIN them). */
export function jobPage(c: Conn, account: string, region: string, q: JobFilter, seen?: (s: Statement) => void): JobPage {
  return runSync(listing(q), (r) => {
    const s = statementOf(account, region, r);
    seen?.(s);
    return answer(c, r, s);
  });
}
