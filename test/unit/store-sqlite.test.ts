// The Store contract on SQLite (a real database file in a temp dir).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
