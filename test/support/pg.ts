// The real PostgreSQL of the PostgreSQL store's tests: OPENBATCH_TEST_PG_URL, or the server of
// scripts/pg-up.sh (postgres://postgres@127.0.0.1:5432/postgres; CI starts it). Every store under test
// gets a database of its own (freshDatabase), dropped after. Without a server that answers, the tests
// skip, saying why on stderr (pgSkipReason): counted as skipped, never passed.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.OPENBATCH_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The server URL with another database. */
export function urlOf(database: string, base = PG_URL): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Run `fn` on a client of the server's maintenance database, then end it. */
export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Why the test server cannot be used, said once on stderr; undefined when it answers. */
export async function pgSkipReason(): Promise<string | undefined> {
  try {
    await withAdmin((c) => c.query('SELECT 1'));
    return undefined;
  } catch (e) {
    const why = `no PostgreSQL answers at ${new URL(PG_URL).host} (${(e as Error).message || (e as Error).name}); sudo scripts/pg-up.sh starts one, or set OPENBATCH_TEST_PG_URL`;
    process.stderr.write(`test/pg: skipped: ${why}\n`);
    return why;
  }
}

/** A new empty database openbatch_t_<pid>_<random> and the function that drops it (WITH (FORCE)). */
export async function freshDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `openbatch_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: urlOf(name),
    drop: () => withAdmin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }),
  };
}
