// RemoteLogs against real internal API servers (Fastify, registerInternalApi over LocalLogs in temp
// dirs) on this host: which replica is asked (the owner a running attempt's handle names, else the
// fresh ones of the registry), engines whose logs are not remote, long reads in several requests,
// and a replica that cannot be reached or refuses the signature: absent logs, one warning.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerInternalApi } from '../../src/api/internal.ts';
import { LocalLayout, LocalLogs } from '../../src/executors/local/layout.ts';
import type { AttemptId, Stream } from '../../src/executors/types.ts';
import { InternalKey } from '../../src/lib/internal-auth.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { DOWN_PAUSE_MS, MAX_LOG_BYTES, RemoteLogs } from '../../src/services/remote-logs.ts';
import { FRESH_MS, HEARTBEAT_MS, ReplicaDirectory } from '../../src/services/replicas.ts';
import type { InstanceRecord, ReplicaRecord } from '../../src/store/types.ts';
import { ManualClock } from '../support/manual-clock.ts';

const key = new InternalKey('AKIDdeployment', 'deployment-secret');
const clock = new ManualClock(Date.now());
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

/** A replica's internal API over its own data dir. */
async function replica(k = key): Promise<{ app: FastifyInstance; url: string; layout: LocalLayout }> {
  const layout = new LocalLayout(tmp('openbatch-remote-'));
  const app = Fastify({ logger: false });
  registerInternalApi(app, { key: k, logs: new LocalLogs(layout), now: () => clock.now(), logger: createLogger('silent') });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, layout };
}

function writeLog(layout: LocalLayout, id: AttemptId, stream: Stream, text: string | Buffer): void {
  const f = layout.logFile(id, stream);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, text);
}

const rows = new Map<string, ReplicaRecord>();
const registry = {
  async registerReplica(r: ReplicaRecord) { rows.set(r.id, r); },
  async listReplicas() { return [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : 1)); },
  async forgetReplicas() { return 0; },
};
/** The instance record getInstance answers (its current attempt's handle). */
let instance: Partial<InstanceRecord> | undefined;
const lines: string[] = [];
const logger = createLogger('info', new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } }));
const warnings = (re: RegExp) => lines.filter((l) => JSON.parse(l).level === 40 && re.test(l)).length;

const here = new LocalLayout(tmp('openbatch-here-'));
const directory = new ReplicaDirectory({ store: registry, clock, logger, id: 'me' });
const logs = new RemoteLogs({
  inner: new LocalLogs(here), store: { getInstance: async () => instance as InstanceRecord | undefined },
  directory, key, clock, logger, timeoutMs: 1000,
});

let a: Awaited<ReturnType<typeof replica>>, b: Awaited<ReturnType<typeof replica>>, stranger: Awaited<ReturnType<typeof replica>>;
const id = (attempt: number): AttemptId => ({ jobId: 'job-abcdefgh', taskName: 'A', index: 0, attempt });
const register = (rid: string, url: string) => rows.set(rid, { id: rid, url, lastSeen: clock.now() });
/** Let the directory's cached list and every pause run out. */
const later = () => clock.advance(Math.max(HEARTBEAT_MS, DOWN_PAUSE_MS) + 1);

beforeAll(async () => {
  [a, b, stranger] = await Promise.all([replica(), replica(), replica(new InternalKey('AKIDother', 'other-secret'))]);
  register('a', a.url);
  register('b', b.url);
  register('me', 'http://127.0.0.1:1');
});
afterAll(async () => {
  await Promise.all([a.app.close(), b.app.close(), stranger.app.close()]);
});

describe('RemoteLogs', () => {
  it('reads this host\'s own log first, without asking anyone', async () => {
    writeLog(here, id(1), 'stdout', 'mine\n');
    writeLog(a.layout, id(1), 'stdout', 'not asked\n');
    instance = undefined;
    expect((await logs.tail(id(1), 'stdout', 100))?.toString()).toBe('mine\n');
  });

  it('asks the owner a running attempt\'s handle names, and no other', async () => {
    writeLog(a.layout, id(2), 'stdout', 'on a\n');
    writeLog(b.layout, id(2), 'stdout', 'on b\n');
    instance = { attempt: 2, handle: { executor: 'local', owner: 'b', pid: 1 } };
    expect((await logs.tail(id(2), 'stdout', 100))?.toString()).toBe('on b\n');
    expect((await logs.tail(id(2), 'stdout', 3))?.toString()).toBe(' b\n');
    expect((await logs.read(id(2), 'stdout', 3, 4))?.toString()).toBe('b');
    // the owner has no such stream yet: absent, the others are not asked
    writeLog(a.layout, id(2), 'stderr', 'on a\n');
    expect(await logs.tail(id(2), 'stderr', 100)).toBeUndefined();
  });

  it('asks the fresh replicas of the registry for an ended attempt (no handle), the one that has it answers', async () => {
    writeLog(b.layout, id(3), 'stderr', 'ended on b\n');
    instance = { attempt: 3, handle: null };
    expect((await logs.tail(id(3), 'stderr', 100))?.toString()).toBe('ended on b\n');
    // a handle of an earlier attempt says nothing about this one
    instance = { attempt: 4, handle: { executor: 'local', owner: 'a' } };
    expect((await logs.tail(id(3), 'stderr', 100))?.toString()).toBe('ended on b\n');
    expect(await logs.tail(id(3), 'stdout', 100)).toBeUndefined();
    // a replica not seen for FRESH_MS is not asked for ended attempts
    writeLog(a.layout, id(5), 'stdout', 'on a, which went quiet\n');
    instance = undefined;
    rows.set('a', { id: 'a', url: a.url, lastSeen: clock.now() - FRESH_MS - 1 });
    later();
    expect(await logs.tail(id(5), 'stdout', 100)).toBeUndefined();
    register('a', a.url);
    later();
    expect((await logs.tail(id(5), 'stdout', 100))?.toString()).toBe('on a, which went quiet\n');
  });

  it('fetches nothing for logs that are not remote: another engine\'s handle, or this replica\'s own attempt', async () => {
    writeLog(a.layout, id(6), 'stdout', 'x\n');
    for (const handle of [{ executor: 'slurm', jobId: '12_0' }, { executor: 'staging', key: 'k' }, { executor: 'local', owner: 'me' }]) {
      instance = { attempt: 6, handle };
      expect(await logs.tail(id(6), 'stdout', 100), JSON.stringify(handle)).toBeUndefined();
    }
  });

  it('reads a range longer than one answer in several requests', async () => {
    const big = Buffer.alloc(MAX_LOG_BYTES + 12345);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    writeLog(a.layout, id(7), 'stdout', big);
    instance = { attempt: 7, handle: { executor: 'local', owner: 'a' } };
    expect((await logs.read(id(7), 'stdout', 0))?.equals(big)).toBe(true);
    expect((await logs.read(id(7), 'stdout', 10, MAX_LOG_BYTES + 20))?.equals(big.subarray(10, MAX_LOG_BYTES + 20))).toBe(true);
    expect((await logs.read(id(7), 'stdout', big.length + 5))?.length).toBe(0);
  });

  it('answers nothing for a replica that cannot be reached or refuses the signature, warning once for each', async () => {
    writeLog(a.layout, id(8), 'stdout', 'on a\n');
    register('gone', 'http://127.0.0.1:1');
    register('other-key', stranger.url);
    writeLog(stranger.layout, id(8), 'stdout', 'never given\n');
    for (const owner of ['gone', 'other-key', 'unknown']) {
      instance = { attempt: 8, handle: { executor: 'local', owner } };
      for (let i = 0; i < 3; i++) {
        expect(await logs.tail(id(8), 'stdout', 100)).toBeUndefined();
        expect(await logs.tail(id(8), 'stderr', 100)).toBeUndefined();
        later();
      }
    }
    expect(warnings(/replica gone .*cannot be fetched/)).toBe(1);
    expect(warnings(/replica other-key .*HTTP 403: the signature does not match/)).toBe(1);
    expect(warnings(/replica unknown, which runs the attempt, is not in the registry/)).toBe(1);
    expect(lines.join('')).not.toContain('deployment-secret');
    // it fails again, then comes back at another URL: not asked for DOWN_PAUSE_MS after the failure,
    // then answered again, and said so
    instance = { attempt: 8, handle: { executor: 'local', owner: 'gone' } };
    expect(await logs.tail(id(8), 'stdout', 100)).toBeUndefined();
    register('gone', a.url);
    await directory.list();
    expect(await logs.tail(id(8), 'stdout', 100)).toBeUndefined();
    clock.advance(DOWN_PAUSE_MS + 1);
    expect((await logs.tail(id(8), 'stdout', 100))?.toString()).toBe('on a\n');
    expect(lines.some((l) => /replica gone answers requests for logs again/.test(l))).toBe(true);
  });
});

describe('ReplicaDirectory.list (what /healthz shows)', () => {
  it('reads the registry at most once per heartbeat interval, however often it is asked', async () => {
    const reads = { n: 0 };
    const store = { ...registry, async listReplicas() { reads.n++; return registry.listReplicas(); } };
    const d = new ReplicaDirectory({ store, clock, logger, id: 'me' });
    const first = await d.list();
    for (let i = 0; i < 50; i++) expect(await d.list()).toEqual(first);
    expect(reads.n).toBe(1);
    register('newcomer', 'http://127.0.0.1:2');
    clock.advance(HEARTBEAT_MS + 1);
    expect((await d.list()).map((r) => r.id)).toContain('newcomer');
    expect(reads.n).toBe(2);
    rows.delete('newcomer');
  });
});
