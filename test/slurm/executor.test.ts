// What is particular to the Slurm executor, against the real cluster of this machine: one sbatch per
// group (and a map file when indexes exceed MaxArraySize), one squeue per poll whatever the number of
// elements, Slurm's pending reasons (a %N throttle, a hold), running on node localhost, a scancel
// behind the executor's back, --time, a restart that finds exits in the status files, an element
// that never runs twice, a refused sbatch, stops of one turn in one scancel, and polls that draw no
// conclusion while squeue fails. Skipped, saying why, when no Slurm controller answers.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunUser } from '../../src/executors/local/run-as.ts';
import type { SlurmExecutor, SlurmExecutorOptions } from '../../src/executors/slurm/executor.ts';
import {
  attemptKey, type Handle, type LaunchGroup, type LaunchResult, type Observation,
} from '../../src/executors/types.ts';
import { sleep, until as waitUntil } from '../support/until.ts';
import { cancelLeftovers, shareRoot, SlurmCli, slurmExecutor, testUser } from './support.ts';
import { slurmTestCluster } from '../support/slurm.ts';

const cluster = await slurmTestCluster();
const missing = cluster.ok ? undefined : cluster.why;
const until = <T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms?: number) => waitUntil(what, f, ms, 50);

describe.skipIf(missing !== undefined)(`Slurm executor on the cluster${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let user: RunUser | undefined;
  let root: string;
  let shared: string;
  let cli: SlurmCli;
  const made: SlurmExecutor[] = [];
  const prefix = `job-s${process.pid}x`;
  let seq = 0;

  beforeAll(() => {
    user = testUser();
  });

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-slurm-'));
    shared = shareRoot(root, user);
    cli = new SlurmCli();
  });

  afterEach(async () => {
    for (const ex of made.splice(0)) await ex.close();
    await cancelLeftovers(new SlurmCli(), prefix);
    fs.rmSync(root, { recursive: true, force: true });
  });

  afterAll(async () => {
    await cancelLeftovers(new SlurmCli(), prefix);
  });

  /** An executor with a recording listener. */
  function make(o: Partial<SlurmExecutorOptions> = {}, c: SlurmCli = cli) {
    const ex = slurmExecutor(c, shared, user, o);
    made.push(ex);
    const events: Observation[] = [];
    ex.onEvents((batch) => events.push(...batch));
    const of = (key: string) => events.filter((e) => e.key === key);
    const end = (key: string) => until(`the end of ${key}`, () => of(key).find((e) => e.state === 'exited' || e.state === 'lost'));
    return { ex, events, of, end };
  }

  function group(command: string, o: { indexes?: number[]; n?: number; env?: Record<string, string>; maxConcurrent?: number; timeoutSec?: number; queue?: string } = {}) {
    const jobId = `${prefix}${++seq}`;
    const indexes = o.indexes ?? Array.from({ length: o.n ?? 1 }, (_, i) => i);
    const g: LaunchGroup = {
      jobId, taskName: 'T', account: 'acc', command, env: { BATCH_JOB_ID: jobId, ...o.env },
      limits: { timeoutSec: o.timeoutSec ?? 0, maxConcurrent: o.maxConcurrent ?? 0 },
      ...(o.queue ? { queue: o.queue } : {}),
      instances: indexes.map((index) => ({ key: attemptKey({ jobId, taskName: 'T', index, attempt: 1 }), index, attempt: 1 })),
    };
    return { g, keys: g.instances.map((i) => i.key) };
  }

  async function launch(ex: SlurmExecutor, g: LaunchGroup): Promise<LaunchResult[]> {
    const rs: LaunchResult[] = [];
    await ex.launch(g, (r) => rs.push(r));
    return g.instances.map((i) => rs.find((r) => r.key === i.key)!);
  }

  type SlurmHandle = Handle & { job: string; task: number };
  const okHandle = (r: LaunchResult | undefined): SlurmHandle => {
    if (!r?.ok) throw new Error(`launch failed: ${JSON.stringify(r)}`);
    return r.handle as unknown as SlurmHandle;
  };
  const gate = (tag: string) => {
    const file = path.join(root, `gate-${tag}`);
    return { env: { GATE: file }, wait: 'while [ ! -f "$GATE" ]; do sleep 0.05; done', open: () => fs.writeFileSync(file, '') };
  };
  const out = (jobId: string, index: number) => {
    try {
      return fs.readFileSync(path.join(shared, 'logs', jobId, 'T', `${index}.1.stdout`), 'utf8');
    } catch {
      return undefined;
    }
  };
  const scontrol = (job: string) => execFileSync('scontrol', ['show', 'job', job], { encoding: 'utf8' });
  const waitingFor = (of: (k: string) => Observation[], key: string, reason: string | RegExp) =>
    until(`${key} waiting for ${reason}`, () => of(key).find((e) => e.state === 'waiting' && (typeof reason === 'string' ? e.wait.reason === reason : reason.test(e.wait.reason))));

  /** Two gated elements throttled to one at a time: one runs, the other is pending (JobArrayTaskLimit). */
  async function onePending(ex: SlurmExecutor, of: (k: string) => Observation[], tag: string, then = '') {
    const g1 = gate(tag);
    const { g, keys } = group(`echo up; ${g1.wait}${then}`, { n: 2, maxConcurrent: 1, env: g1.env });
    const rs = await launch(ex, g);
    const pending = await until('a JobArrayTaskLimit reason', () => keys.find((k) => of(k).some((e) => e.state === 'waiting' && e.wait.reason === 'JobArrayTaskLimit')));
    const n = keys.indexOf(pending);
    const h = okHandle(rs[n]) as { job: string; task: number };
    return { g, keys, rs, pending, pendingHandle: okHandle(rs[n]), pendingId: `${h.job}_${h.task}`, runningKey: keys[1 - n]!, open: g1.open };
  }

  it('launches a group as one sbatch --array, polls with one squeue per poll, and runs as the account\'s user', async () => {
    const { ex, end } = make();
    const { g, keys } = group('echo "$BATCH_TASK_INSTANCE_INDEX $(id -u)"; exit $((BATCH_TASK_INSTANCE_INDEX % 4))', { n: 24 });
    const rs = await launch(ex, g);
    expect(cli.calls.get('sbatch')).toBe(1);
    const jobs = new Set(rs.map((r) => okHandle(r).job));
    expect(jobs.size).toBe(1);
    for (const r of rs) expect(r).toMatchObject({ ok: true, waiting: { reason: 'Queued', detail: expect.stringMatching(/./) } });
    const t0 = Date.now();
    for (const [i, key] of keys.entries()) {
      expect(await end(key)).toMatchObject({ state: 'exited', exit: { exitCode: i % 4, signal: null } });
      expect(out(g.jobId, i)).toBe(`${i} ${user ? user.uid : process.getuid?.()}\n`);
    }
    // one squeue per poll (every 200 ms), never one per element
    const polls = (Date.now() - t0) / 200 + 5;
    expect(cli.calls.get('squeue') ?? 0).toBeLessThanOrEqual(polls);
    expect(cli.calls.get('sbatch')).toBe(1);
  });

  it('gives indexes beyond MaxArraySize a map file: still one sbatch, each element its own index', async () => {
    const { ex, end } = make({ maxArraySize: 10 });
    const indexes = [3, 12, 40];
    const { g, keys } = group('echo "$BATCH_TASK_INSTANCE_INDEX"', { indexes });
    const rs = await launch(ex, g);
    expect(cli.calls.get('sbatch')).toBe(1);
    expect(rs.map((r) => okHandle(r).task)).toEqual([0, 1, 2]);
    for (const [n, key] of keys.entries()) {
      expect(await end(key)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
      expect(out(g.jobId, indexes[n]!)).toBe(`${indexes[n]}\n`);
    }
  });

  it('tells Slurm\'s pending reason of a throttled array (%N), then running on node localhost', async () => {
    const { ex, of, end } = make();
    const g1 = gate('throttle');
    const { g, keys } = group(`${g1.wait}; echo done`, { n: 3, maxConcurrent: 1, env: g1.env });
    const rs = await launch(ex, g);
    const job = okHandle(rs[0]).job;
    expect(scontrol(job)).toMatch(/ArrayTaskThrottle=1/);
    const waitingKey = await until('a JobArrayTaskLimit reason', () => keys.find((k) => of(k).some((e) => e.state === 'waiting' && e.wait.reason === 'JobArrayTaskLimit')));
    const w = of(waitingKey).find((e) => e.state === 'waiting' && e.wait.reason === 'JobArrayTaskLimit');
    expect(w).toMatchObject({ wait: { detail: expect.stringMatching(/MaxConcurrentNum/) } });
    const running = await until('one running', () => keys.map((k) => of(k).find((e) => e.state === 'running')).find(Boolean));
    expect(running).toMatchObject({ state: 'running', node: 'localhost', since: expect.any(Number) });
    expect(Math.abs((running as { since: number }).since - Date.now())).toBeLessThan(60_000);
    g1.open();
    for (const key of keys) expect(await end(key)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
    // each went waiting → running → exited, in that order, running once
    for (const key of keys) {
      const states = of(key).map((e) => e.state).filter((s, i, a) => s !== a[i - 1]);
      expect(states.slice(-2)).toEqual(['running', 'exited']);
      expect(of(key).filter((e) => e.state === 'running')).toHaveLength(1);
    }
  });

  it('tells a hold (JobHeldAdmin: scontrol hold by root; JobHeldUser otherwise) and its release', async () => {
    const { ex, of, end } = make();
    const p = await onePending(ex, of, 'hold');
    execFileSync('scontrol', ['hold', p.pendingId]);
    const held = await waitingFor(of, p.pending, /^JobHeld(User|Admin)$/);
    expect(held).toMatchObject({ wait: { detail: expect.stringMatching(/held in Slurm/) } });
    p.open();
    expect(await end(p.runningKey)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
    await sleep(1000);
    expect(of(p.pending).filter((e) => e.state !== 'waiting')).toEqual([]);
    execFileSync('scontrol', ['release', p.pendingId]);
    expect(await end(p.pending)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
    expect(of(p.pending).filter((e) => e.state === 'running')).toHaveLength(1);
  });

  it('passes --time (minutes, rounded up) and cpus; more CPUs than the nodes have waits (PartitionConfig); a refused sbatch is ok:false with Slurm\'s message', async () => {
    const { ex, of, end } = make();
    const g1 = gate('time');
    const { g } = group(g1.wait, { timeoutSec: 61, env: g1.env });
    g.resources = { cpus: 2, memoryBytes: 64 * 2 ** 20 };
    const [r] = await launch(ex, g);
    const job = okHandle(r).job;
    const info = scontrol(job);
    expect(info).toMatch(/TimeLimit=00:02:00/);
    expect(info).toMatch(/JobName=ob\.job-s\d+x\d+\.T/);
    expect(info).toMatch(/Partition=batch/);
    expect(info).toMatch(/MinCPUsNode=2/);
    expect(info).toMatch(/MinMemoryNode=64M/);
    g1.open();

    const { g: big, keys: bigKeys } = group('true', { n: 1 });
    big.resources = { cpus: 4096, memoryBytes: 0 };
    const [br] = await launch(ex, big);
    await waitingFor(of, bigKeys[0]!, 'PartitionConfig');
    ex.stop(bigKeys[0]!, okHandle(br), 'terminate', 5_000);
    expect(await end(bigKeys[0]!)).toMatchObject({ state: 'exited', exit: { cause: { reason: 'CancelledBeforeStart' } } });
    const { g: nowhere } = group('true', { queue: 'nosuch' });
    for (const res of await launch(ex, nowhere)) expect(res).toEqual({ key: res.key, ok: false, error: expect.stringMatching(/queue nosuch/) });
    const { g: badPartition } = group('true');
    const ex2 = make({ partitionOf: () => 'no-such-partition' }).ex;
    for (const res of await launch(ex2, badPartition)) expect(res).toEqual({ key: res.key, ok: false, error: expect.stringMatching(/sbatch failed: .*partition/i) });
  });

  it.skipIf(process.getuid?.() !== 0)('as root, refuses a launch for an account without a user (never submits as root)', async () => {
    const { ex } = make({ userOf: () => undefined });
    const { g } = group('true', { n: 2 });
    const calls = cli.calls.get('sbatch') ?? 0;
    for (const r of await launch(ex, g)) expect(r).toEqual({ key: r.key, ok: false, error: expect.stringMatching(/never submits Slurm jobs as root/) });
    expect(cli.calls.get('sbatch') ?? 0).toBe(calls);
  });

  it('tells a scancel behind its back as CancelledInSlurm: a running element and a pending one', async () => {
    const { ex, of, end } = make();
    const { g, keys } = group('echo up; sleep 100', { n: 1 });
    const [r] = await launch(ex, g);
    const h = okHandle(r) as { job: string; task: number };
    await until('it runs', () => (out(g.jobId, 0) === 'up\n' ? true : undefined));
    execFileSync('scancel', [`${h.job}_${h.task}`]);
    const ev = await end(keys[0]!);
    expect(ev).toMatchObject({ state: 'exited', exit: { cause: { reason: 'CancelledInSlurm', detail: expect.stringMatching(/outside OpenBatch/) } } });

    const p = await onePending(ex, of, 'cancelled');
    execFileSync('scancel', [p.pendingId]);
    expect(await end(p.pending)).toMatchObject({ state: 'exited', exit: { exitCode: null, signal: null, cause: { reason: 'CancelledInSlurm' } } });
    p.open();
    expect(await end(p.runningKey)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
  });

  it('sends the stops of one turn in one scancel; a pending element stopped never runs', async () => {
    const { ex, of, end } = make();
    const g1 = gate('stops');
    const { g, keys } = group(`echo up; ${g1.wait}`, { n: 3, env: g1.env });
    const rs = await launch(ex, g);
    for (let i = 0; i < 3; i++) await until('all run', () => (out(g.jobId, i) === 'up\n' ? true : undefined));
    const before = cli.calls.get('scancel') ?? 0;
    for (const [i, key] of keys.entries()) ex.stop(key, okHandle(rs[i]), 'timeout', 0);
    for (const key of keys) expect(await end(key)).toMatchObject({ state: 'exited', exit: { exitCode: null, signal: 'SIGKILL' } });
    // a KILL of the started ones and a cancel of all: two calls for three elements
    expect((cli.calls.get('scancel') ?? 0) - before).toBe(2);
    const job = okHandle(rs[0]).job;
    const left = execFileSync('squeue', ['-h', '-r', '-j', job, '-t', 'PENDING,RUNNING,COMPLETING', '-o', '%i'], { encoding: 'utf8' }).trim();
    expect(left).toBe('');

    const p = await onePending(ex, of, 'stop-pending');
    ex.stop(p.pending, p.pendingHandle, 'terminate', 10_000);
    expect(await end(p.pending)).toMatchObject({ state: 'exited', exit: { exitCode: null, signal: null, cause: { reason: 'CancelledBeforeStart' } } });
    p.open();
    expect(await end(p.runningKey)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
    expect(out(p.g.jobId, Number(p.pending.split('.').at(-2)))).toBeUndefined();
  });

  it('after a restart (the executor closed, a new one observing) tells the exits from the status files, and follows what still runs', async () => {
    const a = make();
    const g1 = gate('restart');
    const { g, keys } = group(`echo up; ${g1.wait}; exit $BATCH_TASK_INSTANCE_INDEX`, { n: 4, env: g1.env });
    const rs = await launch(a.ex, g);
    for (let i = 0; i < 4; i++) await until('all run', () => (out(g.jobId, i) === 'up\n' ? true : undefined));
    await a.ex.close();
    g1.open();
    const statusDir = path.join(shared, 'status', g.jobId);
    await until('two exits', () => (keys.slice(0, 2).every((k) => fs.existsSync(path.join(statusDir, `${k}.exit`))) ? true : undefined));
    const b = make();
    const obs = await b.ex.observe(keys.map((key, i) => ({ key, handle: i === 3 ? null : okHandle(rs[i]) })));
    for (const [i, ob] of obs.entries()) {
      if (ob.state === 'exited') expect(ob.exit).toMatchObject({ exitCode: i, signal: null });
      else expect(ob.state).toBe('running');
      if (i === 3) expect(ob).toMatchObject({ handle: okHandle(rs[3]) });
    }
    for (const [i, key] of keys.entries()) {
      if (obs[i]!.state === 'exited') continue;
      expect(await b.end(key)).toMatchObject({ state: 'exited', exit: { exitCode: i } });
    }
    expect(a.events.filter((e) => e.state === 'exited')).toEqual([]);
    await sleep(500);
    for (const key of keys) expect(b.of(key).filter((e) => e.state === 'exited').length).toBeLessThanOrEqual(1);
  });

  it('words the end of a kill asked before a restart as SIGKILL in the next executor', async () => {
    const a = make();
    const { g, keys } = group('echo up; trap "" TERM; while :; do sleep 0.05; done', { n: 1 });
    const [r] = await launch(a.ex, g);
    await until('it runs', () => (out(g.jobId, 0) === 'up\n' ? true : undefined));
    a.ex.stop(keys[0]!, okHandle(r), 'timeout', 0);
    await a.ex.close(); // the stop went out before close() returned
    const b = make();
    const [ob] = await b.ex.observe([{ key: keys[0]!, handle: okHandle(r) }]);
    const end = ob!.state === 'exited' ? ob : await b.end(keys[0]!);
    expect(end).toMatchObject({ state: 'exited', exit: { exitCode: null, signal: 'SIGKILL' } });
    expect(a.events.filter((e) => e.state === 'exited')).toEqual([]);
  });

  it('finds by key through Slurm, not through a start file that names another job (the file is the attempt user\'s)', async () => {
    const a = make();
    const g1 = gate('forged');
    const { g, keys } = group(`echo up; ${g1.wait}; exit 2`, { n: 1, env: g1.env });
    const [r] = await launch(a.ex, g);
    const other = group(`${g1.wait}`, { n: 1, env: g1.env });
    const [or] = await launch(a.ex, other.g);
    await until('it runs', () => (out(g.jobId, 0) === 'up\n' ? true : undefined));
    await a.ex.close();
    const start = path.join(shared, 'status', g.jobId, `${keys[0]}.start`);
    fs.writeFileSync(start, fs.readFileSync(start, 'utf8').replace(/ \d+ \d+\n$/, ` ${okHandle(or).job} 0\n`));
    const b = make();
    const [ob] = await b.ex.observe([{ key: keys[0]!, handle: null }]);
    expect(ob).toMatchObject({ state: 'running', handle: { executor: 'slurm', job: okHandle(r).job, task: 0 } });
    g1.open();
    expect(await b.end(keys[0]!)).toMatchObject({ state: 'exited', exit: { exitCode: 2 } });
  });

  it('never runs an element twice: the same attempt submitted again refuses to run', async () => {
    const { ex, end } = make();
    const g1 = gate('twice');
    const count = path.join(root, 'runs');
    const { g, keys } = group(`echo run >> "${count}"; ${g1.wait}; exit 9`, { n: 1, env: g1.env });
    await launch(ex, g);
    await until('the first run', () => (fs.existsSync(count) ? true : undefined));
    // the same key again (an sbatch retried after it timed out would do this)
    const [again] = await launch(ex, g);
    const job2 = okHandle(again).job;
    await until('the second copy to end', () => (/State=(COMPLETED|FAILED)/.test(scontrol(job2)) ? true : undefined));
    g1.open();
    expect(await end(keys[0]!)).toMatchObject({ state: 'exited', exit: { exitCode: 9 } });
    expect(fs.readFileSync(count, 'utf8')).toBe('run\n');
  });

  it('draws no conclusion while squeue fails: ends come from the status files, waiting ones say SlurmUnavailable', async () => {
    // a bin dir whose squeue fails while a flag file exists; the other commands are Slurm's
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    const flag = path.join(root, 'down');
    for (const cmd of ['sbatch', 'scancel', 'scontrol', 'sinfo', 'sacct']) {
      fs.writeFileSync(path.join(bin, cmd), `#!/bin/sh\nexec ${execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim()} "$@"\n`, { mode: 0o755 });
    }
    const real = execFileSync('sh', ['-c', 'command -v squeue'], { encoding: 'utf8' }).trim();
    fs.writeFileSync(path.join(bin, 'squeue'), `#!/bin/sh\nif [ -e ${flag} ]; then echo "squeue: error: Unable to contact slurm controller (connect failure)" >&2; exit 1; fi\nexec ${real} "$@"\n`, { mode: 0o755 });
    const flaky = new SlurmCli({ binDir: bin });
    const { ex, of, end } = make({}, flaky);
    const g1 = gate('down');
    const { g, keys } = group(`echo up; ${g1.wait}; exit 3`, { n: 1, env: g1.env });
    await launch(ex, g);
    await until('it runs', () => (out(g.jobId, 0) === 'up\n' ? true : undefined));
    const p = await onePending(ex, of, 'down-pending');
    fs.writeFileSync(flag, '');
    g1.open();
    expect(await end(keys[0]!)).toMatchObject({ state: 'exited', exit: { exitCode: 3 } });
    await waitingFor(of, p.pending, 'SlurmUnavailable');
    // the cancel of the pending one cannot be seen without squeue: nothing is concluded meanwhile
    execFileSync('scancel', [p.pendingId]);
    await sleep(1500);
    expect(of(p.pending).filter((e) => e.state === 'exited' || e.state === 'lost')).toEqual([]);
    fs.unlinkSync(flag);
    expect(await end(p.pending)).toMatchObject({ state: 'exited', exit: { cause: { reason: 'CancelledInSlurm' } } });
    p.open();
    expect(await end(p.runningKey)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
    expect(ex.capacity()).toEqual({ kind: 'queue', name: 'slurm' });
  });
});
