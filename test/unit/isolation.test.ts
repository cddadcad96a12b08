// Isolation of local attempts against real processes, on both launchers: the attempt's built
// environment, its user, its private mount namespace hiding a directory, its cgroups (memory limit
// and OOM, CPU quota, pids limit, leftovers killed, what it used), and commands too long for an argument.
// Parts that need root or cgroup controllers skip, saying why, where the machine lacks them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { LocalExecutorBase, LocalIsolation } from '../../src/executors/local/base.ts';
import { setupCgroups, type CgroupLayout } from '../../src/executors/local/cgroups.ts';
import { LocalExecutor } from '../../src/executors/local/executor.ts';
import { buildShim, probeNamespace } from '../../src/executors/local/factory.ts';
import { lookupUser, type RunUser } from '../../src/executors/local/run-as.ts';
import { ShimExecutor } from '../../src/executors/local/shim-executor.ts';
import type { ExitInfo } from '../../src/executors/types.ts';
import type { AttemptSpec } from '../../src/executors/local/attempt.ts';
import { endOf, onExits } from '../support/exits.ts';

const shimPath = buildShim();
if (shimPath instanceof Error) throw shimPath; // this machine has a C compiler: the shim must build
const ROOT = process.getuid?.() === 0;
const NOT_ROOT = ROOT ? '' : 'needs root (running attempts as another user, mount namespaces, cgroups)';
const nobody = lookupUser('nobody');
const layout = ROOT ? setupCgroups(`test${process.pid}`) : ({ unavailable: NOT_ROOT } as const);
const NO_CGROUPS = 'unavailable' in layout ? `no usable cgroups here: ${layout.unavailable}` : '';
const cgroups = 'unavailable' in layout ? null : (layout as CgroupLayout);
if (NOT_ROOT) console.warn(`isolation tests skipped: ${NOT_ROOT}`);
else if (NO_CGROUPS) console.warn(`cgroup tests skipped: ${NO_CGROUPS}`);

const VARIANTS: [string, (o: ConstructorParameters<typeof LocalExecutor>[0]) => LocalExecutorBase][] = [
  ['shim (C)', (o) => new ShimExecutor(o, shimPath)],
  ['shell supervisor', (o) => new LocalExecutor(o)],
];

const executors: LocalExecutorBase[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const e of executors.splice(0)) await e.close();
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  if (cgroups) for (const p of cgroups.parents) fs.rmSync(p, { recursive: true, force: true });
});

describe.each(VARIANTS)('attempt isolation: %s', (_name, make) => {
  function setup(iso: Partial<LocalIsolation> = {}) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-iso-'));
    dirs.push(root);
    fs.chmodSync(root, 0o711);
    const state = path.join(root, 'state');
    const ex = make({ stateDir: state, sweepMs: 100, isolation: { users: null, hide: [], cgroups: null, pidsMax: 0, ...iso } });
    executors.push(ex);
    const exits = new Map<string, (e: ExitInfo) => void>();
    const seen = new Map<string, ExitInfo>();
    onExits(ex, (key, e) => {
      seen.set(key, e);
      exits.get(key)?.(e);
    });
    const spec = (key: string, command: string, more: Partial<AttemptSpec> = {}): AttemptSpec => ({
      key, command, env: {}, account: 'acc', cwd: path.join(root, 'work', 'job-x', 'A', key),
      stdoutPath: path.join(state, `${key}.out`), stderrPath: path.join(state, `${key}.err`), ...more,
    });
    const run = async (key: string, command: string, more: Partial<AttemptSpec> = {}) => {
      const done = new Promise<ExitInfo>((r) => (seen.has(key) ? r(seen.get(key)!) : exits.set(key, r)));
      await ex.launchAttempt(spec(key, command, more));
      const exit = await done;
      return { exit, out: fs.readFileSync(path.join(state, `${key}.out`), 'utf8'), err: fs.readFileSync(path.join(state, `${key}.err`), 'utf8') };
    };
    return { root, state, ex, run };
  }

  it('builds the environment: the documented base and the attempt\'s variables, nothing of the server\'s', async () => {
    process.env.OPENBATCH_TEST_SERVER_ONLY = 'server-secret';
    const { run, root } = setup();
    delete process.env.OPENBATCH_TEST_SERVER_ONLY;
    const { exit, out } = await run('env', '/usr/bin/env', { env: { BATCH_JOB_ID: 'job-x', MINE: 'a b' } });
    expect(exit.exitCode).toBe(0);
    const vars = Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    // sh adds PWD (and OLDPWD / SHLVL in some shells) on its own; everything else is ours
    for (const k of ['PWD', 'OLDPWD', 'SHLVL', '_']) delete vars[k];
    expect(vars).toEqual({
      PATH: '/usr/local/bin:/usr/bin:/bin', HOME: os.userInfo().homedir, LANG: 'C.UTF-8',
      TMPDIR: path.join(root, 'work', 'job-x', 'A', 'env'), BATCH_JOB_ID: 'job-x', MINE: 'a b',
    });
    expect(fs.statSync(vars.TMPDIR!).isDirectory()).toBe(true);
  });

  it('runs a command longer than one argument may be, through a file', async () => {
    const { run, state } = setup({ users: ROOT && nobody ? new Map([['acc', nobody]]) : null });
    const filler = `: ${'x'.repeat(300 * 1024)}\n`;
    // the server's umask (077) must not keep the attempt's user from reading it
    const umask = process.umask(0o077);
    const { exit, out } = await run('long', `${filler}echo "$(( 6 * 7 ))" ok`).finally(() => process.umask(umask));
    expect(endOf(exit)).toEqual({ exitCode: 0, signal: null });
    expect(out).toBe('42 ok\n');
    // the file is the server's (mode 0644 in the state dir, which only the server can list)
    expect(fs.statSync(path.join(state, 'long.cmd')).mode & 0o777).toBe(0o644);
  });

  it.skipIf(!!NOT_ROOT || !nobody)('runs the attempt as its account\'s user, in a working directory of its own', async () => {
    const u = nobody as RunUser;
    const { run, root } = setup({ users: new Map([['acc', u]]) });
    const { exit, out } = await run('who', 'id -u; id -g; touch mine && stat -c %u mine; stat -c "%u %a" .; stat -c %a ..');
    expect(exit.exitCode).toBe(0);
    expect(out.split('\n')).toEqual([String(u.uid), String(u.gid), String(u.uid), `${u.uid} 700`, '711', '']);
    // the server's files next to it stay out of reach
    fs.writeFileSync(path.join(root, 'secret'), 'x', { mode: 0o600 });
    const peek = await run('peek', `cat ${path.join(root, 'secret')} || echo denied; ls ${path.join(root, 'work', 'job-x', 'A')} || echo denied`);
    expect(peek.out).toBe('denied\ndenied\n');
    expect(peek.err).toMatch(/Permission denied/);
  });

  it.skipIf(!!NOT_ROOT)('hides a directory in the attempt\'s mount namespace, its own working directory bound back', async () => {
    const { run, root, ex } = setup();
    const why = probeNamespace(ex instanceof ShimExecutor ? { kind: 'shim', path: shimPath } : { kind: 'shell' }, root);
    expect(why).toBeUndefined();
    const ex2 = make({ stateDir: path.join(root, 'state2'), isolation: { users: null, hide: [root], cgroups: null, pidsMax: 0 } });
    executors.push(ex2);
    fs.writeFileSync(path.join(root, 'secret'), 'top secret', { mode: 0o644 });
    fs.mkdirSync(path.join(root, 'work', 'job-x', 'A', 'other'), { recursive: true });
    fs.writeFileSync(path.join(root, 'work', 'job-x', 'A', 'other', 'data'), 'theirs', { mode: 0o644 });
    const exits = new Map<string, ExitInfo>();
    onExits(ex2, (k, e) => exits.set(k, e));
    const cwd = path.join(root, 'work', 'job-x', 'A', 'hid');
    await ex2.launchAttempt({
      key: 'hid', account: 'acc', env: {}, cwd, stdoutPath: path.join(root, 'hid.out'), stderrPath: path.join(root, 'hid.err'),
      command: `cat ${root}/secret || echo no-secret; cat ${root}/work/job-x/A/other/data || echo no-other; echo mine > f; cat f; pwd`,
    });
    await until(() => exits.has('hid'));
    expect(exits.get('hid')!.exitCode).toBe(0);
    expect(fs.readFileSync(path.join(root, 'hid.out'), 'utf8')).toBe(`no-secret\nno-other\nmine\n${cwd}\n`);
    // what it wrote is in its real working directory, and nothing was mounted on the host
    expect(fs.readFileSync(path.join(cwd, 'f'), 'utf8')).toBe('mine\n');
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
    void run;
  });

  it.skipIf(!!NOT_ROOT || !!NO_CGROUPS)('gives the attempt cgroups with its memory, CPU and pids limits, and removes them after', async () => {
    const { run, ex } = setup({ cgroups, pidsMax: 321 });
    const cg = cgroups!;
    // the attempt finds its cgroups' name in /proc/self/cgroup (a v1 line per hierarchy, or v2's)
    const mine = cg.version === 1 ? "$(basename \"$(grep ':memory:' /proc/self/cgroup | cut -d: -f3)\")" : '$(basename "$(grep "^0::" /proc/self/cgroup | cut -d: -f3)")';
    const show = (mem: string, cpu: string) => [
      `n=${mine}; echo $n`,
      `cat ${cg.memory}/$n/${cg.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'}`,
      cg.version === 1 ? `cat ${cg.cpu}/$n/cpu.cfs_quota_us` : `cut -d' ' -f1 ${cg.cpu}/$n/cpu.max`,
      `cat ${cg.pids}/$n/pids.max`,
      `grep -c "^$$\$" ${cg.pids}/$n/cgroup.procs`,
      `echo ${mem} ${cpu}`,
    ].join('; ');
    const first = await run('lim', show('x', 'y'), { resources: { cpus: 1.5, memoryBytes: 256 * 2 ** 20 } });
    expect(endOf(first.exit)).toEqual({ exitCode: 0, signal: null });
    const [name, ...rest] = first.out.split('\n');
    expect(rest).toEqual([String(256 * 2 ** 20), '150000', '321', '1', 'x y', '']);
    // the next attempt gets its own limits (higher memory: the v1 memory + swap limit goes first)
    const second = await run('lim2', show('x', 'y'), { resources: { cpus: 2, memoryBytes: 2 * 2 ** 30 } });
    const [name2, ...rest2] = second.out.split('\n');
    expect(rest2).toEqual([String(2 * 2 ** 30), '200000', '321', '1', 'x y', '']);
    if (ex instanceof ShimExecutor) {
      // the shim runs one attempt after another in the same slot, and removes its slots when it exits
      expect(name2).toBe(name);
      await ex.close();
      expect(cg.parents.every((p) => fs.existsSync(p))).toBe(true); // the server's to remove
    }
    await until(() => cg.parents.every((p) => !fs.existsSync(path.join(p, name!)) && !fs.existsSync(path.join(p, name2!))));
  });

  it.skipIf(!!NOT_ROOT || !!NO_CGROUPS)('says OOM when the memory limit killed a process of a failed attempt, not otherwise', async () => {
    const { run } = setup({ cgroups, pidsMax: 100 });
    const mem = { cpus: 1, memoryBytes: 64 * 2 ** 20 };
    // tail keeps a line without newlines in memory: 200 MiB of zeros
    const big = await run('big', 'head -c 200000000 /dev/zero | tail > /dev/null', { resources: mem });
    expect(big.exit.oom).toBe(true);
    expect(big.exit.exitCode === 137 || big.exit.exitCode === 141 || big.exit.signal === 'SIGKILL').toBe(true);
    const fine = await run('fine', 'head -c 1000000 /dev/zero | tail > /dev/null; exit 3', { resources: mem });
    expect(endOf(fine.exit)).toEqual({ exitCode: 3, signal: null });
  });

  it.skipIf(!!NOT_ROOT || !!NO_CGROUPS)('measures what each attempt used from its cgroups, its whole tree, from its own start', async () => {
    const { run } = setup({ cgroups, pidsMax: 100 });
    const res = { resources: { cpus: 2, memoryBytes: 2 ** 30 } };
    // CPU and ~80 MB in processes the attempt's shell did not wait for (its cgroups count them all)
    const big = await run('use-big', '(head -c 80000000 /dev/zero | tail > /dev/null; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done) & wait', res);
    expect(big.exit.exitCode).toBe(0);
    const bu = big.exit.usage!;
    expect(bu.cpuSeconds).toBeGreaterThan(0.05);
    expect(bu.maxMemoryBytes).toBeGreaterThan(60_000_000);
    // the next attempt (the shim: in the same cgroup slot) counts only what it used itself
    const small = await run('use-small', 'true', res);
    const su = small.exit.usage!;
    expect(su.cpuSeconds).toBeLessThan(bu.cpuSeconds / 2);
    if (cgroups!.version === 1) expect(su.maxMemoryBytes).toBeLessThan(bu.maxMemoryBytes! / 2);
  });

  it.skipIf(!!NOT_ROOT || !!NO_CGROUPS)('kills what the attempt left running when it ends', async () => {
    const { run, root } = setup({ cgroups, pidsMax: 100 });
    const pidFile = path.join(root, 'left.pid');
    // setsid: it leaves the process group, but not the cgroup
    const { exit } = await run('left', `setsid sleep 300 & echo $! > ${pidFile}; sleep 0.2`, { resources: { cpus: 1, memoryBytes: 2 ** 30 } });
    expect(exit.exitCode).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    await until(() => {
      try {
        process.kill(pid, 0);
        return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z';
      } catch {
        return true;
      }
    });
  });
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
