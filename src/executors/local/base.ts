// What both local executors share: the attempt state dir, exactly-once exit reporting, kills of the
// whole attempt (process group and cgroup), adoption after a restart, forgetting status files once
// recorded, and what an attempt gets: its built environment, its user, its command (inline or, when
// too long for an argument, through a file).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AdoptResult, AttemptHandle, AttemptSpec, Executor, ExitInfo } from '../types.ts';
import { MAX_ARG_STRLEN } from '../../lib/exec-limits.ts';
import { Adopter } from './adoption.ts';
import { attemptPids, removeAttemptCgroups, type CgroupLayout } from './cgroups.ts';
import type { RunUser } from './run-as.ts';

/** How attempts are kept apart from the server and from each other (see isolation.ts). */
export interface LocalIsolation {
  /** The user of each account's attempts; null: every attempt runs as the server's own user. */
  users: Map<string, RunUser> | null;
  /** Hidden from every attempt by its private mount namespace (empty: no namespace). */
  hide: string[];
  /** Where attempt cgroups go; null: resources are not enforced. */
  cgroups: CgroupLayout | null;
  /** pids.max of each attempt's cgroup. */
  pidsMax: number;
}

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
  isolation?: LocalIsolation;
}

/** The documented base of every attempt's environment; the attempt's own variables come on top. */
export const BASE_PATH = '/usr/local/bin:/usr/bin:/bin';
export const BASE_LANG = 'C.UTF-8';

export abstract class LocalExecutorBase implements Executor {
  readonly name = 'local';
  private listener: (key: string, exit: ExitInfo) => void = () => {};
  private readonly ended = new Set<string>();
  /** Attempts handed over by adopt(): forget() also removes their pid file and cgroups. */
  private readonly adopted = new Set<string>();
  protected readonly adopter: Adopter;
  protected readonly isolation: LocalIsolation;
  /** Attempts launched with a command file (removed by forget). */
  private readonly longCommands = new Set<string>();
  private readonly ownHome = os.userInfo().homedir;

  constructor(protected readonly o: LocalExecutorOptions) {
    fs.mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    this.isolation = o.isolation ?? { users: null, hide: [], cgroups: null, pidsMax: 0 };
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

  /** The user an account's attempts run as (undefined: the server's own user). */
  protected userOf(spec: AttemptSpec): RunUser | undefined {
    const users = this.isolation.users;
    if (!users) return undefined;
    const u = users.get(spec.account);
    if (!u) throw new Error(`account ${spec.account} has no user to run its tasks as`);
    return u;
  }

  /** The attempt's environment: the documented base, then its own variables (which may replace
   *  PATH, LANG or TMPDIR). Nothing of the server's environment. TMPDIR is the working directory
   *  itself: private to the attempt, removed with the job, and no further file to create per attempt
   *  (creating files is the dearest part of a short attempt on some file systems). */
  protected attemptEnv(spec: AttemptSpec, user: RunUser | undefined): Record<string, string> {
    return {
      PATH: BASE_PATH, HOME: user?.home ?? this.ownHome, LANG: BASE_LANG, TMPDIR: spec.cwd,
      ...spec.env,
    };
  }

  /** A command too long to be one argument of a process goes to `<key>.cmd` in the state dir (which
   *  only the server can list); the attempt reads it through a file descriptor. '' when it fits. */
  protected commandFile(spec: AttemptSpec): string {
    // (a UTF-16 unit is at most 3 UTF-8 bytes: most commands are decided without counting bytes)
    if (spec.command.length * 3 < MAX_ARG_STRLEN || Buffer.byteLength(spec.command) < MAX_ARG_STRLEN) return '';
    const file = this.commandPath(spec.key);
    fs.writeFileSync(file, spec.command);
    fs.chmodSync(file, 0o644); // whatever the server's umask: the attempt's user reads it
    this.longCommands.add(spec.key);
    return file;
  }

  private commandPath(key: string): string {
    return path.join(this.o.stateDir, `${key}.cmd`);
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

  /** Signal the attempt's process group and every process of its cgroup (a process that left the
   *  group with setsid still belongs to the attempt). */
  kill(handle: AttemptHandle, signal: NodeJS.Signals): void {
    const send = (pid: number) => {
      try {
        process.kill(pid, signal);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') this.warn({ err: e, key: handle.key }, 'kill failed');
      }
    };
    send(-handle.pid);
    const cg = this.isolation.cgroups;
    if (cg && handle.cgroup) for (const pid of attemptPids(cg, handle.cgroup)) send(pid);
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
    if (this.adopted.delete(handle.key)) {
      unlinkQuietly(this.pidPath(handle.key));
      unlinkQuietly(this.commandPath(handle.key));
      // its supervisor may have died before it could clean up
      if (this.isolation.cgroups && handle.cgroup) removeAttemptCgroups(this.isolation.cgroups, handle.cgroup);
    } else if (this.longCommands.delete(handle.key)) {
      unlinkQuietly(this.commandPath(handle.key));
    }
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
