// One better-sqlite3 connection (WAL) and the helpers every SQLite table module uses: reads in a
// deferred transaction (one snapshot), writes in an IMMEDIATE one (the write lock is taken before the
// first read, so what a write checks inside it, such as a quota, a client token or the lease's epoch,
// still holds when it commits), prepared statements cached by their SQL, and the migrations.
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { MIGRATIONS } from './migrations.ts';

export type Row = Record<string, unknown>;

/** How many statements of SQL built at run time are kept prepared. */
const DYNAMIC_CACHED = 200;

export class Conn {
  readonly db: Db;
  private readonly fixed = new Map<string, Statement>();
  private readonly dynamic = new Map<string, Statement>();
  /** One transaction function made once and reused: better-sqlite3 builds four wrappers per
   *  db.transaction() call, which showed in the DescribeJob profile (4.5%). */
  private readonly tx: ReturnType<Db['transaction']>;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = OFF');
    this.tx = this.db.transaction((f: () => unknown) => f());
    this.migrate();
  }

  /** Run fn in a read transaction (one snapshot). */
  read<T>(fn: () => T): T {
    return this.tx(fn) as T;
  }

  /** Run fn in a write transaction (BEGIN IMMEDIATE; a savepoint when already inside one). */
  write<T>(fn: () => T): T {
    return this.tx.immediate(fn) as T;
  }

  /** The prepared statement of a fixed SQL text (prepared once). */
  sql(text: string): Statement {
    let st = this.fixed.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.fixed.set(text, st);
    }
    return st;
  }

  /** The prepared statement of SQL built at run time (its shape depends on how many values are asked). */
  dyn(text: string): Statement {
    let st = this.dynamic.get(text);
    if (!st) {
      st = this.db.prepare(text);
      if (this.dynamic.size > DYNAMIC_CACHED) this.dynamic.clear();
      this.dynamic.set(text, st);
    }
    return st;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      const m = MIGRATIONS[v]!;
      this.write(() => {
        if (typeof m === 'string') this.db.exec(m);
        else m(this.db);
        this.db.pragma(`user_version = ${v + 1}`);
      });
    }
  }
}

/** `?, ?, …` for n values. */
export function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(',');
}
