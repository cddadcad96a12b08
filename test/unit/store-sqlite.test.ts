// The Store contract on SQLite (real database files in temp dirs); then what only SQLite has: what its
// migrations carry over from older databases, and two stores on one file (two processes' view).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FencedError } from '../../src/store/errors.ts';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { storeContract } from '../contract/store.contract.ts';
import { job, task } from '../contract/store-fixtures.ts';

const tempDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-store-')), 'db.sqlite');

function sqliteFactory() {
  const files = new WeakMap<object, string>();
  return {
    async create() {
      const file = tempDb();
      const s = new SqliteStore(file);
      files.set(s, file);
      return s;
    },
    async reopen(s: SqliteStore) {
      await s.close();
      const again = new SqliteStore(files.get(s)!);
      files.set(again, files.get(s)!);
      return again;
    },
  };
}

storeContract('sqlite', sqliteFactory());

/** A database migrated up to (not including) step `upTo`. */
function dbAt(upTo: number): { file: string; db: Database.Database } {
  const file = tempDb();
  const db = new Database(file);
  for (const m of MIGRATIONS.slice(0, upTo)) db.exec(m);
  db.pragma(`user_version = ${upTo}`);
  return { file, db };
}

const JOB_ROW = `INSERT INTO jobs (id, seq, account, region, name, description, priority, zone, state, state_reason,
  next_action, create_time, end_time, client_token, tags, spec) VALUES (?, ?, ?, 'ap-guangzhou', 'n', '', 0, 'ap-guangzhou-2', ?, '', '', 1, NULL, NULL, '[]', '{}')`;

describe('SQLite migrations', () => {
  it('counts the jobs a database already held when it gains job_counts (migration 4)', async () => {
    const { file, db } = dbAt(4);
    const insert = db.prepare(JOB_ROW);
    const states = ['SUCCEED', 'SUCCEED', 'FAILED', 'RUNNING', 'SUCCEED'];
    states.forEach((st, i) => insert.run(`job-old${i}`, i + 1, i === 4 ? 'acc-b' : 'acc-a', st));
    db.close();
    const s = new SqliteStore(file);
    const total = async (account: string, values?: string[]) =>
      (await s.listJobs(account, 'ap-guangzhou', { filters: values && [{ name: 'job-state', values }], offset: 0, limit: 10 })).total;
    expect([await total('acc-a'), await total('acc-a', ['SUCCEED']), await total('acc-a', ['FAILED', 'RUNNING']), await total('acc-b')]).toEqual([4, 2, 2, 1]);
    await s.close();
  });

  it('continues job seqs after the largest one an older database used (migration 7)', async () => {
    const { file, db } = dbAt(7);
    const insert = db.prepare(JOB_ROW);
    [3, 9, 4].forEach((seq, i) => insert.run(`job-old${i}`, seq, 'acc-a', 'SUCCEED'));
    db.close();
    const s = new SqliteStore(file);
    const j = job();
    await s.insertJob(j, [task(j.id)]);
    expect((await s.getJobById(j.id))?.seq).toBe(10);
    expect((await s.getJobById('job-old1'))?.seq).toBe(9);
    await s.close();
  });

});

describe('SQLite: two stores on one database file (two processes)', () => {
  it('fences the former leader across connections: its write after a takeover is refused, whole', async () => {
    const file = tempDb();
    const [one, two] = [new SqliteStore(file), new SqliteStore(file)];
    const j = job();
    await one.insertJob(j, [task(j.id)]);
    const a = (await one.acquireLease('one', 1000, 0))!;
    expect(await two.acquireLease('two', 1000, 500)).toBeUndefined();
    const b = (await two.acquireLease('two', 1000, 1000))!;
    expect(b.epoch).toBe(a.epoch + 1);
    expect(await one.currentLease()).toEqual(b);
    const rec = (await one.getJobById(j.id))!;
    await expect(one.applyBatch({ jobs: [{ ...rec, state: 'FAILED' }], tasks: [], instances: [], attempts: [] }, a.epoch))
      .rejects.toBeInstanceOf(FencedError);
    await two.applyBatch({ jobs: [{ ...rec, state: 'RUNNING' }], tasks: [], instances: [], attempts: [] }, b.epoch);
    expect((await one.getJobById(j.id))?.state).toBe('RUNNING');
    await one.close();
    await two.close();
  });

  it('wakes listeners only in the inserting process (a shared backend maps onCommand to LISTEN/NOTIFY)', async () => {
    const file = tempDb();
    const [one, two] = [new SqliteStore(file), new SqliteStore(file)];
    let [woke1, woke2] = [0, 0];
    one.onCommand(() => woke1++);
    two.onCommand(() => woke2++);
    const c = await one.insertCommand({ kind: 'retry-job', jobId: 'job-1', createdAt: 1 });
    await new Promise((r) => setTimeout(r, 30));
    expect([woke1, woke2]).toEqual([1, 0]);
    // what it inserted is visible to the other process's drain all the same
    expect(await two.pendingCommands(0, 10)).toEqual([c]);
    await one.close();
    await two.close();
  });
});
