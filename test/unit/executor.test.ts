// The local executor against real processes: exit codes, captured streams, environment, working
// directory, process-group kills, and re-adoption by a second executor on the same state dir.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalExecutorBase, LocalExecutorOptions } from '../../src/executors/local/base.ts';
import { LocalExecutor } from '../../src/executors/local/executor.ts';
import { buildShim } from '../../src/executors/local/factory.ts';
import { ShimExecutor } from '../../src/executors/local/shim-executor.ts';
import { startTicksOf } from '../../src/executors/local/status.ts';
import type { ExitInfo } from '../../src/executors/types.ts';
import type { AttemptSpec } from '../../src/executors/local/attempt.ts';
import { endOf, onExits } from '../support/exits.ts';

const dirs: string[] = [];
const executors: LocalExecutorBase[] = [];

const shimPath = buildShim();
if (shimPath instanceof Error) throw shimPath; // this machine has a C compiler: the shim must build
const VARIANTS: [string, (o: LocalExecutorOptions) => LocalExecutorBase, string][] = [
  ['shim (C)', (o) => new ShimExecutor(o, shimPath), 'signal'],
  ['shell supervisor', (o) => new LocalExecutor(o), 'number'],
];

describe.each(VARIANTS)('local executor: %s', (_name, make, statusStyle) => {
afterEach(async () => {
  for (const e of executors.splice(0)) await e.close();
});

function setup(stateDir?: string, more: Partial<LocalExecutorOptions> = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-exec-'));
  dirs.push(root);
  const ex = make({ stateDir: stateDir ?? path.join(root, 'state'), sweepMs: 100, ...more });
  executors.push(ex);
  // how attempts ended; what they used is kept apart (it varies from run to run)
  const exits = new Map<string, ExitInfo[]>();
  const usages = new Map<string, ExitInfo['usage']>();
  const waiters = new Map<string, (e: ExitInfo) => void>();
  onExits(ex, (key, e) => {
    usages.set(key, e.usage);
    exits.set(key, [...(exits.get(key) ?? []), endOf(e)]);
    waiters.get(key)?.(endOf(e));
  });
  const spec = (key: string, command: string, env: Record<string, string> = {}): AttemptSpec => ({
    key, command, env, account: 'acc', cwd: path.join(root, 'work', key),
    stdoutPath: path.join(root, `${key}.out`), stderrPath: path.join(root, `${key}.err`),
  });
  const exitOf = (key: string) => new Promise<ExitInfo>((r) => {
    const have = exits.get(key)?.[0];
    if (have) r(have);
    else waiters.set(key, r);
  });
  return { root, ex, spec, exits, usages, exitOf };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

{
  it('runs a command under /bin/sh -c and reports its exit code once', async () => {
    const { ex, spec, exitOf, exits, root } = setup();
    const h0 = await ex.launchAttempt(spec('ok', 'echo out; echo err >&2'));
    const h3 = await ex.launchAttempt(spec('three', 'exit 3'));
    expect(await exitOf('ok')).toEqual({ exitCode: 0, signal: null });
    expect(await exitOf('three')).toEqual({ exitCode: 3, signal: null });
    expect(fs.readFileSync(path.join(root, 'ok.out'), 'utf8')).toBe('out\n');
    expect(fs.readFileSync(path.join(root, 'ok.err'), 'utf8')).toBe('err\n');
    expect(h0.executor).toBe('local');
    expect(h0.startTicks).toMatch(/^\d+$/);
    // the supervisor kept the status until the caller forgets it
    await until(() => fs.existsSync(h3.statusPath));
    // the shim's pid file ("<pid> <start time>") became the status file, its usage and status lines appended
    expect(fs.readFileSync(h3.statusPath, 'utf8')).toMatch(statusStyle === 'signal'
      ? new RegExp(`^${h3.pid} ${h3.startTicks}\nusage cpu=\\d+\\.\\d{6} mem=\\d+\nexit 3\n$`)
      : /^usage cpu=\d+\.\d{6}\n3\n$/);
    // the shim renamed its pid file; the sh supervisor keeps its own (`<pid> <start time>`) beside the status
    if (statusStyle === 'signal') expect(fs.existsSync(ex.pidPath('three'))).toBe(false);
    else expect(fs.readFileSync(ex.pidPath('three'), 'utf8')).toBe(`${h3.pid} ${h3.startTicks}\n`);
    ex.forget(h3);
    await until(() => !fs.existsSync(h3.statusPath));
    expect(fs.existsSync(ex.pidPath('three'))).toBe(false); // forgotten with the status
    await new Promise((r) => setTimeout(r, 100));
    expect(exits.get('ok')).toHaveLength(1);
  });

  it('gives the attempt its env (without OPENBATCH_*) and working directory, and passes the command verbatim', async () => {
    process.env.OPENBATCH_SECRET_KEY = 'must-not-leak';
    const { ex, spec, exitOf, root } = setup();
    delete process.env.OPENBATCH_SECRET_KEY;
    const cmd = `printf '%s|%s|%s\\n' "$BATCH_TASK_INSTANCE_INDEX" "\${OPENBATCH_SECRET_KEY-unset}" "$(pwd)"; echo 'quotes "and" $(not run) ; | &'`;
    await ex.launchAttempt(spec('env', cmd, { BATCH_TASK_INSTANCE_INDEX: '7' }));
    expect((await exitOf('env')).exitCode).toBe(0);
    const [line, lit] = fs.readFileSync(path.join(root, 'env.out'), 'utf8').split('\n');
    expect(line).toBe(`7|unset|${path.join(root, 'work', 'env')}`);
    expect(lit).toBe('quotes "and" $(not run) ; | &');
  });

  it('runs attempts at the niceness asked for, added to the service\'s own (0 leaves it alone)', async () => {
    const own = os.getPriority();
    for (const nice of [0, 7]) {
      const { ex, spec, exitOf, root } = setup(undefined, { nice });
      // field 19 of /proc/<pid>/stat is the niceness: the command's shell and what it starts
      await ex.launchAttempt(spec('n', `cut -d' ' -f19 /proc/$$/stat; nice`));
      expect((await exitOf('n')).exitCode).toBe(0);
      const want = String(Math.min(19, own + nice));
      expect(fs.readFileSync(path.join(root, 'n.out'), 'utf8').split('\n')).toEqual([want, want, '']);
    }
  });

  it('kills the whole process group, grandchildren included', async () => {
    const { ex, spec, exitOf, root } = setup();
    void statusStyle;
    const pidFile = path.join(root, 'gc.pid');
    const h = await ex.launchAttempt(spec('tree', `sleep 100 & echo $! > ${pidFile}; wait`));
    await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'));
    const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(grandchild)).toBe(true);
    ex.signal(h, 'SIGKILL');
    expect(await exitOf('tree')).toEqual({ exitCode: null, signal: 'SIGKILL' });
    await until(() => !alive(grandchild));
    ex.signal(h, 'SIGKILL'); // already gone: harmless
  });

  it('lets the command see SIGTERM while the supervisor still records the status', async () => {
    const { ex, spec, exitOf } = setup();
    const h = await ex.launchAttempt(spec('term', 'sleep 100'));
    await new Promise((r) => setTimeout(r, 100));
    ex.signal(h, 'SIGTERM');
    if (statusStyle === 'signal') {
      expect(await exitOf('term')).toEqual({ exitCode: null, signal: 'SIGTERM' });
      expect(fs.readFileSync(h.statusPath, 'utf8')).toMatch(new RegExp(`^${h.pid} ${h.startTicks}\nusage cpu=[0-9.]+ mem=\\d+\nsignal 15\n$`));
    } else {
      expect(await exitOf('term')).toEqual({ exitCode: 128 + 15, signal: null });
      expect(fs.readFileSync(h.statusPath, 'utf8')).toMatch(/^usage cpu=[0-9.]+\n143\n$/);
    }
  });

  it('hands running and finished attempts over to a new executor on the same state dir', async () => {
    const a = setup();
    const stateDir = path.join(a.root, 'state');
    const go = path.join(a.root, 'go');
    const running = await a.ex.launchAttempt(a.spec('long', `while [ ! -f ${go} ]; do sleep 0.05; done; exit 4`));
    const quick = await a.ex.launchAttempt(a.spec('quick', 'exit 5'));
    await a.exitOf('quick');
    await a.ex.close(); // the service goes away; attempts keep running

    const b = setup(stateDir);
    const adopted = b.ex.adopt(quick);
    expect(adopted.kind === 'exited' && endOf(adopted.exit)).toEqual({ exitCode: 5, signal: null });
    // what it used came with its status
    expect(adopted.kind === 'exited' && adopted.exit.usage?.cpuSeconds).toBeGreaterThanOrEqual(0);
    expect(b.ex.adopt(running)).toEqual({ kind: 'running' });
    fs.writeFileSync(go, '');
    expect(await b.exitOf('long')).toEqual({ exitCode: 4, signal: null });
    // a handle whose process is gone without a status, or whose pid was reused, is lost
    const gone = spawn('sleep', ['100'], { stdio: 'ignore' });
    const goneTicks = startTicksOf(gone.pid!, true)!;
    const reaped = new Promise((r) => gone.once('exit', r));
    gone.kill('SIGKILL');
    await reaped;
    const ghost = { ...running, key: 'ghost', pid: gone.pid!, startTicks: goneTicks, statusPath: path.join(stateDir, 'ghost.status') };
    expect(b.ex.adopt(ghost)).toEqual({ kind: 'lost' });
    expect(b.ex.adopt({ ...running, key: 'reused', pid: process.pid, statusPath: path.join(stateDir, 'r.status') })).toEqual({ kind: 'lost' });
    expect(startTicksOf(process.pid)).toMatch(/^\d+$/);
  });

  it('recovers the handle of an attempt whose start the service never recorded (shim only)', async () => {
    const a = setup();
    if (!(a.ex instanceof ShimExecutor)) return; // the shell supervisor has no pid file
    const go = path.join(a.root, 'go-recover');
    const h = await a.ex.launchAttempt(a.spec('unrecorded', `while [ ! -f ${go} ]; do sleep 0.05; done; exit 6`));
    await a.ex.close();
    const b = setup(path.join(a.root, 'state'));
    const got = b.ex.recover('unrecorded');
    expect(got).toEqual(h);
    expect(b.ex.adopt(got!)).toEqual({ kind: 'running' });
    fs.writeFileSync(go, '');
    expect(await b.exitOf('unrecorded')).toEqual({ exitCode: 6, signal: null });
    expect(b.ex.recover('never-started')).toBeUndefined();
    // ended while nobody had recorded its start: the status file it became still names it
    await until(() => fs.existsSync(h.statusPath));
    expect(fs.existsSync(b.ex.pidPath('unrecorded'))).toBe(false);
    const again = setup(path.join(a.root, 'state'));
    expect(again.ex.recover('unrecorded')).toEqual(h);
    const ended = again.ex.adopt(h);
    expect(ended.kind === 'exited' && endOf(ended.exit)).toEqual({ exitCode: 6, signal: null });
    again.ex.forget(h);
    await until(() => !fs.existsSync(h.statusPath));
  });

  it('reports an adopted attempt killed without a status as killed', async () => {
    const a = setup();
    const h = await a.ex.launchAttempt(a.spec('victim', 'sleep 100'));
    await a.ex.close();
    const b = setup(path.join(a.root, 'state'));
    expect(b.ex.adopt(h)).toEqual({ kind: 'running' });
    process.kill(-h.pid, 'SIGKILL');
    expect(await b.exitOf('victim')).toEqual({ exitCode: null, signal: 'SIGKILL' });
  });

  it('waits for the status of an adopted attempt whose process ended a moment before its supervisor wrote it', async () => {
    // sweeps 400 ms apart: the test writes the status between the sweep that sees the process gone
    // and the one that would call it lost, with room for a loaded machine's late timers
    const a = setup(undefined, { sweepMs: 400 });
    const stateDir = path.join(a.root, 'state');
    // a process of our own stands for the attempt; the test plays its supervisor, slow to write the status
    const child = spawn('sleep', ['100'], { stdio: 'ignore' });
    const pid = child.pid!;
    const handle = { executor: 'local', key: 'slow-status', pid, startTicks: startTicksOf(pid, true)!, statusPath: path.join(stateDir, 'slow-status.status') };
    expect(a.ex.adopt(handle)).toEqual({ kind: 'running' });
    const ended = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await ended; // reaped: the pid is gone and there is no status yet
    await new Promise((r) => setTimeout(r, 500)); // a sweep (every 400 ms) has seen it gone
    expect(a.exits.get('slow-status')).toBeUndefined();
    fs.writeFileSync(handle.statusPath, 'exit 3\n');
    expect(await a.exitOf('slow-status')).toEqual({ exitCode: 3, signal: null });
    expect(a.exits.get('slow-status')).toHaveLength(1);
  });

  it('measures what the attempt used over its life as it ends, and records it with the status', async () => {
    const { ex, spec, exitOf, usages } = setup();
    // about half a second of CPU in the attempt's shell, and a child holding ~40 MB for a moment
    const h = await ex.launchAttempt(spec('used', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; head -c 40000000 /dev/zero | tail > /dev/null; exit 2'));
    expect(await exitOf('used')).toEqual({ exitCode: 2, signal: null });
    const u = usages.get('used')!;
    expect(u.cpuSeconds).toBeGreaterThan(0.05);
    if (statusStyle === 'signal') expect(u.maxMemoryBytes).toBeGreaterThan(30_000_000); // the shim has its rusage
    // a service that adopts the ended attempt reads the same from its status file
    await until(() => fs.existsSync(h.statusPath));
    const again = setup(path.dirname(h.statusPath));
    const r = again.ex.adopt(h);
    expect(r.kind === 'exited' && r.exit.usage?.cpuSeconds).toBe(u.cpuSeconds);
  });

  it('runs many short attempts, each reported exactly once', async () => {
    const { ex, spec, exits } = setup();
    const N = 200;
    let next = 0;
    let finished = 0;
    await new Promise<void>((resolve, reject) => {
      onExits(ex, (key, e) => {
        exits.set(key, [...(exits.get(key) ?? []), endOf(e)]);
        finished++;
        if (finished === N) resolve();
        else if (next < N) ex.launchAttempt(spec(`t${next++}`, 'true')).catch(reject);
      });
      for (let i = 0; i < 8; i++) ex.launchAttempt(spec(`t${next++}`, 'true')).catch(reject);
    });
    expect(exits.size).toBe(N);
    for (const [, list] of exits) expect(list).toEqual([{ exitCode: 0, signal: null }]);
  });

  it('rejects a launch whose working directory cannot be created', async () => {
    const { ex, spec, root } = setup();
    fs.writeFileSync(path.join(root, 'file'), '');
    const s = { ...spec('bad', 'true'), cwd: path.join(root, 'file', 'sub') };
    await expect(ex.launchAttempt(s)).rejects.toThrow(/ENOTDIR/);
  });

  it('rejects a launch whose output file cannot be opened, and still runs the next one', async () => {
    const { ex, spec, exitOf, root } = setup();
    const s = { ...spec('noout', 'true'), stdoutPath: path.join(root, 'missing', 'x.out') };
    await expect(ex.launchAttempt(s)).rejects.toThrow(/ENOENT/);
    await ex.launchAttempt(spec('next', 'exit 4'));
    expect(await exitOf('next')).toEqual({ exitCode: 4, signal: null });
  });
}
});
