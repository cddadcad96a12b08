// The start-up check of the config's `slurm` section against the machine and the cluster: every
// Slurm command is there and executable, the controller answers, each queue's partition exists, the
// shared directory can be created and written; and the limits of the cluster OpenBatch must respect
// (MaxArraySize, MinJobAge) as `scontrol show config` gives them. A problem is a SlurmSetupError
// whose message says which command, partition or directory (and what the operator can do).
import fs from 'node:fs';
import path from 'node:path';
import type { SlurmConfig } from '../../config/config.ts';
import { writeProblem } from '../../lib/write-probe.ts';
import { SLURM_COMMANDS, SlurmUnavailable, type SlurmCli, type SlurmCommand } from './cli.ts';

/** The config names something the machine or the cluster does not have: refuse to start. */
export class SlurmSetupError extends Error {}

export interface SlurmLimits {
  /** Largest array index + 1 (an array job's elements are 0..maxArraySize-1). */
  maxArraySize: number;
  /** Seconds a finished job stays visible to squeue and scontrol. */
  minJobAge: number;
  /** SLURM_VERSION of the controller's config, e.g. `22.05.8`. */
  version: string;
}

export interface CheckOptions {
  /** How long a controller that does not answer is waited for (ms; default 15 s). */
  retryForMs?: number;
}

/**
 * Check the `slurm` section; the commands run through `cli` (whose binDir is the section's). Two
 * Slurm calls: `sinfo` (the partitions) and `scontrol show config`.
 */
export async function checkSlurm(cfg: SlurmConfig, cli: SlurmCli, opts: CheckOptions = {}): Promise<SlurmLimits> {
  checkCommands(cfg, cli);
  checkSharedDir(cfg.sharedDir);
  const retryForMs = opts.retryForMs ?? 15_000;
  const [partitionsOut, configOut] = await Promise.all([
    ask(cli, 'sinfo', ['-h', '-a', '-o', '%R'], retryForMs),
    ask(cli, 'scontrol', ['show', 'config'], retryForMs),
  ]);
  const known = new Set(partitionsOut.split('\n').map((l) => l.trim()).filter((l) => l !== ''));
  const unknown = cfg.queues.filter((q) => !known.has(q.partition));
  if (unknown.length > 0) {
    const list = [...known].sort().join(', ') || 'none';
    throw new SlurmSetupError(
      `${unknown.map((q) => `slurm queue "${q.name}": partition "${q.partition}"`).join('; ')} ${unknown.length === 1 ? 'is' : 'are'} not a partition of the Slurm cluster (its partitions: ${list})`,
    );
  }
  return parseSlurmConfig(configOut);
}

/** MaxArraySize, MinJobAge and SLURM_VERSION of `scontrol show config` output. */
export function parseSlurmConfig(out: string): SlurmLimits {
  const value = (key: string): string => {
    const m = new RegExp(`^${key}\\s*=\\s*(.*)$`, 'm').exec(out);
    if (!m) throw new SlurmSetupError(`scontrol show config did not give ${key}`);
    return m[1]!.trim();
  };
  const int = (key: string): number => {
    const v = value(key);
    const m = /^(\d+)(\s+sec)?$/.exec(v);
    if (!m) throw new SlurmSetupError(`scontrol show config gave ${key} = ${JSON.stringify(v)}, not a number`);
    return Number(m[1]);
  };
  return { maxArraySize: int('MaxArraySize'), minJobAge: int('MinJobAge'), version: value('SLURM_VERSION') };
}

function checkCommands(cfg: SlurmConfig, cli: SlurmCli): void {
  const dir = cli.o.binDir;
  if (cfg.binDir !== undefined && dir !== undefined && path.resolve(dir) !== path.resolve(cfg.binDir)) {
    throw new Error(`checkSlurm: the Slurm command runner uses ${dir}, the config says slurm.binDir ${cfg.binDir}`);
  }
  const pathDirs = (cli.o.env?.PATH ?? process.env.PATH ?? '').split(':').filter((d) => d !== '');
  const problems: string[] = [];
  for (const cmd of SLURM_COMMANDS) {
    if (dir !== undefined) {
      const why = notExecutable(path.join(dir, cmd));
      if (why) problems.push(`${cmd} (${why})`);
    } else if (!pathDirs.some((d) => notExecutable(path.join(d, cmd)) === undefined)) {
      problems.push(cmd);
    }
  }
  if (problems.length === 0) return;
  const what = problems.length === 1 ? 'Slurm command' : 'Slurm commands';
  if (dir !== undefined) {
    throw new SlurmSetupError(`${what} ${problems.join(', ')} missing in slurm.binDir ${dir}: it must hold ${SLURM_COMMANDS.join(', ')}, each an executable file`);
  }
  throw new SlurmSetupError(`${what} ${problems.join(', ')} not found on the PATH (${pathDirs.join(':') || 'empty'}): install Slurm's client commands (Debian: slurm-client) or set slurm.binDir`);
}

/** Why `file` is not an executable file (not found, a directory, no x bit), or undefined if it is one. */
function notExecutable(file: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'not found' : code;
  }
  if (!st.isFile()) return 'not a file';
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return 'not executable';
  }
  return undefined;
}

// The shared directory is created if missing; only that the server can write it is checked (that the
// nodes see it, at the same path, is the operator's part: it is on a shared file system).
function checkSharedDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new SlurmSetupError(`slurm.sharedDir ${dir} cannot be created (${code}${code === 'ENOTDIR' || code === 'EEXIST' ? ': a file is in the way' : ''})`);
  }
  if (!fs.statSync(dir).isDirectory()) throw new SlurmSetupError(`slurm.sharedDir ${dir} is not a directory`);
  const code = writeProblem(dir);
  if (code) throw new SlurmSetupError(`slurm.sharedDir ${dir} cannot be written (${code})`);
}

async function ask(cli: SlurmCli, cmd: SlurmCommand, args: string[], retryForMs: number): Promise<string> {
  try {
    return await cli.run(cmd, args, { retryForMs });
  } catch (e) {
    if (e instanceof SlurmUnavailable) throw new SlurmSetupError(`the Slurm controller does not answer: ${e.message}`);
    throw new SlurmSetupError(`${cmd} ${args.join(' ')} failed: ${(e as Error).message}`);
  }
}
