// Picks how the local executor starts attempts: the C shim (built once with the system C compiler and
// cached) or, when that is not possible, the portable /bin/sh supervisor.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalExecutorBase, LocalExecutorOptions } from './base.ts';
import { LocalExecutor } from './executor.ts';
import { ShimExecutor } from './shim-executor.ts';
import { SHIM_NAME } from './status.ts';

export const LAUNCHERS = ['auto', 'shim', 'shell'] as const;
export type Launcher = (typeof LAUNCHERS)[number];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SOURCE = path.join(ROOT, 'native', 'openbatch-shim.c');

/** Path of the compiled shim (compiling it if needed), or an Error saying why it cannot be had. */
export function buildShim(): string | Error {
  let src: Buffer;
  try {
    src = fs.readFileSync(SOURCE);
  } catch (e) {
    return new Error(`shim source missing: ${(e as Error).message}`);
  }
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dirs = [path.join(ROOT, 'node_modules', '.cache', 'openbatch'), path.join(os.tmpdir(), `openbatch-shim-${process.getuid?.() ?? 'u'}`)];
  let last: Error = new Error('no writable cache directory');
  for (const dir of dirs) {
    const target = path.join(dir, `${SHIM_NAME}-${hash}`);
    try {
      fs.accessSync(target, fs.constants.X_OK);
      return target;
    } catch {
      // not built yet
    }
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = `${target}.${process.pid}.tmp`;
      execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-o', tmp, SOURCE], { stdio: 'pipe', timeout: 120_000 });
      fs.renameSync(tmp, target); // atomic: concurrent builders race harmlessly
      return target;
    } catch (e) {
      const err = e as Error & { stderr?: Buffer };
      last = new Error(`cannot build the attempt shim in ${dir}: ${err.stderr?.toString().trim() || err.message}`);
    }
  }
  return last;
}

export function createLocalExecutor(launcher: Launcher, o: LocalExecutorOptions): LocalExecutorBase {
  if (launcher === 'shell') return new LocalExecutor(o);
  const shim = buildShim();
  if (shim instanceof Error) {
    if (launcher === 'shim') throw shim;
    o.logger?.warn({ err: shim.message }, 'falling back to the /bin/sh supervisor for attempts (slower to start)');
    return new LocalExecutor(o);
  }
  return new ShimExecutor(o, shim);
}
