// Picks how the local executor starts attempts: the C shim (built once with the system C compiler and
// cached) or, when that is not possible, the portable /bin/sh supervisor; and asks the chosen one
// whether it can give attempts a private mount namespace here.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalExecutorBase, LocalExecutorOptions } from './base.ts';
import { findTools, LocalExecutor } from './executor.ts';
import { ShimExecutor } from './shim-executor.ts';
import { SHIM_NAME } from './status.ts';
import type { Launcher } from '../../config/choices.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The shim's sources: compiled together, and hashed together to name the build. */
const SOURCES = ['openbatch-shim.c', 'shim-slots.c', 'shim-child.c', 'shim-mounts.c', 'shim.h'].map((f) => path.join(ROOT, 'native', f));

/** Path of the compiled shim (compiling it if needed), or an Error saying why it cannot be had. */
export function buildShim(): string | Error {
  const hash = createHash('sha256');
  try {
    for (const f of SOURCES) hash.update(fs.readFileSync(f));
  } catch (e) {
    return new Error(`shim source missing: ${(e as Error).message}`);
  }
  const name = `${SHIM_NAME}-${hash.digest('hex').slice(0, 16)}`;
  const dirs = [path.join(ROOT, 'node_modules', '.cache', 'openbatch'), path.join(os.tmpdir(), `openbatch-shim-${process.getuid?.() ?? 'u'}`)];
  let last: Error = new Error('no writable cache directory');
  for (const dir of dirs) {
    const target = path.join(dir, name);
    try {
      fs.accessSync(target, fs.constants.X_OK);
      return target;
    } catch {
      // not built yet
    }
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = `${target}.${process.pid}.tmp`;
      const cfiles = SOURCES.filter((f) => f.endsWith('.c'));
      execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-pthread', '-o', tmp, ...cfiles], { stdio: 'pipe', timeout: 120_000 });
      fs.renameSync(tmp, target); // atomic: concurrent builders race harmlessly
      return target;
    } catch (e) {
      const err = e as Error & { stderr?: Buffer };
      last = new Error(`cannot build the attempt shim in ${dir}: ${err.stderr?.toString().trim() || err.message}`);
    }
  }
  return last;
}

export type PickedLauncher = { kind: 'shim'; path: string } | { kind: 'shell' };

/** The launcher to use: the shim when it builds (or `shim` insists), else the sh supervisor. */
export function pickLauncher(launcher: Launcher, warn: (obj: object, msg: string) => void): PickedLauncher {
  if (launcher === 'shell') return { kind: 'shell' };
  const shim = buildShim();
  if (shim instanceof Error) {
    if (launcher === 'shim') throw shim;
    warn({ err: shim.message }, 'falling back to the /bin/sh supervisor for attempts (slower to start)');
    return { kind: 'shell' };
  }
  return { kind: 'shim', path: shim };
}

/** Can this launcher cover `dir` in an attempt's mount namespace? undefined: yes; else why not. */
export function probeNamespace(l: PickedLauncher, dir: string): string | undefined {
  if (l.kind === 'shim') {
    const r = spawnSync(l.path, ['--probe-ns', dir], { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 ? undefined : r.stderr.trim() || `exit ${r.status}`;
  }
  const t = findTools();
  if (!t.unshare || !t.mount) return 'unshare or mount (util-linux) is missing';
  const r = spawnSync(t.unshare, ['--mount', '--propagation', 'slave', t.mount, '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? undefined : r.stderr.trim() || `exit ${r.status}`;
}

export function createLocalExecutor(l: PickedLauncher, o: LocalExecutorOptions): LocalExecutorBase {
  if (l.kind === 'shell') {
    if (o.isolation?.users && !findTools().setpriv) {
      throw new Error('the /bin/sh launcher needs setpriv (util-linux) to run tasks as their users: install util-linux, or a C compiler for the attempt shim');
    }
    return new LocalExecutor(o);
  }
  return new ShimExecutor(o, l.path);
}
