// Running Slurm's commands (sbatch, squeue, scancel, sinfo, scontrol, sacct): each call is
// time-limited, a failure that may pass (the controller down or busy, a timeout) is retried with
// backoff within a budget and then reported as SlurmUnavailable, and a refusal (a bad partition, an
// unknown job) is reported at once as SlurmCommandError with Slurm's own message. Counts the calls
// made (the benchmark reports Slurm commands per 1,000 instances).
import { execFile } from 'node:child_process';
import path from 'node:path';

export type SlurmCommand = 'sbatch' | 'squeue' | 'scancel' | 'sinfo' | 'scontrol' | 'sacct';
export const SLURM_COMMANDS: readonly SlurmCommand[] = ['sbatch', 'squeue', 'scancel', 'sinfo', 'scontrol', 'sacct'];

/** Slurm refused the request (its message says why); trying again would not help. */
export class SlurmCommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, readonly exitCode: number | null) {
    super(`${command} failed: ${firstLine(stderr) || `exit code ${exitCode}`}`);
  }
}

/** Slurm could not be reached in time (controller down, busy, or the command hung). */
export class SlurmUnavailable extends Error {
  constructor(readonly command: string, why: string) {
    super(`Slurm is not answering (${command}: ${why})`);
  }
}

export interface RunOptions {
  /** Text written to the command's stdin. */
  input?: string;
  /** Time limit of one try (ms). */
  timeoutMs?: number;
  /** How long transient failures are retried (ms); 0: one try. */
  retryForMs?: number;
  /** Exit codes other than 0 that are an answer, not a failure (the output is returned). */
  okCodes?: number[];
}

export interface SlurmCliOptions {
  /** Where the commands are; undefined: the PATH. */
  binDir?: string;
  /** The environment the commands run with (default: the server's PATH only, and SLURM_CONF if set). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  retryForMs?: number;
}

// Slurm's words for a controller it cannot reach or that is too busy (slurm_strerror texts)
const TRANSIENT = /unable to contact slurm controller|socket timed out|connection refused|temporarily unable|try again|communication connection failure|zero bytes were transmitted|slurmctld.*not responding|resource temporarily unavailable|not responding/i;

export class SlurmCli {
  readonly calls = new Map<SlurmCommand, number>();
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly o: SlurmCliOptions = {}) {
    this.env = o.env ?? {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      ...(process.env.SLURM_CONF ? { SLURM_CONF: process.env.SLURM_CONF } : {}),
      LANG: 'C',
    };
  }

  /** The path of a command (in binDir, or its bare name for a PATH lookup). */
  path(cmd: SlurmCommand): string {
    return this.o.binDir ? path.join(this.o.binDir, cmd) : cmd;
  }

  /** Calls made so far, all commands together. */
  totalCalls(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  /** Run a command and return its stdout. */
  async run(cmd: SlurmCommand, args: string[], opts: RunOptions = {}): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? this.o.timeoutMs ?? 30_000;
    const budget = opts.retryForMs ?? this.o.retryForMs ?? 60_000;
    const end = Date.now() + budget;
    let delay = 250;
    for (;;) {
      const r = await this.once(cmd, args, timeoutMs, opts.input);
      if (r.code === 0 || (r.code !== null && opts.okCodes?.includes(r.code))) return r.stdout;
      const transient = r.timedOut || r.spawnError === 'EAGAIN' || TRANSIENT.test(r.stderr);
      if (r.spawnError && !transient) {
        throw new SlurmCommandError(cmd, `cannot run ${this.path(cmd)} (${r.spawnError})`, null);
      }
      if (!transient) throw new SlurmCommandError(cmd, r.stderr, r.code);
      const why = r.timedOut ? `no answer within ${Math.round(timeoutMs / 1000)} s` : firstLine(r.stderr);
      if (Date.now() + delay > end) throw new SlurmUnavailable(cmd, why);
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }

  private once(cmd: SlurmCommand, args: string[], timeoutMs: number, input?: string): Promise<{
    code: number | null; stdout: string; stderr: string; timedOut: boolean; spawnError?: string;
  }> {
    this.calls.set(cmd, (this.calls.get(cmd) ?? 0) + 1);
    return new Promise((resolve) => {
      const child = execFile(this.path(cmd), args, {
        env: this.env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 30, encoding: 'utf8',
      }, (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr, timedOut: false });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number; signal?: string };
        if (typeof e.code === 'string') return resolve({ code: null, stdout, stderr, timedOut: false, spawnError: e.code });
        const timedOut = e.killed === true && e.signal === 'SIGKILL';
        resolve({ code: typeof e.code === 'number' ? e.code : null, stdout, stderr, timedOut });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0]?.replace(/^(sbatch|squeue|scancel|sinfo|scontrol|sacct): (error: )?/, '') ?? '';
}
