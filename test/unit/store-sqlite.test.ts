// The Store contract on SQLite (a real database file in a temp dir).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { storeContract } from '../contract/store.contract.ts';

const files = new WeakMap<object, string>();
storeContract('sqlite', {
  async create() {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-store-')), 'db.sqlite');
    const s = new SqliteStore(file);
    files.set(s, file);
    return s;
  },
  async reopen(s) {
    await s.close();
    return new SqliteStore(files.get(s)!);
  },
});

describe('SQLite migrations', () => {
  it('counts the jobs a database already held when it gains job_counts (migration 4)', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-store-')), 'db.sqlite');
    const db = new Database(file);
    for (const m of MIGRATIONS.slice(0, 4)) db.exec(m);
    db.pragma('user_version = 4');
    const insert = db.prepare(`INSERT INTO jobs (id, seq, account, region, name, description, priority, zone, state, state_reason,
      next_action, create_time, end_time, client_token, tags, spec) VALUES (?, ?, ?, 'ap-guangzhou', 'n', '', 0, 'ap-guangzhou-2', ?, '', '', 1, NULL, NULL, '[]', '{}')`);
    const states = ['SUCCEED', 'SUCCEED', 'FAILED', 'RUNNING', 'SUCCEED'];
    states.forEach((st, i) => insert.run(`job-old${i}`, i + 1, i === 4 ? 'acc-b' : 'acc-a', st));
    db.close();
    const s = new SqliteStore(file);
    const total = async (account: string, values?: string[]) =>
      (await s.listJobs(account, 'ap-guangzhou', { filters: values && [{ name: 'job-state', values }], offset: 0, limit: 10 })).total;
    expect([await total('acc-a'), await total('acc-a', ['SUCCEED']), await total('acc-a', ['FAILED', 'RUNNING']), await total('acc-b')]).toEqual([4, 2, 2, 1]);
    await s.close();
  });
});
