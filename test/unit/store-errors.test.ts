// The SQLite store's failures as the rest of the server sees them: StoreUnavailable (full, read-only,
// I/O, busy) from every public method, StoreOpenError for a file that is no database. Real SQLite
// errors on real files; the disk-full and read-only disks themselves are in e2e/store-faults.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StoreOpenError, StoreUnavailable } from '../../src/domain/errors.ts';
import { mapSqliteError } from '../../src/store/sqlite/errors.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-store-errors-'));
const sqliteError = (code: string) => Object.assign(new Error(`SQLite said ${code}`), { code });

describe('SQLite errors', () => {
  it('maps full, read-only, I/O and busy codes to StoreUnavailable and leaves the others alone', () => {
    const dir = tmp();
    const kinds = Object.fromEntries(
      ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_IOERR_WRITE', 'SQLITE_CANTOPEN', 'SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT']
        .map((code) => {
          const e = mapSqliteError(sqliteError(code), dir);
          return [code, e instanceof StoreUnavailable ? e.kind : 'not mapped'];
        }),
    );
    // the directory is writable, so an I/O error stays an I/O error
    expect(kinds).toEqual({
      SQLITE_FULL: 'full', SQLITE_READONLY: 'readonly', SQLITE_READONLY_DBMOVED: 'readonly', SQLITE_IOERR_WRITE: 'io',
      SQLITE_CANTOPEN: 'io', SQLITE_BUSY: 'busy', SQLITE_BUSY_SNAPSHOT: 'busy',
    });
    const constraint = sqliteError('SQLITE_CONSTRAINT_UNIQUE');
    expect(mapSqliteError(constraint, dir)).toBe(constraint);
    const plain = new Error('not SQLite');
    expect(mapSqliteError(plain, dir)).toBe(plain);
  });

  it('answers StoreUnavailable(busy) from a public method while another connection holds the write lock', async () => {
    const file = path.join(tmp(), 'db.sqlite');
    const store = SqliteStore.open(file);
    const other = new Database(file);
    other.exec('BEGIN EXCLUSIVE');
    try {
      // reads go on (WAL); a write waits for the store's busy timeout, then gives up
      expect(await store.getJobById('job-00000000')).toBeUndefined();
      const e = await store.deleteJob('job-00000000').then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(StoreUnavailable);
      expect((e as StoreUnavailable).kind).toBe('busy');
      expect((e as StoreUnavailable).message).toContain('SQLITE_BUSY');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    // and works again once the lock is gone
    await store.deleteJob('job-00000000');
    await store.close();
  }, 20_000);

  it('refuses to open a file that is not a database with StoreOpenError, saying which file', () => {
    const file = path.join(tmp(), 'db.sqlite');
    fs.writeFileSync(file, 'this is not an SQLite database, just text that is long enough to be read as a header.'.repeat(20));
    let caught: unknown;
    try {
      SqliteStore.open(file);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(StoreOpenError);
    expect((caught as Error).message).toContain(`cannot open the database ${file}`);
    expect((caught as Error).message).toContain('SQLITE_NOTADB');
  });
});
