// Private mounts and seed directories of local attempts against real processes (the shim as root,
// each attempt as the openbatch-task user in its own mount namespace): directory and file sources seen
// at their targets by their own attempt only, read-only ones unwritable, writable ones landing in their
// source, targets whose top-level directory is missing (an empty mount point is all the host gets) or
// that lie below an existing directory (an overlay, the host's listing unchanged), refused targets,
// privateMounts() answers, and a seed directory copied into the working directory for its user.
// Needs root (mount namespaces, another user); skips saying so otherwise.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { LocalExecutorBase, LocalIsolation } from '../../src/executors/local/base.ts';
import { LocalExecutor } from '../../src/executors/local/executor.ts';
import { buildShim } from '../../src/executors/local/factory.ts';
import { LocalLayout } from '../../src/executors/local/layout.ts';
import { resolveTaskUsers, type RunUser } from '../../src/executors/local/run-as.ts';
import { ShimExecutor } from '../../src/executors/local/shim-executor.ts';
import type { ExitInfo, LaunchGroup, LaunchInstance, LaunchResult, MountSpec } from '../../src/executors/types.ts';
import { onExits } from '../support/exits.ts';

const shimPath = buildShim();
if (shimPath instanceof Error) throw shimPath; // this machine has a C compiler: the shim must build
const ROOT = process.getuid?.() === 0;
const NOT_ROOT = ROOT ? '' : 'needs root (mount namespaces, attempts as another user)';
if (NOT_ROOT) console.warn(`private mount tests skipped: ${NOT_ROOT}`);
const user: RunUser | undefined = ROOT ? resolveTaskUsers({ defaultAccount: 'acc', accounts: [{ id: 'acc' }] }, () => {}).get('acc') : undefined;

const tag = randomBytes(4).toString('hex');
/** A top-level directory that does not exist (the A == "/" case), and an existing one below /tmp. */
const TOP = `/ob-test-${tag}`;
const EXISTING = path.join(os.tmpdir(), `ob-exist-${tag}`);
/** Attempts wait for this file (outside every overlay) so that they run at once. */
const GATES = path.join(os.tmpdir(), `ob-gates-${tag}`);

const dirs: string[] = [];
const executors: LocalExecutorBase[] = [];
afterEach(async () => {
  for (const e of executors.splice(0)) await e.close();
});
afterAll(() => {
  for (const d of [...dirs, TOP, EXISTING, GATES]) fs.rmSync(d, { recursive: true, force: true });
});

type Make = (o: ConstructorParameters<typeof LocalExecutor>[0]) => LocalExecutorBase;
const shim: Make = (o) => new ShimExecutor(o, shimPath);
const shell: Make = (o) => new LocalExecutor(o);

function setup(make: Make = shim, iso: Partial<LocalIsolation> = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-mnt-'));
  dirs.push(root);
  fs.chmodSync(root, 0o711);
  const layout = new LocalLayout(root);
  const ex = make({
    stateDir: path.join(root, 'attempts'), sweepMs: 100, layout,
    isolation: { users: user ? new Map([['acc', user]]) : null, hide: [root], namespaces: true, cgroups: null, pidsMax: 0, ...iso },
  });
  executors.push(ex);
  const ends = new Map<string, ExitInfo>();
  const waiting = new Map<string, (e: ExitInfo) => void>();
  onExits(ex, (key, e) => {
    ends.set(key, e);
    waiting.get(key)?.(e);
  });
  const staging = path.join(root, 'staging');
  fs.mkdirSync(staging, { mode: 0o700 });
  let n = 0;
  /** A source directory (in the data dir) with these files; `writable`: its user's, as the staging makes it. */
  const source = (files: Record<string, string>, writable = false) => {
    const d = path.join(staging, `s${n++}`);
    fs.mkdirSync(d);
    fs.chmodSync(d, 0o755);
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(d, f), text, { mode: 0o644 });
    if (writable && user) fs.chownSync(d, user.uid, user.gid);
    return d;
  };
  const file = (text: string) => {
    const f = path.join(staging, `f${n++}`);
    fs.writeFileSync(f, text);
    fs.chmodSync(f, 0o644);
    return f;
  };
  const group = (command: string, instances: Partial<LaunchInstance>[], more: Partial<LaunchGroup> = {}): LaunchGroup => ({
    jobId: `job-${tag}`, taskName: 'T', account: 'acc', command, env: {}, limits: { timeoutSec: 0, maxConcurrent: 0 },
    instances: instances.map((i, index) => ({ key: `job-${tag}.T.${i.index ?? index}.1`, index, attempt: 1, ...i })),
    ...more,
  });
  const launch = async (g: LaunchGroup) => {
    const rs: LaunchResult[] = [];
    await ex.launch(g, (r) => rs.push(r));
    return g.instances.map((i) => rs.find((r) => r.key === i.key)!);
  };
  const end = (key: string) => new Promise<ExitInfo>((r) => (ends.has(key) ? r(ends.get(key)!) : waiting.set(key, r)));
  const id = (index: number) => ({ jobId: `job-${tag}`, taskName: 'T', index, attempt: 1 });
  const out = (index: number) => fs.readFileSync(layout.logFile(id(index), 'stdout'), 'utf8');
  const err = (index: number) => fs.readFileSync(layout.logFile(id(index), 'stderr'), 'utf8');
  const workDir = (index: number) => layout.workDir(id(index));
  return { root, ex, source, file, group, launch, end, out, err, workDir };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ls = (d: string) => fs.readdirSync(d).sort();
const ro = (source: string, target: string): MountSpec => ({ source, target, readOnly: true });
const rw = (source: string, target: string): MountSpec => ({ source, target, readOnly: false });

describe.skipIf(!!NOT_ROOT)('private mounts of local attempts (shim)', () => {
  it('gives two attempts at once their own sources at the same targets, below a missing top-level directory and below an existing one', async () => {
    const { group, launch, end, out, err, source, file } = setup();
    fs.mkdirSync(EXISTING);
    fs.chmodSync(EXISTING, 0o1777); // as writable for the attempts as /tmp: so is the overlay on it
    fs.writeFileSync(path.join(EXISTING, 'keep'), 'host file\n');
    fs.mkdirSync(GATES);
    fs.chmodSync(GATES, 0o755);
    const before = ls(EXISTING);
    const outs = [source({}, true), source({}, true)];
    const outs2 = [source({}, true), source({}, true)];
    const instances = [0, 1].map((k) => ({
      mounts: [
        ro(source({ 'name.txt': `input ${k}\n`, [`only-${k}`]: '' }), `${TOP}/data/input`),
        rw(outs[k]!, `${TOP}/data/output`),
        ro(source({ 'name.txt': `deep ${k}\n` }), `${EXISTING}/deep/er/input`),
        rw(outs2[k]!, `${EXISTING}/output`),
        // a single object at a path whose parent does not exist, in both cases
        ro(file(`object ${k}\n`), `${EXISTING}/objects/one.txt`),
        ro(file(`top object ${k}\n`), `${TOP}/objects/one.txt`),
      ],
    }));
    const cmd = [
      'set -e',
      `echo started > ${TOP}/data/output/started`,
      `while [ ! -f ${GATES}/go ]; do sleep 0.02; done`,
      `cat ${TOP}/data/input/name.txt; ls ${TOP}/data/input | tr '\\n' ' '; echo`,
      `cat ${EXISTING}/deep/er/input/name.txt ${EXISTING}/objects/one.txt ${TOP}/objects/one.txt`,
      `ls -A ${EXISTING} | tr '\\n' ' '; echo; cat ${EXISTING}/keep`,
      `echo "result $BATCH_TASK_INSTANCE_INDEX" > ${TOP}/data/output/result.txt`,
      `echo "second $BATCH_TASK_INSTANCE_INDEX" > ${EXISTING}/output/r2.txt`,
      `if touch ${TOP}/data/input/new 2>/dev/null; then echo writable; else echo refused; fi`,
      `touch ${EXISTING}/deep/er/input/new || true`,
      // what it writes beside its mounts, in the overlay, stays its own
      `echo mine > ${EXISTING}/scribble; ls -A ${EXISTING} | tr '\\n' ' '; echo`,
    ].join('\n');
    const [a, b] = await launch(group(cmd, instances));
    expect(a!.ok && b!.ok).toBe(true);
    await until(() => outs.every((o) => fs.existsSync(path.join(o, 'started'))));
    // both run now: the host sees an empty mount point and its own listing
    expect(ls(TOP)).toEqual([]);
    expect(ls(EXISTING)).toEqual(before);
    fs.writeFileSync(path.join(GATES, 'go'), '');
    for (const k of [0, 1]) {
      const e = await end(`job-${tag}.T.${k}.1`);
      expect(err(k)).toMatch(/^touch: cannot touch '.*\/deep\/er\/input\/new': Read-only file system\n$/);
      expect(e.exitCode).toBe(0);
      expect(out(k).split('\n')).toEqual([
        `input ${k}`, `name.txt only-${k} `,
        `deep ${k}`, `object ${k}`, `top object ${k}`,
        'deep keep objects output ', 'host file',
        'refused',
        'deep keep objects output scribble ', '',
      ]);
      // what it wrote landed in its own sources, its user's
      expect(fs.readFileSync(path.join(outs[k]!, 'result.txt'), 'utf8')).toBe(`result ${k}\n`);
      expect(fs.readFileSync(path.join(outs2[k]!, 'r2.txt'), 'utf8')).toBe(`second ${k}\n`);
      expect(fs.statSync(path.join(outs[k]!, 'result.txt')).uid).toBe(user!.uid);
      expect(ls(outs[k]!)).toEqual(['result.txt', 'started']);
      // the shim changed no ownership of a source
      expect(fs.statSync(outs[k]!).uid).toBe(user!.uid);
    }
    expect(ls(TOP)).toEqual([]);
    expect(fs.statSync(TOP).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(TOP).uid).toBe(0);
    expect(ls(EXISTING)).toEqual(before);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(new RegExp(`${tag}`));
  });

  it('binds over an existing directory and file, nests a mount in another (its mount point made in the outer source), and keeps the working directory when an overlay covers the way to it', async () => {
    const { group, launch, end, out, err, source, file, workDir } = setup();
    fs.mkdirSync(EXISTING, { recursive: true });
    fs.mkdirSync(path.join(EXISTING, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(EXISTING, 'dir', 'host'), 'host\n');
    fs.writeFileSync(path.join(EXISTING, 'conf'), 'host conf\n');
    const outer = source({ 'a.txt': 'outer\n' });
    // /tmp/<missing>/x: the overlay is on /tmp itself, above the data dir
    const above = `${os.tmpdir()}/ob-new-${tag}/x`;
    const cmd = [
      `ls ${EXISTING}/dir; cat ${EXISTING}/conf`,
      `cat ${TOP}/nest/in/a.txt ${TOP}/nest/in/extra/f.txt`,
      `ls ${above}`,
      'echo here > here.txt; pwd; cat here.txt',
      `ls ${path.dirname(workDir(0))} || true`,
    ].join('\n');
    const [r] = await launch(group(cmd, [{
      mounts: [
        ro(source({ 'theirs': '' }), `${EXISTING}/dir`),
        ro(file('conf of the attempt\n'), `${EXISTING}/conf`),
        ro(outer, `${TOP}/nest/in`),
        ro(file('inner\n'), `${TOP}/nest/in/extra/f.txt`),
        ro(source({ 'y': '' }), above),
      ],
    }]));
    expect(r!.ok).toBe(true);
    expect((await end(`job-${tag}.T.0.1`)).exitCode).toBe(0);
    expect(err(0)).toMatch(/Permission denied/); // the data dir stays hidden
    expect(out(0).split('\n').slice(0, 7)).toEqual(['theirs', 'conf of the attempt', 'outer', 'inner', 'y', workDir(0), 'here']);
    expect(fs.readFileSync(path.join(workDir(0), 'here.txt'), 'utf8')).toBe('here\n');
    expect(ls(path.join(EXISTING, 'dir'))).toEqual(['host']);
    expect(fs.readFileSync(path.join(EXISTING, 'conf'), 'utf8')).toBe('host conf\n');
    expect(fs.existsSync(path.dirname(above))).toBe(false);
    // the nested mount's mount point was made in the outer source: an empty directory and file
    expect(ls(outer)).toEqual(['a.txt', 'extra']);
    expect(fs.statSync(path.join(outer, 'extra', 'f.txt')).size).toBe(0);
  });

  it('refuses targets in /proc, /sys, /dev, the data dir, above it, /, repeated ones and paths with tabs, and says why', async () => {
    const { group, launch, source, root } = setup();
    const src = source({ a: '' });
    const cases: [MountSpec, RegExp][] = [
      [ro(src, '/proc/x'), /lies in \/proc/],
      [ro(src, '/sys'), /lies in \/sys/],
      [ro(src, '/dev/shm/x'), /lies in \/dev/],
      [ro(src, path.join(root, 'work', 'x')), /which attempts do not see/],
      [ro(src, path.dirname(root)), /would cover/],
      [ro(src, '/'), /cannot cover \//],
      [ro(src, `${TOP}/a\tb`), /tab, newline or NUL/],
      [ro(src, `${TOP}/a/../b`), /not a normalized absolute path/],
      [ro(src, 'relative/x'), /not a normalized absolute path/],
    ];
    const rs = await launch(group('true', [...cases.map(([m]) => ({ mounts: [m] })), { mounts: [ro(src, `${TOP}/same`), rw(src, `${TOP}/same`)] }]));
    for (const [n, [, why]] of cases.entries()) {
      const r = rs[n]!;
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(why);
    }
    const dup = rs[cases.length]!;
    expect(!dup.ok && dup.error).toMatch(/two mounts have the target/);
  });

  it('reports a mount the shim cannot make as a failed launch naming the mount', async () => {
    const { group, launch, source } = setup();
    fs.mkdirSync(EXISTING, { recursive: true });
    fs.writeFileSync(path.join(EXISTING, 'afile'), '');
    const [r] = await launch(group('true', [{ mounts: [ro(source({}), `${EXISTING}/afile/sub`)] }]));
    expect(r!.ok).toBe(false);
    if (!r!.ok) expect(r!.error).toMatch(new RegExp(`^could not start the attempt: its mount ${EXISTING}/afile/sub failed \\(ENOTDIR; working directory /`));
  });

  it('answers privateMounts() for the shim with a mount namespace, and why not otherwise', async () => {
    expect(setup().ex.privateMounts()).toBeUndefined();
    const none = setup(shim, { hide: [], namespaces: false });
    expect(none.ex.privateMounts()).toMatch(/cannot have a private mount namespace/);
    const [r] = await none.launch(none.group('true', [{ mounts: [ro(none.source({}), `${TOP}/x`)] }]));
    expect(!r!.ok && r!.error).toMatch(/^the attempt cannot have private mounts: attempts cannot have a private mount namespace/);
    const sh = setup(shell);
    expect(sh.ex.privateMounts()).toMatch(/the \/bin\/sh launcher cannot give attempts private mounts/);
    const [s] = await sh.launch(sh.group('true', [{ mounts: [ro(sh.source({}), `${TOP}/x`)] }]));
    expect(!s!.ok && s!.error).toMatch(/\/bin\/sh launcher cannot/);
  });
});

describe.each([['shim (C)', shim], ['shell supervisor', shell]] as const)('seed directory of local attempts: %s', (_name, make) => {
  it('copies the seed into the fresh working directory, its user\'s, scripts executable, symlinks as symlinks', async () => {
    const { group, launch, end, out, workDir, root } = setup(make, ROOT ? {} : { users: null, hide: [], namespaces: false });
    const seed = path.join(root, 'pkg');
    fs.mkdirSync(path.join(seed, 'lib', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(seed, 'run.sh'), '#!/bin/sh\necho "run by $(id -u) in $(pwd)"\n', { mode: 0o755 });
    fs.writeFileSync(path.join(seed, 'lib', 'deep', 'data.txt'), 'data\n', { mode: 0o640 });
    fs.chmodSync(path.join(seed, 'lib'), 0o750);
    fs.symlinkSync('lib/deep/data.txt', path.join(seed, 'link'));
    fs.symlinkSync('/etc/hostname', path.join(seed, 'outside'));
    fs.writeFileSync(path.join(seed, 'setuid'), '', { mode: 0o4755 });
    fs.chmodSync(path.join(seed, 'setuid'), 0o4755);
    const [r] = await launch(group('./run.sh; cat link; stat -c "%a %n" run.sh lib lib/deep/data.txt setuid', [{}], { seedDir: seed }));
    expect(r!.ok).toBe(true);
    expect((await end(`job-${tag}.T.0.1`)).exitCode).toBe(0);
    const uid = user?.uid ?? process.getuid!();
    expect(out(0).split('\n')).toEqual([`run by ${uid} in ${workDir(0)}`, 'data', '755 run.sh', '750 lib', '640 lib/deep/data.txt', '755 setuid', '']);
    const wd = workDir(0);
    for (const f of ['.', 'run.sh', 'lib', 'lib/deep', 'lib/deep/data.txt', 'link', 'outside']) {
      expect(fs.lstatSync(path.join(wd, f)).uid).toBe(uid);
    }
    expect(fs.statSync(wd).mode & 0o777).toBe(0o700);
    expect(fs.readlinkSync(path.join(wd, 'outside'))).toBe('/etc/hostname');
    expect(fs.readlinkSync(path.join(wd, 'link'))).toBe('lib/deep/data.txt');
    expect(fs.statSync(path.dirname(wd)).mode & 0o777).toBe(0o711);
  });

  it('fails the launch when the seed cannot be copied, saying why', async () => {
    const { group, launch, root } = setup(make, ROOT ? {} : { users: null, hide: [], namespaces: false });
    const seed = path.join(root, 'pkg-fifo');
    fs.mkdirSync(seed);
    execFileSync('mkfifo', [path.join(seed, 'pipe')]);
    const [r, m] = await launch(group('true', [{}, {}], { seedDir: seed }));
    expect(!r!.ok && r!.error).toMatch(/^could not copy the package .*pkg-fifo into the working directory: .*pipe is not a regular file, directory or symlink$/);
    expect(m!.ok).toBe(false);
    const [g] = await launch(group('true', [{ index: 5 }], { seedDir: path.join(root, 'missing') }));
    expect(!g!.ok && g!.error).toMatch(/ENOENT/);
  });
});
