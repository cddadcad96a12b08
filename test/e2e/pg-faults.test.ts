// PostgreSQL failing under a running server: unreachable (every connection reset and refused), a
// partition (connections open, nothing answers), and restarting (every connection of the database
// terminated, again and again). The API answers a clear FailedOperation over HTTP 200 (never a crash,
// never a hang, never 5xx), the scheduler keeps what it could not write and retries, and once the
// database is back everything resumes: no acknowledged SubmitJob is lost, no instance runs twice.
// Real server, real PostgreSQL (reached through a TCP proxy the test controls, so that the database
// server the other tests share is left alone); skipped, saying why, without PostgreSQL.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, sharedDir, simpleJob, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';
import { freshDatabase, PG_URL, pgSkipReason, withAdmin } from '../support/pg.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

const why = await pgSkipReason();
const title = (t: string) => (why ? `${t} (skipped: ${why})` : t);

let proxy: TcpProxy;
let srv: TestServer;
let c: BatchClient;
let db: Awaited<ReturnType<typeof freshDatabase>>;
const scratch = sharedDir('openbatch-pgfault-');

beforeAll(async () => {
  if (why) return;
  db = await freshDatabase();
  const target = new URL(PG_URL);
  proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
  const port = await proxy.start();
  const url = new URL(db.url);
  url.host = `127.0.0.1:${port}`;
  srv = await startServer({ args: ['--store', url.toString(), '--replica-id', 'faults'] });
  c = srv.client();
});
afterAll(async () => {
  proxy?.set("pass");
  await srv?.stop();
  await proxy?.close();
  await db?.drop();
});

/** A job of `n` instances that each mark a run, then wait for `go`. */
function gated(name: string, n: number) {
  const go = path.join(scratch, `${name}.go`);
  const marks = path.join(scratch, name);
  fs.mkdirSync(marks);
  fs.chmodSync(marks, 0o1777); // tasks run as users of their own
  return {
    go, marks,
    req: simpleJob(`echo x >> ${marks}/$BATCH_TASK_INSTANCE_INDEX; while [ ! -f ${go} ]; do sleep 0.05; done`, { TaskInstanceNum: n }),
  };
}

function ranOnce(marks: string, n: number): string[] {
  const bad: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = path.join(marks, String(i));
    const text = fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
    if (text !== 'x\n') bad.push(`${i}: ${JSON.stringify(text)}`);
  }
  return bad;
}

/** The instances of task A that did not succeed, with their reasons (for failure messages). */
async function unsucceeded(JobId: string): Promise<string[]> {
  const t = await c.DescribeTask!({ JobId, TaskName: 'A', Limit: 1000 });
  return t.TaskInstanceSet.filter((i: { TaskInstanceState: string }) => i.TaskInstanceState !== 'SUCCEED')
    .map((i: { TaskInstanceIndex: number; TaskInstanceState: string; StateReason: string; ExitCode: number | null }) => `${i.TaskInstanceIndex} ${i.TaskInstanceState} ${i.ExitCode} ${i.StateReason}`);
}

describe.skipIf(why !== undefined)(title('PostgreSQL failing under a running server'), () => {
  for (const mode of ['refuse', 'blackhole'] as const) {
    it(`${mode === 'refuse' ? 'unreachable (connections reset and refused)' : 'partitioned (nothing answers)'}: FailedOperation while it lasts, then everything resumes`, async () => {
      const g = gated(mode, 3);
      const { JobId } = await c.SubmitJob!(g.req);
      await waitFor(async () => (await c.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 3, 'the instances to run');
      proxy.set(mode);
      // reads and writes answer a clear error, over HTTP 200, in bounded time
      for (const call of [() => c.DescribeJob!({ JobId }), () => c.SubmitJob!(simpleJob('echo during')), () => c.DescribeJobs!({})]) {
        const e = await errorOf(call());
        expect(e.code).toBe('FailedOperation');
        expect(e.message).toMatch(/database cannot be reached/);
        expect(e.message).not.toMatch(/password|postgres:\/\//);
      }
      // the attempts end while the database is away: their ends are written once it is back
      fs.writeFileSync(g.go, '');
      await new Promise((r) => setTimeout(r, 1500));
      proxy.set('pass');
      await waitJobDone(c, JobId, 90_000);
      expect(await unsucceeded(JobId)).toEqual([]);
      expect(ranOnce(g.marks, 3)).toEqual([]);
      // and new work runs
      const after = await c.SubmitJob!(simpleJob('echo after'));
      expect((await waitJobDone(c, after.JobId, 60_000)).JobState).toBe('SUCCEED');
      expect(srv.proc.exitCode).toBeNull();
    }, 180_000);
  }

  it('restarting (every connection of the database terminated, five times during a job): no acknowledged job lost, every instance once', async () => {
    const g = gated('restart', 20);
    const { JobId } = await c.SubmitJob!(g.req);
    const acked: string[] = [];
    for (let k = 0; k < 5; k++) {
      await new Promise((r) => setTimeout(r, 300 + k * 150));
      await withAdmin((a) => a.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]));
      // submissions around the terminations: each is either acknowledged (and then kept) or refused
      const r = await c.SubmitJob!(simpleJob('echo around')).catch((e: { code?: string }) => e);
      if ('JobId' in r) acked.push(r.JobId as string);
      else expect(r.code).toBe('FailedOperation');
    }
    fs.writeFileSync(g.go, '');
    await waitJobDone(c, JobId, 90_000);
    expect(await unsucceeded(JobId)).toEqual([]);
    expect(ranOnce(g.marks, 20)).toEqual([]);
    for (const id of acked) expect((await waitJobDone(c, id, 60_000)).JobState).toBe('SUCCEED');
    expect(srv.proc.exitCode).toBeNull();
  }, 180_000);
});

// The database server's disk fills up: its tables live in a tablespace on a small tmpfs of their own
// (the rest of the database server keeps its disk). Needs root (mount) and a database server on this
// host that can use a directory the test makes (its files owned by the server's user).
const ROOT = process.getuid?.() === 0;
const pgUser = (): { uid: number; gid: number } | undefined => {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
};
const fullWhy = why ?? (!ROOT ? 'needs root (a tmpfs mount for the tablespace)' : pgUser() === undefined ? 'no postgres user on this host (the database server is elsewhere)' : undefined);

describe.skipIf(fullWhy !== undefined)(`the database server's disk full${fullWhy ? ` (skipped: ${fullWhy})` : ''}`, () => {
  it('SubmitJob answers FailedOperation saying so, what was there stays, and everything resumes once space is freed', async () => {
    const mnt = tempDir('openbatch-pg-tablespace-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', mnt]);
    const space = path.join(mnt, 'ts');
    fs.mkdirSync(space);
    const u = pgUser()!;
    fs.chownSync(space, u.uid, u.gid);
    const name = `openbatch_full_${process.pid}`;
    const ts = `${name}_ts`;
    let server: TestServer | undefined;
    try {
      await withAdmin(async (a) => {
        await a.query(`CREATE TABLESPACE ${ts} LOCATION '${space}'`);
        await a.query(`CREATE DATABASE ${name} TABLESPACE ${ts}`);
      });
      const url = new URL(PG_URL);
      url.pathname = `/${name}`;
      server = await startServer({ args: ['--store', url.toString(), '--replica-id', 'full'] });
      const sc = server.client();
      const before = await sc.SubmitJob!(simpleJob('echo before'));
      expect((await waitJobDone(sc, before.JobId)).JobState).toBe('SUCCEED');
      const filler = path.join(mnt, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=64'], { stdio: 'ignore' });
      } catch {
        // "No space left on device": that is the point
      }
      let refused: { code: string; message: string } | undefined;
      for (let i = 0; i < 40 && !refused; i++) {
        // a few writes may still fit in free pages; once the tables must grow they fail cleanly
        refused = await errorOf(sc.SubmitJob!(simpleJob('echo during', { TaskInstanceNum: 50, EnvVars: [{ Name: 'PAD', Value: 'x'.repeat(60_000) }] }))).catch(() => undefined);
      }
      expect(refused?.code).toBe('FailedOperation');
      expect(refused?.message).toContain('the disk of the database server is full');
      // reads still answer, and the earlier job is intact
      expect((await sc.DescribeJob!({ JobId: before.JobId })).JobState).toBe('SUCCEED');
      fs.rmSync(filler);
      const after = await waitFor(async () => sc.SubmitJob!(simpleJob('echo after')), 'SubmitJob to work again', 30_000, 500);
      expect((await waitJobDone(sc, after.JobId, 60_000)).JobState).toBe('SUCCEED');
      expect(server.proc.exitCode).toBeNull();
    } finally {
      await server?.stop();
      await withAdmin(async (a) => {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await a.query(`DROP TABLESPACE IF EXISTS ${ts}`);
      }).catch(() => undefined);
      execFileSync('umount', ['-l', mnt]);
    }
  }, 180_000);
});
