// Local executor: runs each attempt as `/bin/sh -c <command>` under a tiny /bin/sh supervisor in its
// own session and process group, with stdout/stderr going straight to files. The supervisor waits for
// the command and writes its exit status to `<stateDir>/<key>.status`, so an attempt neither needs nor
// notices the service process: it survives a restart or a kill -9 of the service and is re-adopted.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AdoptResult, AttemptHandle, AttemptSpec, Executor, ExitInfo } from '../types.ts';

/**
 * $0 = label (shows the attempt key in ps), $1 = the user's command, $2 = the status file.
 * The command runs as `/bin/sh -c "$1"` exactly (never interpolated into this script). TERM/INT/HUP
 * are trapped with a handler (handlers, unlike ignored signals, are reset in the child), so when the
 * process group is asked to stop the command gets the signal and the supervisor still records how it
 * ended. The status is one short line written with a single printf to a fresh file: a write of a few
 * bytes to a regular file is not split, so a reader sees either nothing or the whole line (the reader
 * also requires the trailing newline). sh reports death by signal n as 128+n; that is recorded as is.
 */
const SUPERVISOR = `trap 'ob_sig=1' TERM INT HUP
/bin/sh -c "$1"
ob_rc=$?
printf '%s\\n' "$ob_rc" > "$2"
exit "$ob_rc"`;

export interface LocalExecutorOptions {
  stateDir: string;
  logger?: { warn(obj: object, msg: string): void };
  /** How often adopted attempts are checked when no file event arrives (ms). */
  sweepMs?: number;
}

export class LocalExecutor implements Executor {
  readonly name = 'local';
  private listener: (key: string, exit: ExitInfo) => void = () => {};
  private readonly baseEnv: Record<string, string>;
  /** Attempts adopted after a restart (not our children): watched through status files and pids. */
  private readonly adopted = new Map<string, AttemptHandle>();
  private watcher: fs.FSWatcher | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly ended = new Set<string>();

  constructor(private readonly o: LocalExecutorOptions) {
    fs.mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      // our own settings and secrets never leak into tasks
      if (v !== undefined && !k.startsWith('OPENBATCH_')) env[k] = v;
    }
    this.baseEnv = env;
  }

  onExit(listener: (key: string, exit: ExitInfo) => void): void {
    this.listener = listener;
  }

  statusPath(key: string): string {
    return path.join(this.o.stateDir, `${key}.status`);
  }

  async launch(spec: AttemptSpec): Promise<AttemptHandle> {
    fs.mkdirSync(spec.cwd, { recursive: true });
    const statusPath = this.statusPath(spec.key);
    const out = fs.openSync(spec.stdoutPath, 'w', 0o600);
    let err: number;
    try {
      err = fs.openSync(spec.stderrPath, 'w', 0o600);
    } catch (e) {
      fs.closeSync(out);
      throw e;
    }
    try {
      const child = spawn('/bin/sh', ['-c', SUPERVISOR, `openbatch-attempt:${spec.key}`, spec.command, statusPath], {
        cwd: spec.cwd,
        env: { ...this.baseEnv, ...spec.env },
        detached: true,
        stdio: ['ignore', out, err],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid!));
      });
      child.once('exit', (code, signal) => this.fire(spec.key, { exitCode: code, signal }));
      return { executor: this.name, key: spec.key, pid, startTicks: startTicksOf(pid) ?? '', statusPath };
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
  }

  kill(handle: AttemptHandle, signal: NodeJS.Signals): void {
    try {
      process.kill(-handle.pid, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') this.o.logger?.warn({ err: e, key: handle.key }, 'kill failed');
    }
  }

  adopt(handle: AttemptHandle): AdoptResult {
    const st = readStatus(handle.statusPath);
    if (st) return { kind: 'exited', exit: st };
    if (handle.startTicks !== '' && startTicksOf(handle.pid) === handle.startTicks) {
      this.adopted.set(handle.key, handle);
      this.watch();
      return { kind: 'running' };
    }
    return { kind: 'lost' };
  }

  /** The caller has recorded the attempt's end: its status file is no longer needed. */
  forget(handle: AttemptHandle): void {
    fs.rm(handle.statusPath, { force: true }, () => {});
    this.ended.delete(handle.key);
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.adopted.clear();
  }

  private fire(key: string, exit: ExitInfo): void {
    if (this.ended.has(key)) return;
    this.ended.add(key);
    try {
      this.listener(key, exit);
    } catch (e) {
      this.o.logger?.warn({ err: e, key }, 'exit listener failed');
    }
  }

  private watch(): void {
    if (!this.watcher) {
      try {
        this.watcher = fs.watch(this.o.stateDir, (_ev, file) => {
          if (file && file.endsWith('.status')) this.check(file.slice(0, -'.status'.length));
        });
        this.watcher.on('error', () => {});
      } catch (e) {
        this.o.logger?.warn({ err: e }, 'cannot watch the attempt state dir; relying on the sweep');
      }
    }
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => {
        for (const key of [...this.adopted.keys()]) this.check(key);
        if (this.adopted.size === 0 && this.sweepTimer) {
          clearInterval(this.sweepTimer);
          this.sweepTimer = null;
        }
      }, this.o.sweepMs ?? 2000);
      this.sweepTimer.unref();
    }
  }

  /** An adopted attempt may have ended: report it once its status is there, or if its process is gone. */
  private check(key: string): void {
    const h = this.adopted.get(key);
    if (!h) return;
    const st = readStatus(h.statusPath);
    if (st) {
      this.adopted.delete(key);
      this.fire(key, st);
      return;
    }
    if (startTicksOf(h.pid) !== h.startTicks) {
      // gone without a status: killed with SIGKILL (supervisor included), or the machine rebooted
      const again = readStatus(h.statusPath);
      this.adopted.delete(key);
      this.fire(key, again ?? { exitCode: null, signal: 'SIGKILL' });
    }
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined if no such process. */
export function startTicksOf(pid: number): string | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); field 22 is fields[19]
    if (fields[0] === 'Z') return undefined; // a zombie has ended
    return fields[19];
  } catch {
    return undefined;
  }
}

function readStatus(file: string): ExitInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (!text.endsWith('\n')) return undefined;
  const rc = Number(text.trim());
  if (!Number.isInteger(rc)) return undefined;
  return { exitCode: rc, signal: null };
}
