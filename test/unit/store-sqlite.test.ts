// The Store contract on SQLite (real database files in temp dirs), with and without the job-record
// cache; then what only SQLite has: its migrations (idempotent, and what they carry over from older
// databases), the ClientToken unique index, and two stores on one file (two processes' view).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FencedError } from '../../src/store/errors.ts';
import { MIGRATIONS, type Migration } from '../../src/store/sqlite/migrations.ts';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.ts';
import { storeContract } from '../contract/store.contract.ts';
import { listingContract } from '../contract/store-listing.contract.ts';
import { env, job, task } from '../contract/store-fixtures.ts';

const tempDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-store-')), 'db.sqlite');

function sqliteFactory(opts: SqliteStoreOptions) {
  const files = new WeakMap<object, string>();
  return {
    async create() {
      const file = tempDb();
      const s = new SqliteStore(file, opts);
      files.set(s, file);
      return s;
    },
    async reopen(s: SqliteStore) {
      await s.close();
      const again = new SqliteStore(files.get(s)!, opts);
      files.set(again, files.get(s)!);
      return again;
    },
  };
}

storeContract('sqlite', sqliteFactory({}));
storeContract('sqlite without the job-record cache', sqliteFactory({ cacheJobRecords: false }));
listingContract('sqlite', sqliteFactory({}));

function run(db: Database.Database, m: Migration): void {
  if (typeof m === 'string') db.exec(m);
  else m(db);
}

/** A database migrated up to (not including) step `upTo`. */
function dbAt(upTo: number): { file: string; db: Database.Database } {
  const file = tempDb();
  const db = new Database(file);
  for (const m of MIGRATIONS.slice(0, upTo)) run(db, m);
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

  it('carries ClientTokens of older envs into the indexed column, the newest env of a token keeping it (migration 8)', async () => {
    const { file, db } = dbAt(8);
    const insert = db.prepare(`INSERT INTO compute_envs (id, seq, account, region, name, description, zone, info, desired, next_action, create_time, tags)
      VALUES (?, ?, ?, 'ap-guangzhou', 'n', '', 'ap-guangzhou-2', ?, 0, '', 1, '[]')`);
    const info = (token?: string) => JSON.stringify({ ComputeEnv: token === undefined ? {} : { ClientToken: token }, Placement: {} });
    insert.run('env-old1', 1, 'acc-a', info('tok'));
    insert.run('env-old2', 2, 'acc-a', info('tok')); // a duplicate the old, non-atomic check let through
    insert.run('env-old3', 3, 'acc-b', info('tok'));
    insert.run('env-old4', 4, 'acc-a', info());
    db.close();
    const s = new SqliteStore(file);
    expect((await s.getEnvByClientToken('acc-a', 'ap-guangzhou', 'tok'))?.id).toBe('env-old2');
    expect((await s.getEnvByClientToken('acc-b', 'ap-guangzhou', 'tok'))?.id).toBe('env-old3');
    expect((await s.getEnvById('env-old1'))?.clientToken).toBeNull();
    expect((await s.getEnvById('env-old4'))?.clientToken).toBeNull();
    expect(await s.insertEnvWithNodes(env({ clientToken: 'tok' }), [], [], 10)).toEqual({ envId: 'env-old2', created: false });
    await s.close();
  });

  it('runs every step from 5 on again without harm (idempotent), keeping what the database holds', async () => {
    const file = tempDb();
    let s = new SqliteStore(file);
    const j = job();
    await s.insertJob(j, [task(j.id)]);
    const e = env({ clientToken: 'tok' });
    await s.insertEnvWithNodes(e, [], [], 10);
    const lease = (await s.acquireLease('a', 10_000, 1000))!;
    await s.close();
    const db = new Database(file);
    for (const m of MIGRATIONS.slice(5)) run(db, m);
    db.pragma('user_version = 5');
    db.close();
    s = new SqliteStore(file); // runs 5.. again
    expect(await s.currentLease()).toEqual(lease);
    expect((await s.getEnvByClientToken('acc-a', 'ap-guangzhou', 'tok'))?.id).toBe(e.id);
    expect((await s.pendingCommands(0, 10)).map((c) => c.kind)).toEqual(['submitted']);
    const k = job();
    await s.insertJob(k, [task(k.id)]);
    expect((await s.getJobById(k.id))!.seq).toBeGreaterThan((await s.getJobById(j.id))!.seq);
    await s.close();
    const check = new Database(file);
    expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    check.close();
  });

  it('backs ClientToken up with a unique index per owner; envs without a token are not indexed', async () => {
    const file = tempDb();
    const s = new SqliteStore(file);
    await s.insertEnvWithNodes(env({ clientToken: 'tok' }), [], [], 10);
    await s.insertEnvWithNodes(env(), [], [], 10);
    await s.close();
    const db = new Database(file);
    const insert = db.prepare(`INSERT INTO compute_envs (id, seq, account, region, name, description, zone, info, desired, next_action, create_time, tags, client_token)
      VALUES (?, ?, ?, 'ap-guangzhou', 'n', '', 'ap-guangzhou-2', '{}', 0, '', 1, '[]', ?)`);
    const dup = (() => {
      try {
        insert.run('env-dup', 100, 'acc-a', 'tok');
      } catch (e) {
        return (e as { code?: string }).code;
      }
    })();
    expect(dup).toBe('SQLITE_CONSTRAINT_UNIQUE');
    insert.run('env-tok-b', 101, 'acc-b', 'tok');
    insert.run('env-none1', 102, 'acc-a', '');
    insert.run('env-none2', 103, 'acc-a', '');
    expect(db.prepare("SELECT COUNT(*) FROM compute_envs WHERE client_token = ''").pluck().get()).toBe(3);
    db.close();
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

  it('serves DescribeJob from its cache (stale once another process writes) unless the cache is disabled', async () => {
    const file = tempDb();
    const cached = new SqliteStore(file);
    const uncached = new SqliteStore(file, { cacheJobRecords: false });
    const writer = new SqliteStore(file);
    const j = job();
    await writer.insertJob(j, [task(j.id)]);
    const first = await cached.jobWithTasks('acc-a', 'ap-guangzhou', j.id);
    expect(await cached.jobWithTasks('acc-a', 'ap-guangzhou', j.id)).toBe(first); // the same frozen records
    expect(await uncached.jobWithTasks('acc-a', 'ap-guangzhou', j.id)).not.toBe(await uncached.jobWithTasks('acc-a', 'ap-guangzhou', j.id));
    await writer.applyBatch({ jobs: [{ ...(await writer.getJobById(j.id))!, state: 'RUNNING' }], tasks: [], instances: [], attempts: [] });
    expect((await uncached.jobWithTasks('acc-a', 'ap-guangzhou', j.id))?.job.state).toBe('RUNNING');
    // why a shared store must not cache: the write of another process does not drop this one's entry
    expect((await cached.jobWithTasks('acc-a', 'ap-guangzhou', j.id))?.job.state).toBe('SUBMITTED');
    for (const s of [cached, uncached, writer]) await s.close();
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
