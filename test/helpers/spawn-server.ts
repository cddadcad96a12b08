// Starts a real OpenBatch server process (bin/openbatch.mjs serve) on a free port with a fresh data
// dir, and builds official-SDK clients pointed at it. No mocks: real store, real processes.
// Used by the end-to-end tests (through server.ts) and by the benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cgroupParents } from '../../src/executors/local/cgroups.ts';
import { tagOf } from '../../src/executors/local/isolation.ts';
import { freshDatabase } from '../support/pg.ts';

const require = createRequire(import.meta.url);
// The official Node SDK (batch service only: loading every product takes longer).
const { batch } = require('tencentcloud-sdk-nodejs/tencentcloud/services/batch') as {
  batch: { v20170312: { Client: new (cfg: unknown) => BatchClient } };
};

// The SDK would send every request through http_proxy when set (see sdk-wire-notes.md).
delete process.env.http_proxy;
delete process.env.HTTP_PROXY;
delete process.env.https_proxy;
delete process.env.HTTPS_PROXY;

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SECRET_ID = 'AKIDtestDefaultAccount00000000000000';
export const SECRET_KEY = 'testDefaultAccountSecretKey0000000';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type BatchClient = Record<string, (req?: any) => Promise<any>>;

export interface ClientOptions {
  secretId?: string;
  secretKey?: string;
  region?: string | null;
  reqMethod?: 'POST' | 'GET';
  signMethod?: 'TC3-HMAC-SHA256' | 'HmacSHA1' | 'HmacSHA256';
  host?: string;
}

export interface TestServer {
  port: number;
  url: string;
  dataDir: string;
  proc: ChildProcess;
  output: () => string;
  client(o?: ClientOptions): BatchClient;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  args?: string[];
  env?: Record<string, string>;
  /** Options for the server's node (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** A command the server runs under (e.g. `nsenter --mount=FILE --`), its pid then the wrapper's
   *  until it execs the server. */
  wrap?: string[];
  rateLimits?: 'intl' | 'mainland' | 'off';
  slots?: number;
  /** --overcommit: the tests emulate a host larger than the 2-core machines they run on (default: 8,
   *  or enough for `slots` instances of one vCPU, whichever is more). */
  overcommit?: number;
  /** How long the server may take to listen (default 30 s). */
  startTimeoutMs?: number;
}

/** Every server process started here (tests kill the leftovers when a file ends). */
export const started = new Set<ChildProcess>();
/** Their data dirs: each has a parent cgroup per hierarchy while its server runs (when root). */
const dataDirs = new Set<string>();

/** Remove the (empty) attempt cgroup parents of the servers started here, once they have stopped:
 *  a server removes them when it stops, not when it is killed. */
export function removeCgroupParents(): void {
  for (const d of dataDirs) {
    for (const p of cgroupParents(tagOf(d))) {
      try {
        fs.rmdirSync(p);
      } catch {
        // gone already, or a shim still drains a slot in it
      }
    }
  }
}

/**
 * OPENBATCH_TEST_STORE=postgres: every server started here without a `--store` of its own keeps its
 * data in PostgreSQL (test/support/pg.ts) instead of the data dir's SQLite file: one fresh database
 * per data dir, so that a restart on the same data dir finds its jobs again, and a replica id named
 * after the data dir, as an operator gives each replica a fixed one (the lease and the attempts of a
 * restarted server are its own again). The e2e suite runs once this way (vitest project `pg`).
 */
export const TEST_STORE = process.env.OPENBATCH_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
const pgDatabases = new Map<string, { url: string; drop(): Promise<void> }>();

/** The `--store` (and `--replica-id`) a server on `dataDir` gets under OPENBATCH_TEST_STORE=postgres;
 *  none otherwise, or when `args` name a store already. For tests that start servers their own way. */
export async function storeArgs(dataDir: string, args: string[] = []): Promise<string[]> {
  if (TEST_STORE !== 'postgres' || args.includes('--store')) return [];
  const key = path.resolve(dataDir);
  let db = pgDatabases.get(key);
  if (!db) {
    db = await freshDatabase();
    pgDatabases.set(key, db);
  }
  return ['--store', db.url, ...(args.includes('--replica-id') ? [] : ['--replica-id', `test-${path.basename(key)}`])];
}

/** Drop the databases of the servers started here (after they stopped: WITH (FORCE) ends sessions). */
export async function dropTestDatabases(): Promise<void> {
  const all = [...pgDatabases.values()];
  pgDatabases.clear();
  await Promise.all(all.map((d) => d.drop().catch(() => undefined)));
}

export function tempDir(prefix = 'openbatch-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A directory tasks may write to, whatever user they run as (as an operator would make an output
 *  directory for them: docs/security.md). */
export function sharedDir(prefix = 'openbatch-shared-'): string {
  const d = tempDir(prefix);
  fs.chmodSync(d, 0o1777);
  return d;
}

export async function startServer(o: StartOptions = {}): Promise<TestServer> {
  const dataDir = o.dataDir ?? tempDir();
  const args = [
    ...(o.nodeArgs ?? []), path.join(ROOT, 'bin/openbatch.mjs'), 'serve', '--port', '0', '--data-dir', dataDir,
    '--rate-limits', o.rateLimits ?? 'off', '--slots', String(o.slots ?? 4), '--overcommit', String(o.overcommit ?? Math.max(8, Math.ceil((o.slots ?? 4) / os.availableParallelism()))), '--log-level', 'warn', ...(o.args ?? []),
    ...(await storeArgs(dataDir, o.args ?? [])),
  ];
  const env: Record<string, string> = { ...(process.env as Record<string, string>), OPENBATCH_SECRET_ID: SECRET_ID, OPENBATCH_SECRET_KEY: SECRET_KEY, ...o.env };
  const proc = o.wrap ? spawn(o.wrap[0]!, [...o.wrap.slice(1), process.execPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(proc);
  dataDirs.add(path.resolve(dataDir));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${(o.startTimeoutMs ?? 30_000) / 1000} s:\n${out}`)), o.startTimeoutMs ?? 30_000);
    const check = () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    proc,
    output: () => out,
    client: (c: ClientOptions = {}) => makeClient(port, c),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export function makeClient(port: number, c: ClientOptions = {}): BatchClient {
  const profile: Record<string, unknown> = {
    httpProfile: { endpoint: `${c.host ?? '127.0.0.1'}:${port}`, protocol: 'http://', reqMethod: c.reqMethod ?? 'POST', reqTimeout: 30 },
  };
  if (c.signMethod) profile.signMethod = c.signMethod;
  const cfg: Record<string, unknown> = {
    credential: { secretId: c.secretId ?? SECRET_ID, secretKey: c.secretKey ?? SECRET_KEY },
    profile,
  };
  if (c.region !== null) cfg.region = c.region ?? 'ap-guangzhou';
  return new batch.v20170312.Client(cfg) as unknown as BatchClient;
}

/** GET /healthz of a server: its HTTP status. */
export function healthz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    }).on('error', reject);
  });
}

/** Poll until `fn` returns a truthy value (returns it) or the time runs out. */
export async function waitFor<T>(fn: () => Promise<T | undefined | false | null>, what: string, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Wait until DescribeJob says the job is finished; returns the DescribeJob answer. */
export async function waitJobDone(client: BatchClient, jobId: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  return waitFor(async () => {
    const r = await client.DescribeJob!({ JobId: jobId });
    return ['SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'].includes(r.JobState) ? r : undefined;
  }, `job ${jobId} to finish`, timeoutMs);
}

/** A SubmitJob request of one task running `command` on the anonymous (local) environment. */
export function simpleJob(command: string, over: { TaskName?: string; TaskInstanceNum?: number; [k: string]: unknown } = {}, job: Record<string, unknown> = {}) {
  return {
    Placement: { Zone: 'ap-guangzhou-2' },
    Job: {
      JobName: 'test',
      Tasks: [
        {
          TaskName: 'A',
          TaskInstanceNum: 1,
          Application: { DeliveryForm: 'LOCAL', Command: command },
          ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
          ...over,
        },
      ],
      ...job,
    },
  };
}

/** Expect a promise to be rejected with a Tencent error code; returns the error. */
export async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string; requestId?: string; traceId?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected the call to fail, but it succeeded');
}
