// What both local launchers share, and the executor contract on top of them: a group launch becomes
// one attempt per instance (LocalLayout says where its files go), ends are reported exactly once and
// in batches, stops escalate SIGTERM → SIGKILL over the whole attempt (process group and cgroup),
// observe() re-adopts after a restart, release() forgets status files once recorded, usage() reads
// cgroups or /proc (an end carries what its supervisor measured, and how full the disk is); and what
// an attempt gets: its built environment, its user, its command (inline or through a file), its
// private mounts (refused where privateMounts() names a reason) and the copy of its group's seed
// directory in its working directory (seed.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {
  Capacity, Executor, ExitInfo, Handle, LaunchGroup, LaunchResult, Observation, StopReason, Usage,
} from '../types.ts';
import { MAX_ARG_STRLEN } from '../../lib/exec-limits.ts';
import { groupUsage } from '../../lib/proc-stats.ts';
import { Adopter } from './adoption.ts';
import type { AdoptResult, AttemptSpec, LocalHandle as AttemptHandle } from './attempt.ts';
import { attemptPids, attemptUsage, removeAttemptCgroups, type CgroupLayout } from './cgroups.ts';
import { LocalLayout, LocalLogs } from './layout.ts';
import { stillSupervised } from './status.ts';
import type { RunUser } from './run-as.ts';
import { seedWorkDir } from './seed.ts';

/** How attempts are kept apart from the server and from each other (see isolation.ts). */
export interface LocalIsolation {
  /** The user of each account's attempts; null: every attempt runs as the server's own user. */
  users: Map<string, RunUser> | null;
  /** Hidden from every attempt by its private mount namespace (empty: no namespace). */
  hide: string[];
  /** Each attempt can have a private mount namespace (the server is root and the launcher's probe
   *  succeeded at start): its private mounts need one. Default: whether `hide` names paths. */
  namespaces?: boolean;
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
  /** Where attempts' logs and working directories go (default: the parent of stateDir, i.e. the data dir). */
  layout?: LocalLayout;
  /** Attempts run at once (the capacity the executor declares; default: the host's CPUs). */
  slots?: number;
  /** The replica whose host runs these attempts (recorded in each handle). A handle of another replica
   *  names processes on that replica's host: observed as lost to the infrastructure (they run again). */
  owner?: string;
}

/** The documented base of every attempt's environment; the attempt's own variables come on top. */
export const BASE_PATH = '/usr/local/bin:/usr/bin:/bin';
export const BASE_LANG = 'C.UTF-8';

export abstract class LocalExecutorBase implements Executor {
  readonly name = 'local';
  readonly logs: LocalLogs;
  private listener: (events: Observation[]) => void = () => {};
  private readonly ended = new Set<string>();
  /** Keys of groups whose launch() has not resolved yet: their ends wait (the contract). */
  private readonly launching = new Set<string>();
  private readonly held = new Map<string, Observation>();
  private queued: Observation[] = [];
  /** SIGKILLs that follow a stop's SIGTERM. */
  private readonly stopTimers = new Map<string, NodeJS.Timeout>();
  /** Tasks whose log directory exists (bounded: a miss only costs a mkdir). */
  private readonly logDirs = new Set<string>();
  /** Attempts handed over by adopt(): forget() also removes their pid file and cgroups. */
  private readonly adopted = new Set<string>();
  protected readonly adopter: Adopter;
  protected readonly isolation: LocalIsolation;
  /** Attempts launched with a command file (removed by forget). */
  private readonly longCommands = new Set<string>();
  private readonly ownHome = os.userInfo().homedir;
  /** close() was called: nothing more is reported (the next service process observes what ends). */
  private shutDown = false;

  constructor(protected readonly o: LocalExecutorOptions) {
    fs.mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    this.isolation = o.isolation ?? { users: null, hide: [], cgroups: null, pidsMax: 0 };
    this.adopter = new Adopter(o.stateDir, (k, e) => this.fire(k, e), o.sweepMs ?? 2000, (obj, msg) => this.warn(obj, msg));
    this.logs = new LocalLogs(o.layout ?? new LocalLayout(path.dirname(path.resolve(o.stateDir))));
  }

  /** The launcher leaves the pid file beside the status file (the shim renames it into the status). */
  protected readonly keepsPidFile: boolean = false;

  /** Start one attempt. Resolves once its process exists. */
  abstract launchAttempt(spec: AttemptSpec): Promise<AttemptHandle>;

  /** Why attempts cannot have private mounts: they have no mount namespace of their own (a launcher
   *  that cannot make mounts at all overrides this with its own reason). */
  privateMounts(): string | undefined {
    if (this.isolation.namespaces ?? this.isolation.hide.length > 0) return undefined;
    return process.getuid?.() === 0
      ? 'attempts cannot have a private mount namespace on this machine (the server said why as it started)'
      : 'the server does not run as root: attempts cannot have a private mount namespace';
  }

  capacity(): Capacity {
    return { kind: 'slots', slots: this.o.slots ?? os.availableParallelism() };
  }

  async launch(g: LaunchGroup, started: (r: LaunchResult) => void): Promise<void> {
    const layout = this.logs.layout;
    const dirKey = `${g.jobId}/${g.taskName}`;
    if (!this.logDirs.has(dirKey)) {
      try {
        fs.mkdirSync(layout.logDir(g.jobId, g.taskName), { recursive: true });
      } catch (e) {
        // no instance can start without its logs: each is told so (launch() itself does not fail)
        const error = `could not create the log directory of the task: ${e instanceof Error ? e.message : String(e)}`;
        for (const i of g.instances) started({ key: i.key, ok: false, error });
        return;
      }
      if (this.logDirs.size >= 10_000) this.logDirs.clear();
      this.logDirs.add(dirKey);
    }
    for (const i of g.instances) this.launching.add(i.key);
    await Promise.all(g.instances.map(async (i) => {
      const id = { jobId: g.jobId, taskName: g.taskName, index: i.index, attempt: i.attempt };
      let r: LaunchResult;
      try {
        const spec: AttemptSpec = {
          key: i.key, command: g.command, env: { ...g.env, BATCH_TASK_INSTANCE_INDEX: String(i.index) }, account: g.account,
          resources: i.resources ?? g.resources, cwd: layout.workDir(id),
          stdoutPath: layout.logFile(id, 'stdout'), stderrPath: layout.logFile(id, 'stderr'),
        };
        if (i.mounts && i.mounts.length > 0) {
          const why = this.privateMounts();
          if (why) throw new Error(`the attempt cannot have private mounts: ${why}`);
          spec.mounts = i.mounts;
        }
        if (g.seedDir !== undefined) await this.seed(g.seedDir, spec);
        const handle = await this.launchAttempt(spec);
        if (this.o.owner !== undefined) handle.owner = this.o.owner;
        r = { key: i.key, ok: true, handle: handle as unknown as Handle };
      } catch (e) {
        r = { key: i.key, ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      try {
        started(r);
      } finally {
        // what ended meanwhile is reported now that the caller has its handle
        this.launching.delete(i.key);
        const ev = this.held.get(i.key);
        if (ev) {
          this.held.delete(i.key);
          this.enqueue(ev);
        }
      }
    }));
  }

  onEvents(listener: (events: Observation[]) => void): void {
    this.listener = listener;
  }

  /** The seed directory's contents copied into the attempt's fresh working directory, its user's (the
   *  launcher then finds the directory made). */
  private async seed(seedDir: string, spec: AttemptSpec): Promise<void> {
    const user = this.userOf(spec);
    try {
      await seedWorkDir(seedDir, spec.cwd, user);
    } catch (e) {
      throw new Error(`could not copy the package ${seedDir} into the working directory: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async observe(attempts: readonly { key: string; handle: Handle | null }[]): Promise<Observation[]> {
    return attempts.map(({ key, handle }) => {
      const found = handle ? undefined : this.recover(key);
      const h = (handle as unknown as AttemptHandle | null) ?? found;
      if (!h) return { key, state: 'lost', reason: 'no trace of the attempt was found: it never started' };
      if (h.owner !== undefined && h.owner !== this.o.owner) {
        return {
          key, state: 'lost', infrastructure: true,
          reason: `it ran on the host of replica ${h.owner}, which no longer leads: its processes are lost with that replica`,
        };
      }
      const r = this.adopt(h);
      // ended already: a stop() must not signal its pid, which may belong to another process by now
      if (r.kind !== 'running') this.ended.add(key);
      const extra = found ? { handle: found as unknown as Handle } : {};
      if (r.kind === 'running') return { key, state: 'running', ...extra };
      if (r.kind === 'exited') return { key, state: 'exited', exit: r.exit, ...extra };
      return { key, state: 'lost', reason: 'neither its process nor a recorded exit status was found' };
    });
  }

  stop(key: string, handle: Handle, _why: StopReason, graceMs: number): void {
    const h = handle as unknown as AttemptHandle;
    if (this.ended.has(key)) return;
    if (graceMs <= 0) {
      this.signal(h, 'SIGKILL');
      return;
    }
    if (this.stopTimers.has(key)) return; // being stopped already
    this.signal(h, 'SIGTERM');
    const t = setTimeout(() => {
      this.stopTimers.delete(key);
      if (!this.ended.has(key)) this.signal(h, 'SIGKILL');
    }, graceMs);
    t.unref();
    this.stopTimers.set(key, t);
  }

  release(_key: string, handle: Handle): void {
    this.forget(handle as unknown as AttemptHandle);
  }

  async usage(attempts: readonly { key: string; handle: Handle }[]): Promise<Map<string, Usage>> {
    const hs = attempts.map((a) => ({ key: a.key, h: a.handle as unknown as AttemptHandle }));
    const groups = groupUsage(new Set(hs.map((x) => x.h.pid)));
    const cg = this.isolation.cgroups;
    const disk = this.diskPercent(true);
    const out = new Map<string, Usage>();
    for (const { key, h } of hs) {
      const g = groups.get(h.pid);
      const c = cg && h.cgroup ? attemptUsage(cg, h.cgroup) : undefined;
      if (!g && !c) continue;
      out.set(key, {
        cpuSeconds: c?.cpuSeconds ?? g?.cpuSeconds ?? 0, memoryBytes: c?.memoryBytes ?? g?.rssBytes ?? 0,
        ageSeconds: g?.ageSeconds, diskPercent: disk,
      });
    }
    return out;
  }

  private disk: { at: number; percent: number | undefined } = { at: -Infinity, percent: undefined };

  /** How full the file system of the working directories is (0-100); undefined while no attempt has
   *  made its working directory. Read at most once a second unless `fresh` (ends ask for it often). */
  private diskPercent(fresh: boolean): number | undefined {
    const now = Date.now();
    if (!fresh && now - this.disk.at < 1000) return this.disk.percent;
    let percent: number | undefined;
    try {
      const s = fs.statfsSync(this.logs.layout.workRoot);
      percent = s.blocks > 0 ? ((s.blocks - s.bfree) / s.blocks) * 100 : 0;
    } catch {
      percent = undefined; // no attempt has made its working directory yet
    }
    this.disk = { at: now, percent };
    return percent;
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
  signal(handle: AttemptHandle, signal: NodeJS.Signals): void {
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

  /** Take back one attempt launched by an earlier service process (observe() for many). */
  adopt(handle: AttemptHandle): AdoptResult {
    this.adopted.add(handle.key);
    return this.adopter.adopt(handle);
  }

  /** The attempt's cgroups belong to a supervisor of this process that still runs (the launcher's to say). */
  protected supervisedHere(_handle: AttemptHandle): boolean {
    return false;
  }

  /** The caller has recorded the attempt's end: its status file is no longer needed. */
  forget(handle: AttemptHandle): void {
    // The shim's pid file became the status file when the attempt ended; an adopted attempt may have
    // been started by an earlier version that kept both. Unlinked in place: one short metadata call,
    // dearer when handed to the thread pool on a busy machine.
    unlinkQuietly(handle.statusPath);
    if (this.keepsPidFile) unlinkQuietly(this.pidPath(handle.key));
    if (this.adopted.delete(handle.key)) {
      unlinkQuietly(this.pidPath(handle.key));
      unlinkQuietly(this.commandPath(handle.key));
      // its supervisor may have died before it could clean up (not when it is this process's own, alive:
      // a scheduler of this process that took the lease again adopted it; the supervisor reuses its cgroups)
      if (this.isolation.cgroups && handle.cgroup && !this.supervisedHere(handle)) removeAttemptCgroups(this.isolation.cgroups, handle.cgroup);
    } else if (this.longCommands.delete(handle.key)) {
      unlinkQuietly(this.commandPath(handle.key));
    }
    this.ended.delete(handle.key);
  }

  /** Another replica leads and has run this host's attempts again: every attempt whose supervisor still
   *  lives in the state directory is killed (its files go; what it wrote stays in its working directory). */
  async abandonAll(): Promise<number> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.o.stateDir);
    } catch {
      return 0;
    }
    let n = 0;
    for (const name of names) {
      if (!name.endsWith('.pid')) continue;
      const key = name.slice(0, -'.pid'.length);
      const h = this.recover(key);
      if (!h || !stillSupervised(h.pid, h.startTicks)) continue;
      this.signal(h, 'SIGKILL');
      n++;
      this.warn({ key }, 'stopped an attempt another replica has run again');
    }
    return n;
  }

  async close(): Promise<void> {
    this.shutDown = true;
    this.adopter.close();
    for (const t of this.stopTimers.values()) clearTimeout(t);
    this.stopTimers.clear();
  }

  /** An attempt ended: reported once, with the others that end in the same turn. */
  protected fire(key: string, exit: ExitInfo): void {
    if (this.ended.has(key) || this.shutDown) return;
    this.ended.add(key);
    const t = this.stopTimers.get(key);
    if (t) {
      clearTimeout(t);
      this.stopTimers.delete(key);
    }
    // what it used, measured by its supervisor as it ended, gets the state of its file system
    if (exit.usage && exit.usage.diskPercent === undefined) {
      const disk = this.diskPercent(false);
      if (disk !== undefined) exit.usage.diskPercent = disk;
    }
    const ev: Observation = { key, state: 'exited', exit };
    if (this.launching.has(key)) this.held.set(key, ev);
    else this.enqueue(ev);
  }

  private enqueue(ev: Observation): void {
    this.queued.push(ev);
    if (this.queued.length > 1) return;
    setImmediate(() => {
      const batch = this.queued;
      this.queued = [];
      if (this.shutDown) return;
      try {
        this.listener(batch);
      } catch (e) {
        this.warn({ err: e }, 'exit listener failed');
      }
    });
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
