// What only SQLite has of DescribeJobs' listing and loadActive (issue 14): migrations 11 and 14 fill the
// facets and their counts from the jobs an older database holds (and running them again changes nothing),
// and the query plans — every read of a listing and of loadActive is an index search (EXPLAIN QUERY
// PLAN): no table scan, no sort of the matches, whatever the filters.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Conn } from '../../src/store/sqlite/connection.ts';
import { jobPage, type Statement } from '../../src/store/sqlite/job-page.ts';
import { MIGRATIONS, type Migration } from '../../src/store/sqlite/migrations.ts';
import { ACTIVE_INSTANCES, ACTIVE_JOBS, ACTIVE_TASKS, SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { JobFilter } from '../../src/store/types.ts';
import { job, task } from '../contract/store-fixtures.ts';

const tempDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-listing-')), 'db.sqlite');
const STEP = 11;

function run(db: Database.Database, m: Migration): void {
  if (typeof m === 'string') db.exec(m);
  else m(db);
}

const JOB_ROW = `INSERT INTO jobs (id, seq, account, region, name, description, priority, zone, state, state_reason,
  next_action, create_time, end_time, client_token, tags, spec) VALUES (?, ?, ?, 'ap-guangzhou', ?, '', 0, ?, ?, '', '', 1, NULL, NULL, ?, '{}')`;

describe('SQLite: migration 11 (job facets and their counts)', () => {
  it('fills facets and counts from the jobs an older database holds; running the step again changes nothing', async () => {
    const file = tempDb();
    const db = new Database(file);
    for (const m of MIGRATIONS.slice(0, STEP)) run(db, m);
    db.pragma(`user_version = ${STEP}`);
    const insert = db.prepare(JOB_ROW);
    const tags = (...kv: [string, string][]) => JSON.stringify(kv.map(([Key, Value]) => ({ Key, Value })));
    insert.run('job-old00001', 1, 'acc-a', 'etl', 'ap-guangzhou-2', 'SUCCEED', tags(['team', 'ml'], ['owner', 'ml']));
    insert.run('job-old00002', 2, 'acc-a', 'etl', 'ap-guangzhou-3', 'FAILED', tags(['team', 'web']));
    insert.run('job-old00003', 3, 'acc-b', 'etl', 'ap-guangzhou-2', 'SUCCEED', tags(['team', 'ml']));
    insert.run('job-old00004', 4, 'acc-a', 'train', 'ap-guangzhou-2', 'RUNNING', tags());
    db.prepare("UPDATE sequences SET value = 4 WHERE name = 'jobs'").run();
    db.close();
    const totals = async (s: SqliteStore) => {
      const total = async (filters: JobFilter['filters']) => (await s.listJobs('acc-a', 'ap-guangzhou', { filters, offset: 0, limit: 20 })).total;
      return [
        await total([{ name: 'job-name', values: ['etl'] }]), await total([{ name: 'zone', values: ['ap-guangzhou-2'] }]),
        await total([{ name: 'tag:team', values: ['ml', 'web'] }]), await total([{ name: 'tag-value', values: ['ml'] }]),
        await total([{ name: 'tag-key', values: ['owner'] }]), await total([{ name: 'job-name', values: ['etl'] }, { name: 'job-state', values: ['FAILED'] }]),
      ];
    };
    let s = new SqliteStore(file);
    expect(await totals(s)).toEqual([2, 2, 2, 1, 1, 1]);
    expect((await s.listJobs('acc-a', 'ap-guangzhou', { filters: [{ name: 'tag-value', values: ['ml'] }], offset: 0, limit: 20 })).jobs.map((j) => j.id)).toEqual(['job-old00001']);
    await s.close();
    // steps 11 and 14 (the finished jobs' counts per facet value and state) again: nothing changes
    const again = new Database(file);
    run(again, MIGRATIONS[STEP]!);
    run(again, MIGRATIONS[13]!);
    again.close();
    s = new SqliteStore(file);
    expect(await totals(s)).toEqual([2, 2, 2, 1, 1, 1]);
    // new jobs are counted by the triggers from here on
    const j = job({ name: 'etl', zone: 'ap-guangzhou-2', tags: [{ Key: 'team', Value: 'ml' }] });
    await s.insertJob(j, [task(j.id)]);
    expect(await totals(s)).toEqual([3, 3, 3, 2, 1, 1]);
    await s.close();
  });
});

/** Lines of a plan that may appear: index searches and the structure around them. */
const ALLOWED = [/^SEARCH /, /^CORRELATED SCALAR SUBQUERY \d+$/, /^COMPOUND QUERY$/, /^LEFT-MOST SUBQUERY$/, /^UNION ALL$/];

function plan(c: Conn, s: Statement): string[] {
  return (c.db.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).all(...s.args) as { detail: string }[]).map((r) => r.detail);
}

describe('SQLite: query plans of the listing and of loadActive', () => {
  it('reads every listing by index searches only, without sorting the matches', async () => {
    const file = tempDb();
    const s = new SqliteStore(file);
    // enough jobs of every kind that each listing below runs all its reads
    for (const state of ['SUCCEED', 'FAILED', 'RUNNING'] as const) {
      for (const name of ['x', 'y']) {
        const j = job({ name, state, tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '1' }] });
        await s.insertJob(j, [task(j.id)]);
      }
    }
    await s.close();
    const c = new Conn(file);
    const queries: Omit<JobFilter, 'limit'>[] = [
      { offset: 0 }, { offset: 2 },
      { offset: 0, filters: [{ name: 'job-state', values: ['FAILED'] }] },
      { offset: 1, filters: [{ name: 'job-state', values: ['FAILED', 'SUCCEED'] }] },
      { offset: 0, filters: [{ name: 'job-name', values: ['x', 'y'] }] },
      { offset: 0, filters: [{ name: 'zone', values: ['ap-guangzhou-2'] }] },
      { offset: 0, filters: [{ name: 'tag:a', values: ['1'] }] },
      { offset: 0, filters: [{ name: 'tag-key', values: ['a', 'b'] }] },
      { offset: 0, filters: [{ name: 'tag-value', values: ['1'] }, { name: 'job-state', values: ['RUNNING', 'FAILED'] }] },
      { offset: 0, filters: [{ name: 'job-name', values: ['x'] }, { name: 'job-state', values: ['FAILED'] }, { name: 'tag-key', values: ['a', 'b'] }] },
      { offset: 0, filters: [{ name: 'job-name', values: ['x'] }, { name: 'tag:a', values: ['1'] }] },
      { offset: 0, jobIds: ['job-x', 'job-y'] },
    ];
    const kinds = new Set<string>();
    for (const q of queries) {
      const seen: Statement[] = [];
      c.read(() => jobPage(c, 'acc-a', 'ap-guangzhou', { ...q, limit: 20 }, (x) => seen.push(x)));
      for (const st of seen) {
        const lines = plan(c, st);
        kinds.add(st.sql.split(' WHERE')[0]!);
        // COUNT(DISTINCT) over the driver's own matches (several values of tag-key/tag-value) may use a temp b-tree
        const allowed = st.sql.includes('COUNT(DISTINCT') ? [...ALLOWED, /^USE TEMP B-TREE FOR count\(DISTINCT\)$/] : ALLOWED;
        for (const l of lines) expect(allowed.some((re) => re.test(l)), `${st.sql}\n${lines.join('\n')}`).toBe(true);
      }
    }
    // every kind of read was planned: counts, ranges of jobs, of states and of facets, rows by seq and by id
    expect([...kinds].sort()).toEqual([
      'SELECT * FROM jobs', 'SELECT COALESCE(SUM(n), 0) FROM job_facet_counts', 'SELECT COALESCE(SUM(n), 0) FROM job_facet_finished_counts',
      'SELECT COUNT(*) FROM job_facets d',
      'SELECT COUNT(*) FROM jobs d INDEXED BY jobs_by_owner_state', 'SELECT COUNT(DISTINCT d.seq) FROM job_facets d',
      'SELECT d.seq FROM job_facets d', 'SELECT d.seq FROM jobs d INDEXED BY jobs_by_owner', 'SELECT d.seq FROM jobs d INDEXED BY jobs_by_owner_state',
      'SELECT state, n FROM job_counts',
    ]);
    c.close();
  });

  it('loads active work through the partial index of active jobs, never a scan of jobs or instances', () => {
    const c = new Conn(tempDb());
    for (const sql of [ACTIVE_JOBS, ACTIVE_TASKS, ACTIVE_INSTANCES]) {
      const lines = plan(c, { sql, args: [] });
      for (const l of lines) {
        const ok = ALLOWED.some((re) => re.test(l)) || l === 'SCAN j USING INDEX jobs_active' || l === 'USE TEMP B-TREE FOR LAST TERM OF ORDER BY';
        expect(ok, `${sql}\n${lines.join('\n')}`).toBe(true);
      }
      expect(lines).toContain('SCAN j USING INDEX jobs_active');
    }
    c.close();
  });
});
