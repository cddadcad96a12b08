// The Store contract on PostgreSQL (a real server: test/support/pg.ts; a database of its own per store),
// then what only a store shared by several processes has: migrations run by replicas starting at once,
// a schema newer than the code, two stores seeing each other's writes and commands (LISTEN/NOTIFY),
// quotas, client tokens and fencing under concurrency, and a server that cannot be reached or whose
// connections are killed. Without a server, everything here skips (saying why).
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreOpenError, StoreUnavailable } from '../../src/domain/errors.ts';
import { FencedError } from '../../src/store/errors.ts';
import { mapPgError, redact } from '../../src/store/postgres/errors.ts';
import { SCHEMA_VERSION } from '../../src/store/postgres/migrations.ts';
import { PgStore } from '../../src/store/postgres/pg-store.ts';
import type { Store } from '../../src/store/types.ts';
import { storeContract } from '../contract/store.contract.ts';
import { listingContract } from '../contract/store-listing.contract.ts';
import { inst, job, settle, task, template } from '../contract/store-fixtures.ts';
import { freshDatabase, pgSkipReason, urlOf, withAdmin } from '../support/pg.ts';

const skip = await pgSkipReason();

const dropped: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of dropped) await drop().catch(() => undefined);
});

async function database(): Promise<string> {
  const d = await freshDatabase();
  dropped.push(d.drop);
  return d.url;
}

const urls = new WeakMap<Store, string>();
const factory = {
  async create(): Promise<Store> {
    const url = await database();
    const s = await PgStore.open(url, { poolSize: 4 });
    urls.set(s, url);
    return s;
  },
  async reopen(s: Store): Promise<Store> {
    await s.close();
    const url = urls.get(s)!;
    const again = await PgStore.open(url, { poolSize: 4 });
    urls.set(again, url);
    return again;
  },
};

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e);
}

describe.skipIf(skip !== undefined)('PostgreSQL store', () => {
  storeContract('postgres', factory);
  listingContract('postgres', factory);

  describe('PostgreSQL: migrations', () => {
    it('lets five replicas open a new database at once: all succeed and leave one schema', async () => {
      const url = await database();
      const stores = await Promise.all(Array.from({ length: 5 }, () => PgStore.open(url, { poolSize: 2 })));
      const j = job();
      await stores[0]!.insertJob(j, [task(j.id)]);
      for (const s of stores) expect((await s.getJobById(j.id))?.id).toBe(j.id);
      await Promise.all(stores.map((s) => s.close()));
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      expect((await c.query('SELECT version FROM schema_version')).rows).toEqual([{ version: SCHEMA_VERSION }]);
      const tables = (await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'jobs'")).rows[0].n;
      expect(tables).toBe(1);
      await c.end();
    });

    it('refuses to open a database whose schema is newer than this code, saying so', async () => {
      const url = await database();
      await (await PgStore.open(url)).close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query('UPDATE schema_version SET version = $1', [SCHEMA_VERSION + 2]);
      await c.end();
      const err = await rejection(PgStore.open(url));
      expect(err).toBeInstanceOf(StoreOpenError);
      expect((err as Error).message).toBe(`the database schema is at version ${SCHEMA_VERSION + 2} but this OpenBatch knows only up to ${SCHEMA_VERSION}: `
        + 'it is older than the replicas that upgraded the database; upgrade it');
    });
  });

  describe('PostgreSQL: two stores on one database (two replicas)', () => {
    it('see each other\'s writes at once, and hear each other\'s commands, coalesced', async () => {
      const url = await database();
      const [one, two] = [await PgStore.open(url), await PgStore.open(url)];
      const j = job();
      await one.insertJob(j, [task(j.id)]);
      expect((await two.getJobById(j.id))?.id).toBe(j.id);
      expect((await two.listJobs('acc-a', 'ap-guangzhou', { offset: 0, limit: 10 })).jobs.map((x) => x.id)).toEqual([j.id]);
      let woke = 0;
      one.onCommand(() => woke++);
      await one.whenListening();
      // a burst of ten commands (sent at once: one after another, a loaded machine spaced them out
      // beyond the coalescing window) wakes the listener, in fewer calls than commands
      await Promise.all(Array.from({ length: 10 }, (_, i) => two.insertCommand({ kind: 'env-changed', envId: `env-${i}`, createdAt: i })));
      await settle(() => woke > 0);
      await settle(() => false, 150); // the coalescer's last call of the burst (100 ms at most after its first)
      expect(woke).toBeGreaterThan(0);
      expect(woke).toBeLessThan(10);
      // a SubmitJob on the other store wakes it again
      const w = woke;
      const k = job();
      await two.insertJob(k, [task(k.id)]);
      await settle(() => woke > w);
      expect(woke).toBeGreaterThan(w);
      expect((await one.pendingCommands(0, 100)).length).toBe(12);
      await one.close();
      await two.close();
    });

    it('never lets concurrent inserts of two stores exceed a template quota', async () => {
      const url = await database();
      const [one, two] = [await PgStore.open(url), await PgStore.open(url)];
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).insertTemplate(template(), 5)));
      expect(results.filter(Boolean)).toHaveLength(5);
      expect((await one.listTemplates('acc-a', 'ap-guangzhou', { offset: 0, limit: 50 })).total).toBe(5);
      await one.close();
      await two.close();
    });

    it('creates one job for concurrent inserts with the same client token from two stores', async () => {
      const url = await database();
      const [one, two] = [await PgStore.open(url), await PgStore.open(url)];
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => {
        const j = job({ clientToken: 'race' });
        return (i % 2 ? one : two).insertJob(j, [task(j.id)]);
      }));
      const created = results.filter((r) => r.created);
      expect(created).toHaveLength(1);
      for (const r of results) expect(r.jobId).toBe(created[0]!.jobId);
      expect((await one.listJobs('acc-a', 'ap-guangzhou', { offset: 0, limit: 50 })).total).toBe(1);
      expect(await two.pendingCommands(0, 50)).toHaveLength(1);
      await one.close();
      await two.close();
    });

    it('writes nothing of a fenced write that waited on a takeover in progress', async () => {
      const url = await database();
      const s = await PgStore.open(url);
      const j = job();
      await s.insertJob(j, [task(j.id)]);
      const a = (await s.acquireLease('a', 1000, 0))!;
      // another replica takes the lease over in a transaction still open while the write comes in
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      await other.query('BEGIN');
      await other.query("UPDATE leadership SET holder = 'b', epoch = epoch + 1, expires_at = 5000, since = 2000 WHERE id = 1");
      const write = rejection(s.applyBatch({ jobs: [], tasks: [], instances: [inst(j.id, 0, 'RUNNING')], attempts: [] }, a.epoch));
      await new Promise((r) => setTimeout(r, 100));
      await other.query('COMMIT');
      await other.end();
      const err = await write;
      expect(err).toBeInstanceOf(FencedError);
      expect(err).toMatchObject({ staleEpoch: a.epoch, currentEpoch: a.epoch + 1, currentHolder: 'b' });
      expect(await s.getInstance(j.id, 'A', 0)).toBeUndefined();
      await s.close();
    });
  });

  describe('PostgreSQL: what the batch statements carry', () => {
    it('writes text with quotes, backslashes, braces, commas and the word NULL as it is', async () => {
      const s = await factory.create();
      const j = job();
      await s.insertJob(j, [task(j.id)]);
      const odd = ['a"b', 'back\\slash\\', '{x},{y}', 'NULL', '', ' spaced ', 'ünïcode ✓', "it's"];
      const rows = odd.map((reason, i) => ({ ...inst(j.id, i, 'FAILED'), stateReason: reason, stateDetail: reason, nodeId: i % 2 ? 'NULL' : null }));
      await s.applyBatch({ jobs: [], tasks: [], instances: rows, attempts: [] });
      for (const r of rows) expect(await s.getInstance(j.id, 'A', r.index)).toEqual(r);
      await s.close();
    });
  });

  describe('PostgreSQL: a server that cannot be reached', () => {
    it('answers StoreUnavailable(unreachable) at open when nothing listens, without the password', async () => {
      const err = await rejection(PgStore.open('postgres://postgres:s3cr3t-pw@127.0.0.1:1/postgres'));
      expect(err).toBeInstanceOf(StoreUnavailable);
      expect(err).toMatchObject({ kind: 'unreachable' });
      expect((err as Error).message).not.toContain('s3cr3t-pw');
    });

    it('answers StoreOpenError for a missing database or role, without the password', async () => {
      const missing = await rejection(PgStore.open(urlOf('openbatch_t_no_such_db')));
      expect(missing).toBeInstanceOf(StoreOpenError);
      expect((missing as Error).message).toMatch(/does not exist/);
      const role = new URL(urlOf('postgres'));
      role.username = 'openbatch_no_such_role';
      role.password = 'pw-s3cr3t';
      const refused = await rejection(PgStore.open(role.toString()));
      expect(refused).toBeInstanceOf(StoreOpenError);
      expect((refused as Error).message).not.toContain('pw-s3cr3t');
    });

    it('recovers, or answers StoreUnavailable, when its connections are killed, and hears commands again', async () => {
      const url = await database();
      const s = await PgStore.open(url, { poolSize: 3 });
      const j = job();
      await s.insertJob(j, [task(j.id)]);
      let woke = 0;
      s.onCommand(() => woke++);
      await s.whenListening();
      const name = new URL(url).pathname.slice(1);
      const killed = await withAdmin(async (c) => (await c.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name])).rowCount);
      expect(killed).toBeGreaterThanOrEqual(2); // the pool's idle connection and the LISTEN connection
      const first = await s.getJobById(j.id).then((r) => r?.id, (e: unknown) => e);
      if (first !== j.id) expect(first).toMatchObject({ kind: 'unreachable' });
      expect((await s.getJobById(j.id))?.id).toBe(j.id);
      // the LISTEN connection is made again, and the listeners are called once for what they may have missed
      await settle(() => woke > 0, 5000);
      expect(woke).toBe(1);
      await s.insertCommand({ kind: 'retry-job', jobId: j.id, createdAt: 1 });
      await settle(() => woke > 1, 5000);
      expect(woke).toBe(2);
      await s.close();
      await s.close(); // idempotent
    });
  });
});

describe('PostgreSQL errors', () => {
  it('maps SQLSTATEs and connection failures to StoreUnavailable kinds, and leaves others alone', () => {
    const kind = (code: string, message = 'x') => (mapPgError(Object.assign(new Error(message), { code }), []) as StoreUnavailable).kind;
    expect(['08006', '57P01', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].map((c) => kind(c))).toEqual(Array(6).fill('unreachable'));
    expect([kind('53100'), kind('25006'), kind('53300'), kind('55P03'), kind('57014'), kind('40001')]).toEqual(['full', 'readonly', 'busy', 'busy', 'busy', 'busy']);
    expect((mapPgError(new Error('Connection terminated unexpectedly'), []) as StoreUnavailable).kind).toBe('unreachable');
    const other = Object.assign(new Error('syntax error'), { code: '42601' });
    expect(mapPgError(other, [])).toBe(other);
  });

  it('takes passwords out of messages', () => {
    expect(redact('cannot reach postgres://u:hunter2@db:5432/x now')).toBe('cannot reach postgres://u:***@db:5432/x now');
    expect(redact('password hunter2 was refused', ['hunter2'])).toBe('password *** was refused');
    const e = mapPgError(Object.assign(new Error('connect ECONNREFUSED with hunter2'), { code: 'ECONNREFUSED' }), ['hunter2']) as Error;
    expect(e.message).not.toContain('hunter2');
  });
});
