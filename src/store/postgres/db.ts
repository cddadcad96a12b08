// The PostgreSQL connection pool of one store (node-postgres) and the helpers every table module uses:
// single statements on any pooled connection, writes in a READ COMMITTED transaction on one client,
// snapshot reads in a REPEATABLE READ READ ONLY transaction on one client; a transaction that fails on
// a serialization failure or a deadlock is run again (a few times) before it is given up as busy.
// int8 columns are parsed as JS numbers on this pool's own types (the global parsers are untouched).
import pg from 'pg';
import type { Logger } from '../../lib/logger.ts';
import { isConnectionError, isRetryable, redact } from './errors.ts';

export type Row = Record<string, unknown>;

/** Something that runs one statement: the pool, or the client of a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = Row>(q: pg.QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

const INT8 = 20;

/** The pool's type parsers: int8 (bigint, COUNT(*)) as numbers; everything else as node-postgres parses it. */
export const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8 && format !== 'binary') return (v: string) => Number(v);
    return (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** How many times a transaction is run in all when it keeps failing on a serialization failure or a deadlock. */
const ATTEMPTS = 4;

export const CONNECT_TIMEOUT_MS = 5000;
/** How long a statement may go unanswered before its connection counts as lost (a partition: the
 *  server neither answers nor resets). Generous for the largest batch the scheduler writes. */
export const QUERY_TIMEOUT_MS = 10_000;

/** The password of a connection string (to keep it out of messages), when it has one. */
export function passwordOf(url: string): string | undefined {
  try {
    const p = new URL(url).password;
    return p === '' ? undefined : decodeURIComponent(p);
  } catch {
    return undefined;
  }
}

/** The settings of a client on `url` (pooled ones and the LISTEN connection alike). */
export function clientConfig(url: string): pg.ClientConfig {
  return {
    connectionString: url, types: TYPES, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true, keepAliveInitialDelayMillis: 10_000, application_name: 'openbatch',
  };
}

export class Db implements Queryable {
  readonly pool: pg.Pool;
  private closed = false;

  constructor(readonly url: string, poolSize: number, private readonly logger: Logger, private readonly secrets: string[]) {
    this.pool = new pg.Pool({ ...clientConfig(url), max: poolSize, idleTimeoutMillis: 30_000 });
    // an idle client whose connection dies is dropped by the pool; it must never crash the process
    this.pool.on('error', (e) => {
      this.logger.warn({ err: { message: redact(e.message, this.secrets), code: (e as { code?: string }).code } },
        'an idle PostgreSQL connection failed (the pool drops it)');
    });
  }

  query<R extends pg.QueryResultRow = Row>(q: pg.QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.retrying(() => this.pool.query<R>(q as pg.QueryConfig, values));
  }

  /** Run fn in a READ COMMITTED write transaction on one client (again when it must be retried). */
  write<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.retrying(() => this.transaction('BEGIN', fn));
  }

  /** Run fn in a REPEATABLE READ READ ONLY transaction: every read of fn sees one snapshot. */
  read<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.retrying(() => this.transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async retrying<T>(run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (e) {
        if (!isRetryable(e) || attempt >= ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 10 * attempt));
      }
    }
  }

  private async transaction<T>(begin: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    // while checked out the pool does not listen: a connection that dies between statements must not
    // crash the process (the statement in flight fails with the error instead)
    let broken: unknown;
    const onError = (e: unknown): void => {
      broken = e;
    };
    c.on('error', onError);
    try {
      await c.query(begin);
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      if (broken === undefined && !isConnectionError(e)) {
        try {
          await c.query('ROLLBACK');
        } catch (rollback) {
          broken = rollback;
        }
      } else {
        broken ??= e;
      }
      throw e;
    } finally {
      c.removeListener('error', onError);
      // a client whose connection failed is destroyed, not given back
      c.release(broken === undefined ? undefined : broken instanceof Error ? broken : new Error(String(broken)));
    }
  }
}
