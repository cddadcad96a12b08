// Local executor, fast variant: one small C process (native/openbatch-shim.c) per service process
// starts the attempts (from spawner threads, with clone(CLONE_VM | CLONE_VFORK) + exec, as posix_spawn
// does) — one process per attempt (`/bin/sh -c <command>` in its own session and process group), never
// a fork of the large Node process — waits for them and writes their
// exit statuses. It lives in its own session: when the service stops or dies it keeps supervising the
// attempts it started and exits after the last one; the next service process re-adopts them. The shim
// also sets each attempt up: its cgroups, its private mount namespace (its private mounts, the hidden
// paths), its user (see the C source), and measures what each used when it ends.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExitInfo } from '../types.ts';
import type { LocalHandle as AttemptHandle, AttemptSpec } from './attempt.ts';
import { LocalExecutorBase, type LocalExecutorOptions } from './base.ts';
import { checkMounts, encodeMounts } from './mounts.ts';
import { parseStatus, parseUsage } from './status.ts';

/** CFS period of attempt cgroups (the shim writes the quota per this period). */
const CFS_PERIOD_US = 100_000;

interface Pending {
  spec: AttemptSpec;
  resolve: (h: AttemptHandle) => void;
  reject: (e: Error) => void;
}

export class ShimExecutor extends LocalExecutorBase {
  private shim: ChildProcess | null = null;
  private readonly pending = new Map<string, Pending>();
  /** Started and not yet ended: handed to the adopter if the shim dies under us. */
  private readonly live = new Map<string, AttemptHandle>();
  private partial = '';
  private closed = false;

  /** Where an attempt that needs overlays for its mounts mounts a tmpfs of its own (in its mount
   *  namespace only) for their upper layers: an empty directory of the state dir, never written. */
  private readonly scratchDir: string;

  constructor(o: LocalExecutorOptions, private readonly shimPath: string) {
    super(o);
    this.scratchDir = path.join(o.stateDir, 'scratch');
    fs.mkdirSync(this.scratchDir, { recursive: true, mode: 0o700 });
  }

  /** The shim's arguments: what is the same for every attempt. */
  private shimArgs(): string[] {
    const args: string[] = [];
    // the shim keeps our priority; each attempt lowers its own before exec
    const nice = this.o.nice ?? 0;
    if (nice > 0) args.push('--nice', String(nice));
    const iso = this.isolation;
    const cg = iso.cgroups;
    for (const dir of cg?.parents ?? []) {
      const kinds = cg!.version === 2 ? ['v2'] : (['memory', 'cpu', 'pids', 'cpuacct'] as const).filter((k) => cg![k] === dir);
      args.push('--cgroup', `${kinds.join(',')}:${dir}`);
    }
    if (iso.cgroups && iso.pidsMax > 0) args.push('--pids-max', String(iso.pidsMax));
    for (const p of iso.hide) args.push('--hide', p);
    args.push('--scratch', this.scratchDir);
    return args;
  }

  private ensureShim(): ChildProcess {
    if (this.shim) return this.shim;
    // its own environment is nobody's business: attempts get exactly the one each request carries
    const child = spawn(this.shimPath, this.shimArgs(), { detached: true, stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: '/usr/bin:/bin' } });
    child.unref();
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.onData(d));
    child.stdin!.on('error', () => {}); // the shim died: handled on 'exit'
    child.on('error', (e) => this.warn({ err: e }, 'attempt shim failed'));
    child.on('exit', (code, signal) => this.onShimExit(child, code, signal));
    this.shim = child;
    return child;
  }

  /** The shim names an attempt's cgroup slot after its own pid (s<pid>-<n>): this shim's, while it runs,
   *  are reused by it and never removed from outside. */
  protected override supervisedHere(handle: AttemptHandle): boolean {
    const shim = this.shim;
    return shim !== null && shim.exitCode === null && shim.signalCode === null && handle.cgroup?.startsWith(`s${shim.pid}-`) === true;
  }

  async launchAttempt(spec: AttemptSpec): Promise<AttemptHandle> {
    if (this.pending.has(spec.key) || this.live.has(spec.key)) throw new Error(`attempt ${spec.key} is already running`);
    const user = this.userOf(spec);
    const env = Object.entries(this.attemptEnv(spec, user)).map(([k, v]) => `${k}=${v}`);
    const limits = this.isolation.cgroups ? spec.resources : undefined;
    const mounts = spec.mounts && spec.mounts.length > 0 ? encodeMounts(checkMounts(spec.mounts, this.isolation.hide)) : '';
    const cmdfile = this.commandFile(spec);
    const fields = [
      spec.key, spec.cwd, spec.stdoutPath, spec.stderrPath, this.statusPath(spec.key), this.pidPath(spec.key),
      cmdfile ? '' : spec.command, cmdfile,
      String(user?.uid ?? -1), String(user?.gid ?? -1), (user?.groups ?? []).join(','),
      String(limits ? Math.floor(limits.memoryBytes) : 0), String(limits ? Math.max(1000, Math.round(limits.cpus * CFS_PERIOD_US)) : 0),
      mounts,
    ];
    for (const f of [...fields, ...env]) {
      if (f.includes('\0')) throw new Error(`attempt ${spec.key}: NUL characters cannot be passed to a process`);
    }
    const record = `L\0${fields.join('\0')}\0${env.length}\0${env.map((e) => `${e}\0`).join('')}`;
    const shim = this.ensureShim();
    return new Promise<AttemptHandle>((resolve, reject) => {
      this.pending.set(spec.key, { spec, resolve, reject });
      // the launches of one scheduler tick go to the shim in one write
      const stdin = shim.stdin!;
      if (stdin.writableCorked === 0) {
        stdin.cork();
        process.nextTick(() => stdin.uncork());
      }
      stdin.write(record);
    });
  }

  private onData(d: string): void {
    const text = this.partial + d;
    const lines = text.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      const words = line.split(' ');
      const [kind, key, a, b, c] = words;
      if (key === undefined) continue;
      if (kind === 'S') {
        const p = this.pending.get(key);
        if (!p) continue;
        this.pending.delete(key);
        const handle: AttemptHandle = { executor: this.name, key, pid: Number(a), startTicks: b ?? '', statusPath: this.statusPath(key) };
        if (c !== undefined && c !== '-') handle.cgroup = c; // its slot (see the shim)
        this.live.set(key, handle);
        p.resolve(handle);
      } else if (kind === 'F') {
        const p = this.pending.get(key);
        if (!p) continue;
        this.pending.delete(key);
        const errno = Number(a);
        const name = Object.entries(os.constants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
        const step = words.slice(3).join(' ') || 'setup'; // "F <key> <errno> <step, maybe two words>"
        p.reject(new Error(`could not start the attempt: its ${step} failed (${name}; working directory ${p.spec.cwd})`));
      } else if (kind === 'E') {
        // "E <key> exit|signal <n>[ oom][ cpu=<s>][ mem=<bytes>]" (what it used: see the shim)
        this.live.delete(key);
        const rest = words.slice(4);
        const exit: ExitInfo = parseStatus(a, Number(b), rest.includes('oom'), parseUsage(rest));
        // the start and the end may arrive in one read: report the end only after launch() has resolved
        this.fire(key, exit); // held by launch() until its group has resolved
      }
    }
  }

  private onShimExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (this.shim === child) this.shim = null;
    if (this.closed) return;
    this.warn({ code, signal, running: this.live.size }, 'the attempt shim exited; watching its attempts and starting a new one');
    for (const p of this.pending.values()) p.reject(new Error('the attempt shim exited before starting the attempt'));
    this.pending.clear();
    for (const h of this.live.values()) this.adopter.watch(h);
    this.live.clear();
  }

  override async close(): Promise<void> {
    this.closed = true;
    const shim = this.shim;
    this.shim = null;
    if (shim) {
      // the shim keeps supervising what runs and exits after the last attempt; with none running it
      // exits at once, its cgroup slots removed: wait for that (briefly) so the caller may tidy up
      const exited = this.live.size === 0 && shim.exitCode === null && shim.signalCode === null
        ? new Promise<void>((r) => {
            shim.once('exit', () => r());
            setTimeout(r, 2000).unref();
          })
        : Promise.resolve();
      shim.stdin!.end();
      shim.stdout!.destroy();
      await exited;
    }
    await super.close();
  }
}
