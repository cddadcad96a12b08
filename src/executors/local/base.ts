// What both local executors share: the attempt state dir, exactly-once exit reporting, kills of the
// whole process group, adoption after a restart, and forgetting status files once recorded.
import fs from 'node:fs';
import path from 'node:path';
import type { AdoptResult, AttemptHandle, AttemptSpec, Executor, ExitInfo } from '../types.ts';
import { Adopter } from './adoption.ts';

export interface LocalExecutorOptions {
  /** Where status files of attempts live (survives restarts: inside the data dir). */
  stateDir: string;
  logger?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /** How often watched (adopted) attempts are checked when no file event arrives (ms). */
  sweepMs?: number;
  /**
   * Added to the service's own niceness for the attempts (0 = the same priority). With a positive value
   * the service's API and scheduler come first when the attempts take every CPU.
   */
  nice?: number;
}

export abstract class LocalExecutorBase implements Executor {
  readonly name = 'local';
  private listener: (key: string, exit: ExitInfo) => void = () => {};
  private readonly ended = new Set<string>();
  /** Attempts handed over by adopt(): forget() also removes their pid file. */
  private readonly adopted = new Set<string>();
  protected readonly adopter: Adopter;
  /** Environment of every attempt before its own variables: ours, minus OPENBATCH_* (settings, secrets). */
  protected readonly baseEnv: Record<string, string>;

  constructor(protected readonly o: LocalExecutorOptions) {
    fs.mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('OPENBATCH_')) env[k] = v;
    this.baseEnv = env;
    this.adopter = new Adopter(o.stateDir, (k, e) => this.fire(k, e), o.sweepMs ?? 2000, (obj, msg) => this.warn(obj, msg));
  }

  abstract launch(spec: AttemptSpec): Promise<AttemptHandle>;

  onExit(listener: (key: string, exit: ExitInfo) => void): void {
    this.listener = listener;
  }

  statusPath(key: string): string {
    return path.join(this.o.stateDir, `${key}.status`);
  }

  /** Where the shim records the pid and start time of an attempt before it reports the start. */
  pidPath(key: string): string {
    return path.join(this.o.stateDir, `${key}.pid`);
  }

  /** The handle of an attempt whose start the service never recorded (it died right after the
   *  launch), from the pid file the shim wrote (or, once the attempt ended, the status file it became);
   *  undefined when the attempt never started. */
  recover(key: string): AttemptHandle | undefined {
    for (const file of [this.pidPath(key), this.statusPath(key)]) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      const m = /^(\d+) (\d+)\n/.exec(text);
      if (m) return { executor: this.name, key, pid: Number(m[1]), startTicks: m[2]!, statusPath: this.statusPath(key) };
    }
    return undefined;
  }

  kill(handle: AttemptHandle, signal: NodeJS.Signals): void {
    try {
      process.kill(-handle.pid, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') this.warn({ err: e, key: handle.key }, 'kill failed');
    }
  }

  adopt(handle: AttemptHandle): AdoptResult {
    this.adopted.add(handle.key);
    return this.adopter.adopt(handle);
  }

  /** The caller has recorded the attempt's end: its status file is no longer needed. */
  forget(handle: AttemptHandle): void {
    // The shim's pid file became the status file when the attempt ended; an adopted attempt may have
    // been started by an earlier version that kept both. Unlinked in place: one short metadata call,
    // dearer when handed to the thread pool on a busy machine.
    unlinkQuietly(handle.statusPath);
    if (this.adopted.delete(handle.key)) unlinkQuietly(this.pidPath(handle.key));
    this.ended.delete(handle.key);
  }

  async close(): Promise<void> {
    this.adopter.close();
  }

  protected fire(key: string, exit: ExitInfo): void {
    if (this.ended.has(key)) return;
    this.ended.add(key);
    try {
      this.listener(key, exit);
    } catch (e) {
      this.warn({ err: e, key }, 'exit listener failed');
    }
  }

  protected warn(obj: object, msg: string): void {
    this.o.logger?.warn(obj, msg);
  }
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone, or the state dir is unwritable: a leftover file is harmless (its key is never reused)
  }
}
