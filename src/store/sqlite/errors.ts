// What SQLite's failures mean to the rest of the server: a full disk, a file system turned read-only, an
// I/O error or a lock held too long become StoreUnavailable (domain/errors.ts), and a database that
// cannot be opened at all StoreOpenError; no other layer reads an SQLITE_* code.
import path from 'node:path';
import { StoreOpenError, StoreUnavailable, type StoreUnavailableKind } from '../../domain/errors.ts';
import { writeProblem } from '../../lib/write-probe.ts';

/** The SQLITE_* code of an error of better-sqlite3, or undefined for any other error. */
function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** What an SQLite code says about the store, or undefined when it is not a store-level failure. `dir`
 *  (the database's directory) is probed on I/O errors: SQLite reports a write refused by a file system
 *  that turned read-only, or that filled up, as a plain I/O error. */
function kindOf(code: string, dir: string): StoreUnavailableKind | undefined {
  if (code === 'SQLITE_FULL') return 'full';
  if (code.startsWith('SQLITE_READONLY')) return 'readonly';
  if (code.startsWith('SQLITE_BUSY')) return 'busy';
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) {
    const errno = writeProblem(dir);
    if (errno === 'EROFS') return 'readonly';
    if (errno === 'ENOSPC' || errno === 'EDQUOT') return 'full';
    return 'io';
  }
  return undefined;
}

/** `e` as StoreUnavailable when SQLite says the store cannot work now; any other error unchanged. */
export function mapSqliteError(e: unknown, dir: string): unknown {
  const code = sqliteCode(e);
  const kind = code === undefined ? undefined : kindOf(code, dir);
  if (kind === undefined) return e;
  return new StoreUnavailable(kind, `the SQLite store cannot work now: ${(e as Error).message} (${code})`, { cause: e });
}

/** Makes every async method of `store` (the Store interface is async) reject with mapSqliteError's
 *  answer; applied once, in the constructor, so that no method can forget it. */
export function guardStore(store: object, file: string): void {
  const dir = path.dirname(file);
  const target = store as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
    const method = target[name];
    if (name === 'constructor' || typeof method !== 'function' || method.constructor.name !== 'AsyncFunction') continue;
    const run = method as (...args: unknown[]) => Promise<unknown>;
    target[name] = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      return run.apply(this, args).catch((e: unknown) => {
        throw mapSqliteError(e, dir);
      });
    };
  }
}

/** Opens a store on `file`: StoreUnavailable when its disk cannot serve it now, StoreOpenError for any
 *  other refusal of SQLite (not a database, corrupt, …). */
export function openGuarded<T>(file: string, open: () => T): T {
  try {
    return open();
  } catch (e) {
    const code = sqliteCode(e);
    if (code === undefined) throw e;
    const message = `cannot open the database ${file}: ${(e as Error).message} (${code})`;
    const kind = kindOf(code, path.dirname(file));
    throw kind === undefined ? new StoreOpenError(message, { cause: e }) : new StoreUnavailable(kind, message, { cause: e });
  }
}
