// The Slurm executor: a launch group becomes one `sbatch --array` per attempt number (the job script
// of script.ts; files in the shared directory of files.ts), every attempt is followed by one poll loop
// (tracker.ts), stops of one turn go out as one scancel per kind, observe() re-adopts after a restart
// from the status files and one squeue (finding by key, through its job name and its script, an
// element whose launch was never recorded). Every Slurm command goes through SlurmCli. A server that
// runs as root submits each account's jobs as that account's user (sbatch --uid/--gid) and never as
// root. A group's seed directory (PACKAGE) is copied once into the shared directory, for its user,
// and each element copies it into its working directory before its command runs (script.ts).
// Instances with private mounts are refused (privateMounts() says why).
//
// Stops: `terminate`/`node-gone` with a grace send SIGTERM to the element's processes (scancel --full
// --signal=TERM; a pending element is cancelled at once) and, after graceMs, kill it; `timeout` (or a
// grace of 0) kills at once. A kill is `scancel --batch --signal=KILL` for an element that started
// (its processes die at once; a plain cancel would give them SIGTERM and Slurm's KillWait first), then
// a plain `scancel` of all (it ends the job; a signal to a pending element of an array would cancel the
// whole array). A killed element reports death by SIGKILL, one stopped before it started
// CancelledBeforeStart; what stop() asked is appended to the job's `stops` file, so a restarted
// executor words the end the same way.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { Logger } from '../../lib/logger.ts';
import type { RunUser } from '../local/run-as.ts';
import type {
  AttemptId, Capacity, Executor, Handle, LaunchGroup, LaunchInstance, LaunchResult, Observation, StopReason,
} from '../types.ts';
import { SlurmCommandError, SlurmUnavailable, type SlurmCli } from './cli.ts';
import { seedWorkDir } from '../local/seed.ts';
import { listStatus, makeJobDirs, parseStart, readQuietly, SlurmLayout, SlurmLogs, unlinkQuietly, writeShared } from './files.ts';
import { queryQueue, readMaxArraySize, type QueueView } from './queue.ts';
import { compressIndexes, envProblem, inArraySpec, jobScript, needsCommandFile, planArray, scriptHeader } from './script.ts';
import { handleOf, jobName, Tracker, type Element } from './tracker.ts';

export interface SlurmExecutorOptions {
  cli: SlurmCli;
  /** Seen at the same path by the server and every node. */
  sharedDir: string;
  /** The Slurm partition of a queue (undefined: no such queue). */
  partitionOf(queue: string): string | undefined;
  /** The queue of a group that names none (none: Slurm's default partition). */
  defaultQueue?: string;
  /** The user an account's jobs run as (a root server must have one). */
  userOf(account: string): RunUser | undefined;
  logger?: Logger;
  pollMs?: number;
  /** How long an element Slurm ended without an exit file is given for it to appear (shared file
   *  systems may show it late). Default 3 s. */
  settleMs?: number;
  /** Slurm's MaxArraySize (default: read from `scontrol show config` once). */
  maxArraySize?: number;
}

type SlurmHandle = { executor: 'slurm'; job: string; task: number };
type StopKind = 'term' | 'kill' | 'cancel';
const STOP_FLAGS: Record<StopKind, string[]> = { term: ['--full', '--signal=TERM'], kill: ['--batch', '--signal=KILL'], cancel: [] };

function asHandle(h: Handle | null): SlurmHandle | undefined {
  if (!h || h.executor !== 'slurm' || typeof h.job !== 'string' || typeof h.task !== 'number') return undefined;
  return h as unknown as SlurmHandle;
}

/** `<jobId>.<task>.<index>.<attempt>` read back (task names hold no dot; job ids may). */
export function parseKey(key: string): AttemptId | undefined {
  const m = /^(.+)\.([A-Za-z0-9_-]+)\.(\d+)\.(\d+)$/.exec(key);
  return m ? { jobId: m[1]!, taskName: m[2]!, index: Number(m[3]), attempt: Number(m[4]) } : undefined;
}

let uniq = 0;

/** The shared directory must be entered by the users jobs run as (its entries guard themselves: the
 *  top directories are 0711, each job's 0700 and its user's): add the search bits it lacks. */
function openForUsers(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const mode = fs.statSync(dir).mode & 0o7777;
  if ((mode & 0o111) !== 0o111) fs.chmodSync(dir, mode | 0o111);
}

/** Ids per scancel call (its command line stays far below the exec limits). */
const SCANCEL_IDS = 5000;

/** `<job>_<task>` ids as one `<job>_[ranges]` expression per array. */
function arrayExpressions(ids: Iterable<string>): string[] {
  const byJob = new Map<string, number[]>();
  for (const id of ids) {
    const [job, task] = id.split('_') as [string, string];
    const tasks = byJob.get(job);
    if (tasks) tasks.push(Number(task));
    else byJob.set(job, [Number(task)]);
  }
  return [...byJob].map(([job, tasks]) => (tasks.length === 1 ? `${job}_${tasks[0]}` : `${job}_[${compressIndexes(tasks)}]`));
}

export class SlurmExecutor implements Executor {
  readonly name = 'slurm';
  readonly logs: SlurmLogs;
  private readonly layout: SlurmLayout;
  private readonly tracker: Tracker;
  private listener: (events: Observation[]) => void = () => {};
  /** Keys whose end was told (or observe() answered), until release(). */
  private readonly ended = new Set<string>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  private readonly retries = new Set<NodeJS.Timeout>();
  /** Arrays whose sbatch Slurm did not answer, by script: the keys still to submit. */
  private readonly unsubmitted = new Map<string, Set<string>>();
  /** Stops of this turn: `<job>_<task>` → the element, per what was asked. */
  private batch: Record<'term' | 'kill', Map<string, Element>> | undefined;
  private flushing: Promise<void> | undefined;
  private maxArray: Promise<number> | undefined;
  private closed = false;
  private readonly root = process.getuid?.() === 0;
  private readonly ownHome = os.userInfo().homedir;

  constructor(private readonly o: SlurmExecutorOptions) {
    this.layout = new SlurmLayout(path.resolve(o.sharedDir));
    openForUsers(path.resolve(o.sharedDir));
    this.logs = new SlurmLogs(this.layout);
    const pollMs = o.pollMs ?? 1000;
    this.tracker = new Tracker({
      cli: o.cli, layout: this.layout, pollMs, settleMs: o.settleMs ?? 3000, logger: o.logger,
      emit: (events) => this.emit(events),
      resolve: async (els) => {
        const view = await queryQueue(o.cli, { names: [...new Set(els.map((e) => jobName(e.key)))] }, 0);
        for (const el of els) if (this.findInView(el, view)) el.announce = true;
        // Slurm answered and knows nothing of it: it was never submitted
        for (const el of els) {
          if (el.job !== '') continue;
          this.tracker.forget(el.key);
          this.emit([{ key: el.key, state: 'lost', reason: 'no trace of the attempt was found in Slurm or in its status files: it was never submitted' }]);
        }
      },
    });
    if (o.maxArraySize) this.maxArray = Promise.resolve(o.maxArraySize);
  }

  privateMounts(): string | undefined {
    return 'attempts on Slurm have no private mount namespace of their own yet (their job scripts run as the account\'s user on the cluster\'s nodes)';
  }

  capacity(): Capacity {
    return { kind: 'queue', name: 'slurm' };
  }

  onEvents(listener: (events: Observation[]) => void): void {
    this.listener = listener;
  }

  async launch(g: LaunchGroup, started: (r: LaunchResult) => void): Promise<void> {
    const tell = (r: LaunchResult) => {
      try {
        started(r);
      } catch (e) {
        this.o.logger?.error({ err: e, key: r.key }, 'slurm: the start listener failed');
      }
    };
    const fail = (is: readonly LaunchInstance[], error: string) => {
      for (const i of is) tell({ key: i.key, ok: false, error });
    };
    if (g.instances.some((i) => i.mounts && i.mounts.length > 0)) {
      const why = `the attempt cannot have private mounts: ${this.privateMounts()}`;
      fail(g.instances.filter((i) => i.mounts && i.mounts.length > 0), why);
      g = { ...g, instances: g.instances.filter((i) => !i.mounts || i.mounts.length === 0) };
    }
    if (g.instances.length === 0) return;
    let user: RunUser | undefined;
    if (this.root) {
      user = this.o.userOf(g.account);
      if (!user || user.uid === 0) {
        return fail(g.instances, `account ${g.account} has no unprivileged user to run its tasks as: a server running as root never submits Slurm jobs as root`);
      }
    }
    const queue = g.queue ?? this.o.defaultQueue;
    const partition = queue === undefined ? undefined : this.o.partitionOf(queue);
    if (queue !== undefined && partition === undefined) return fail(g.instances, `no Slurm partition serves the queue ${queue}`);
    const problem = envProblem(g.command, g.env);
    if (problem) return fail(g.instances, `the attempt cannot be started: ${problem}`);
    try {
      makeJobDirs(this.layout, g.jobId, user);
    } catch (e) {
      return fail(g.instances, `could not create the directories of the job in ${this.layout.sharedDir}: ${e instanceof Error ? e.message : String(e)}`);
    }
    let seedDir: string | undefined;
    if (g.seedDir !== undefined) {
      // one copy for the group, its user's, that each element copies into its working directory
      seedDir = path.join(this.layout.seedDir(g.jobId), `${g.taskName}.${Date.now().toString(36)}${(++uniq).toString(36)}`);
      try {
        await seedWorkDir(g.seedDir, seedDir, user);
      } catch (e) {
        return fail(g.instances, `could not copy the package ${g.seedDir} into ${this.layout.sharedDir}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.maxArray ??= readMaxArraySize(this.o.cli);
    const max = await this.maxArray;
    const byAttempt = new Map<number, LaunchInstance[]>();
    for (const i of g.instances) {
      const same = byAttempt.get(i.attempt);
      if (same) same.push(i);
      else byAttempt.set(i.attempt, [i]);
    }
    for (const [attempt, all] of byAttempt) {
      const sorted = [...all].sort((a, b) => a.index - b.index);
      // an array holds at most MaxArraySize elements
      for (let at = 0; at < sorted.length; at += max) {
        await this.submit(g, attempt, sorted.slice(at, at + max), partition, user, max, seedDir, tell, fail);
      }
    }
  }

  /** One sbatch --array for instances of one attempt number. */
  private async submit(
    g: LaunchGroup, attempt: number, is: LaunchInstance[], partition: string | undefined, user: RunUser | undefined, max: number,
    seedDir: string | undefined, tell: (r: LaunchResult) => void, fail: (is: readonly LaunchInstance[], error: string) => void,
  ): Promise<void> {
    const plan = planArray(is.map((i) => i.index), max);
    const dir = this.layout.scriptDir(g.jobId);
    const base = path.join(dir, `${g.taskName}.${attempt}.${Date.now().toString(36)}${(++uniq).toString(36)}`);
    const mapFile = plan.map ? `${base}.map` : undefined;
    const commandFile = needsCommandFile(g.command) ? `${base}.cmd` : undefined;
    const script = `${base}.sh`;
    try {
      if (mapFile) writeShared(mapFile, `${plan.map!.join('\n')}\n`, user);
      if (commandFile) writeShared(commandFile, g.command, user);
      writeShared(script, jobScript({
        jobId: g.jobId, taskName: g.taskName, attempt, arraySpec: plan.spec, command: g.command, env: g.env,
        home: user?.home ?? this.ownHome, statusDir: this.layout.statusDir(g.jobId),
        logTaskDir: this.layout.logDir(g.jobId, g.taskName), workTaskDir: path.join(this.layout.workRoot, g.jobId, g.taskName),
        mapFile, commandFile, seedDir,
      }), user);
    } catch (e) {
      return fail(is, `could not write the job script: ${e instanceof Error ? e.message : String(e)}`);
    }
    const throttle = g.limits.maxConcurrent > 0 ? `%${g.limits.maxConcurrent}` : '';
    const args = [
      '--parsable', `--array=${plan.spec}${throttle}`, `--job-name=ob.${g.jobId}.${g.taskName}`,
      ...(partition ? [`--partition=${partition}`] : []),
      // ALL of sbatch's own environment, which SlurmCli builds (PATH, LANG, SLURM_CONF; never the
      // server's), and the script builds the attempt's from nothing: NONE and NIL make slurmd load the
      // user's login environment for every element, which costs it 40-70% of its throughput here
      '--no-requeue', '--export=ALL', `--output=${base.replace(/%/g, '%%')}.out`, '--open-mode=append',
      `--chdir=${path.join(this.layout.workRoot, g.jobId)}`,
    ];
    if (g.limits.timeoutSec > 0) args.push(`--time=${Math.ceil(g.limits.timeoutSec / 60)}`);
    const r = g.resources;
    if (r && r.cpus > 0) args.push(`--cpus-per-task=${Math.max(1, Math.ceil(r.cpus))}`);
    if (r && r.memoryBytes > 0) args.push(`--mem=${Math.max(1, Math.ceil(r.memoryBytes / 2 ** 20))}M`);
    if (this.root && user) args.push(`--uid=${user.uid}`, `--gid=${user.gid}`);
    args.push(script);
    const where = partition ? `partition ${partition}` : 'the default partition';
    let job: string;
    try {
      job = await this.sbatch(args);
    } catch (e) {
      if (!(e instanceof SlurmUnavailable)) return fail(is, e instanceof Error ? e.message : String(e));
      // the controller does not answer: the instances are accepted and wait (SlurmUnavailable) while
      // the submission is tried again until it answers; they get their handle with their next event
      const held = new Set(is.map((i) => i.key));
      const detail = `Slurm is not answering (${e.message}); the submission to ${where} is tried again until it answers`;
      for (const i of is) tell({ key: i.key, ok: true, handle: handleOf({ job: '', task: -1 }), waiting: { reason: 'SlurmUnavailable', detail } });
      this.unsubmitted.set(base, held);
      this.o.logger?.warn({ err: e, jobId: g.jobId, taskName: g.taskName }, 'slurm: sbatch is not answered; the array is submitted again once Slurm answers');
      void this.resubmit(base, args, is, plan.map !== undefined, g.jobId, where);
      return;
    }
    this.tracked(g.jobId, job, is, plan.map !== undefined, where, (el) => tell({ key: el.key, ok: true, handle: handleOf(el), waiting: { reason: 'Queued', detail: `queued in Slurm (job array ${job}, ${where})` } }));
  }

  private async sbatch(args: string[]): Promise<string> {
    // a controller that does not answer soon makes the instances wait with that reason (resubmit)
    const out = await this.o.cli.run('sbatch', args, { retryForMs: 10_000 });
    const job = out.trim().split(';')[0] ?? '';
    if (!/^\d+$/.test(job)) throw new SlurmCommandError('sbatch', `unexpected answer ${JSON.stringify(out.trim())}`, 0);
    return job;
  }

  /** Follow the elements of a submitted array; `told` hears of each. */
  private tracked(jobId: string, job: string, is: LaunchInstance[], mapped: boolean, where: string, told: (el: Element) => void): void {
    const els: Element[] = [];
    for (const [n, i] of is.entries()) {
      const el: Element = { key: i.key, jobId, job, task: mapped ? n : i.index, where, started: false, reason: 'Queued' };
      els.push(el);
      told(el);
    }
    if (this.closed) return;
    for (const el of els) this.tracker.track(el);
  }

  /** Submit an array Slurm did not take (it did not answer) again, with backoff, until it answers;
   *  instances stopped meanwhile are left out (they end, never having run). A script that finds its
   *  start file does not run again, so an sbatch that went through unanswered costs nothing. */
  private async resubmit(base: string, args: string[], is: LaunchInstance[], mapped: boolean, jobId: string, where: string): Promise<void> {
    let delay = 2_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, delay).unref());
      if (this.closed) return;
      const held = this.unsubmitted.get(base)!;
      if (held.size === 0) {
        this.unsubmitted.delete(base);
        return;
      }
      try {
        const job = await this.sbatch(args);
        this.unsubmitted.delete(base);
        const events: Observation[] = [];
        this.tracked(jobId, job, is, mapped, where, (el) => {
          if (!held.has(el.key)) {
            el.stop = 'kill'; // stopped while the submission waited: cancel it in Slurm too
            this.queue('kill', el);
            return;
          }
          events.push({ key: el.key, state: 'waiting', handle: handleOf(el), wait: { reason: 'Queued', detail: `queued in Slurm (job array ${job}, ${where})` } });
        });
        this.emit(events);
        return;
      } catch (e) {
        if (!(e instanceof SlurmUnavailable)) {
          this.unsubmitted.delete(base);
          const why = e instanceof Error ? e.message : String(e);
          this.emit([...held].map((key) => ({ key, state: 'lost' as const, reason: `Slurm refused the array once it answered again: ${why}` })));
          return;
        }
        delay = Math.min(delay * 2, 15_000);
      }
    }
  }

  async observe(attempts: readonly { key: string; handle: Handle | null }[]): Promise<Observation[]> {
    const now = Date.now();
    const stops = new Map<string, Map<string, string>>();
    const stopsOf = (jobId: string) => {
      let m = stops.get(jobId);
      if (!m) {
        m = new Map();
        for (const line of (readQuietly(this.layout.stopFile(jobId)) ?? '').split('\n')) {
          const [k, what] = line.split(' ');
          if (k && what) m.set(k, what);
        }
        stops.set(jobId, m);
      }
      return m;
    };
    const els: (Element | undefined)[] = attempts.map(({ key, handle }) => {
      const id = parseKey(key);
      if (!id) return undefined;
      const h = asHandle(handle);
      const stop = stopsOf(id.jobId).get(key);
      const el: Element = {
        key, jobId: id.jobId, job: h?.job ?? '', task: h?.task ?? -1, where: 'its partition', started: false,
        ...(stop === 'kill' || stop === 'term' ? { stop } : {}),
      };
      if (!h) {
        // found by key: its start file names its element (confirmed by Slurm below), else its job
        // name and script do
        const s = parseStart(readQuietly(this.layout.statusFile(id.jobId, key, 'start')) ?? '');
        if (s) el.candidate = { job: s.job, task: s.task };
        el.announce = true;
      }
      return el;
    });
    let view: QueueView | undefined;
    const names = [...new Set(els.flatMap((e) => (e ? [jobName(e.key)] : [])))];
    if (names.length > 0) {
      try {
        view = await queryQueue(this.o.cli, { names }, 15_000);
      } catch (e) {
        this.o.logger?.warn({ err: e }, 'slurm: squeue failed while re-adopting attempts; answering from the status files');
      }
    }
    // read after Slurm's answer: an element it calls ended has written its exit file, if it ever will
    const jobs = new Set(els.flatMap((e) => (e ? [e.jobId] : [])));
    const files = new Map<string, Set<string>>();
    await Promise.all([...jobs].map(async (j) => files.set(j, await listStatus(this.layout.statusDir(j)))));
    return attempts.map(({ key }, n): Observation => {
      const el = els[n];
      if (!el) return { key, state: 'lost', reason: `${key} is not the key of an attempt` };
      if (el.candidate && view) {
        const c = view.elements.get(`${el.candidate.job}_${el.candidate.task}`);
        if (c && c.name === jobName(key)) {
          el.job = el.candidate.job;
          el.task = el.candidate.task;
        }
        el.candidate = undefined;
      }
      if (el.job === '' && view) this.findInView(el, view);
      if (el.job === '' && view) return { key, state: 'lost', reason: 'no trace of the attempt was found in Slurm or in its status files: it was never submitted' };
      if (el.job === '') {
        // Slurm does not answer: look again later (found by name, or lost once Slurm says so)
        el.reason = 'SlurmUnavailable';
        this.tracker.track(el);
        return { key, state: 'waiting', wait: { reason: 'SlurmUnavailable', detail: 'Slurm is not answering: the attempt is looked for again once it does' } };
      }
      const evs = this.tracker.step(el, files.get(el.jobId) ?? new Set(), view, now, true);
      const last = evs[evs.length - 1];
      const found = el.announce || evs.some((e) => 'handle' in e && e.handle) ? { handle: handleOf(el) } : {};
      el.announce = false;
      if (last?.state === 'exited' || last?.state === 'lost') {
        this.ended.add(key);
        return last.state === 'lost' ? last : { ...last, ...found };
      }
      this.tracker.track(el);
      if (last?.state === 'waiting') return { ...last, ...found };
      el.started = true;
      return { key, state: 'running', ...found, ...(last?.state === 'running' ? { node: last.node, since: last.since } : {}) };
    });
  }

  /** Finds in a view, by job name and script, the element of an attempt whose launch was never
   *  recorded (sets its job and task). */
  private findInView(el: Element, view: QueueView): boolean {
    const id = parseKey(el.key);
    if (!id) return false;
    const name = jobName(el.key);
    for (const rec of [...view.elements.values(), ...view.meta.values()]) {
      if (rec.name !== name) continue;
      const file = path.basename(rec.script);
      if (path.dirname(rec.script) !== this.layout.scriptDir(id.jobId) || file.split('.')[1] !== String(id.attempt)) continue;
      const head = scriptHeader(readQuietly(rec.script) ?? '');
      if (!head) continue;
      let task = -1;
      if (head.map) {
        const lines = (readQuietly(rec.script.replace(/\.sh$/, '.map')) ?? '').split('\n');
        task = lines.indexOf(String(id.index));
      } else if (inArraySpec(head.spec, id.index)) {
        task = id.index;
      }
      if (task < 0 || (rec.task !== undefined && rec.task !== task)) continue;
      el.job = rec.job;
      el.task = task;
      return true;
    }
    return false;
  }

  stop(key: string, handle: Handle, _why: StopReason, graceMs: number): void {
    if (this.ended.has(key)) return;
    for (const held of this.unsubmitted.values()) {
      if (!held.delete(key)) continue;
      // never submitted (Slurm did not answer yet): it ends here, never having run
      queueMicrotask(() => this.emit([{ key, state: 'exited', exit: { exitCode: null, signal: null, cause: { reason: 'CancelledBeforeStart', detail: 'stopped while its submission waited for Slurm to answer: it never ran' } } }]));
      return;
    }
    const id = parseKey(key);
    const h = asHandle(handle);
    let el = this.tracker.get(key);
    if (!el) {
      if (!id || !h) return;
      // not followed by this executor (never observed): stop it all the same
      el = { key, jobId: id.jobId, job: h.job, task: h.task, where: '', started: false };
    }
    if (el.job === '') return; // not found in Slurm yet
    if (graceMs <= 0) return this.ask(el, 'kill');
    if (el.stop) return; // being stopped already
    this.ask(el, 'term');
    const stopping = el;
    const t = setTimeout(() => {
      this.graceTimers.delete(key);
      if (!this.ended.has(key) && !this.closed) this.ask(this.tracker.get(key) ?? stopping, 'kill');
    }, graceMs);
    t.unref();
    this.graceTimers.set(key, t);
  }

  /** What stop() asks goes out with the other stops of this turn. */
  private ask(el: Element, stop: 'term' | 'kill'): void {
    if (el.stop === 'kill') return;
    el.stop = stop;
    this.queue(stop, el);
  }

  private queue(kind: 'term' | 'kill', el: Element): void {
    if (!this.batch) {
      this.batch = { term: new Map(), kill: new Map() };
      const run = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
      this.flushing = (this.flushing ?? Promise.resolve()).then(() => run);
    }
    this.batch[kind].set(`${el.job}_${el.task}`, el);
  }

  /** The stops of one turn: what was asked is recorded (one append per job), which of them started
   *  is read (one readdir per job), then one scancel per kind: TERM to the started ones of a graceful
   *  stop, KILL to the started ones of a kill, a cancel of all others. */
  private async flush(): Promise<void> {
    const b = this.batch;
    this.batch = undefined;
    if (!b) return;
    const all = new Map([...b.term, ...b.kill]);
    const byJob = new Map<string, Element[]>();
    for (const el of all.values()) {
      const same = byJob.get(el.jobId);
      if (same) same.push(el);
      else byJob.set(el.jobId, [el]);
    }
    await Promise.all([...byJob].map(async ([jobId, els]) => {
      try {
        fs.appendFileSync(this.layout.stopFile(jobId), els.map((e) => `${e.key} ${e.stop}\n`).join(''));
      } catch (e) {
        this.o.logger?.warn({ err: e, jobId }, 'slurm: could not record the stops');
      }
      if (els.every((e) => e.started)) return;
      // a start file since the last poll: it runs (a cancel would give it SIGTERM and KillWait first)
      const names = await listStatus(this.layout.statusDir(jobId));
      for (const e of els) if (!e.started && names.has(`${e.key}.start`)) e.started = true;
    }));
    const calls: [StopKind, string[]][] = [
      ['term', [...b.term].filter(([id, e]) => e.started && !b.kill.has(id)).map(([id]) => id)],
      ['kill', [...b.kill].filter(([, e]) => e.started).map(([id]) => id)],
      // a cancel names each array's elements as one expression (`<job>_[1-5,9]`); a signal names each
      // element (Slurm 22.05 does not signal every element of such an expression)
      ['cancel', arrayExpressions([...all].filter(([id, e]) => b.kill.has(id) || !e.started).map(([id]) => id))],
    ];
    let unanswered = false;
    for (const [kind, ids] of calls) {
      for (let at = 0; at < ids.length; at += SCANCEL_IDS) {
        if (!(await this.scancel(STOP_FLAGS[kind], ids.slice(at, at + SCANCEL_IDS)))) unanswered = true;
      }
    }
    if (unanswered) this.retryLater([...all.values()]);
  }

  /** Stops Slurm did not take (it does not answer) are sent again until it does or they ended. */
  private retryLater(els: Element[]): void {
    const t = setTimeout(() => {
      this.retries.delete(t);
      if (this.closed) return;
      for (const el of els) if (!this.ended.has(el.key) && el.stop) this.queue(el.stop, el);
    }, 5_000);
    t.unref();
    this.retries.add(t);
  }

  /** false: Slurm did not answer (the stop has to be sent again). */
  private async scancel(flags: string[], ids: string[]): Promise<boolean> {
    try {
      await this.o.cli.run('scancel', [...flags, ...ids], { retryForMs: 10_000 });
    } catch (e) {
      if (e instanceof SlurmUnavailable) {
        this.o.logger?.warn({ err: e, ids: ids.length }, 'slurm: scancel is not answered; sending it again shortly');
        return false;
      }
      // ended elements make scancel complain (the others are stopped all the same): harmless
      const msg = e instanceof Error ? e.message : String(e);
      if (e instanceof SlurmCommandError && /already completing or completed|invalid job id/i.test(e.stderr)) this.o.logger?.debug({ ids }, `slurm: ${msg}`);
      else this.o.logger?.warn({ err: e, ids }, 'slurm: scancel failed');
    }
    return true;
  }

  release(key: string, _handle: Handle): void {
    const id = parseKey(key);
    if (id) for (const kind of ['start', 'exit'] as const) unlinkQuietly(this.layout.statusFile(id.jobId, key, kind));
    this.ended.delete(key);
    this.tracker.forget(key);
    clearTimeout(this.graceTimers.get(key));
    this.graceTimers.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of [...this.graceTimers.values(), ...this.retries]) clearTimeout(t);
    this.graceTimers.clear();
    this.retries.clear();
    await this.flushing; // stops already asked go out
    await this.tracker.close();
  }

  private emit(events: Observation[]): void {
    if (this.closed || events.length === 0) return;
    for (const ev of events) {
      if (ev.state === 'exited' || ev.state === 'lost') {
        this.ended.add(ev.key);
        clearTimeout(this.graceTimers.get(ev.key));
        this.graceTimers.delete(ev.key);
      }
    }
    try {
      this.listener(events);
    } catch (e) {
      this.o.logger?.error({ err: e }, 'slurm: the event listener failed');
    }
  }
}

