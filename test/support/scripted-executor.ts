// An engine whose attempts are driven by the test: a real implementation of the Executor contract
// (src/executors/types.ts) with no processes and no time of its own. It records every launched group,
// lets the test decide how each instance starts (at launch, or later with start()), and how and when
// each ends (exit(), lose()), and delivers the ends in batches (deliver()), as an engine that polls
// would. stop() calls are recorded; the test then ends the attempt as a signal would. observe() answers
// from a script (re-adoption after a restart). Logs live in memory buffers.
//
// The contract is enforced, not assumed: an end can only be queued for an attempt that has started
// (or that observe() found running), and ends are only delivered while a listener is set and the
// executor is open.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  attemptKey,
  type AttemptId, type AttemptLogs, type Capacity, type Executor, type ExitInfo, type Handle, type LaunchGroup,
  type LaunchInstance, type LaunchResult, type Observation, type StopReason, type Stream, type Usage, type WaitInfo,
} from '../../src/executors/types.ts';

/** How a launched instance starts: ok (with this handle, or a default one naming its key), a
 *  failure, or 'hold' (the test answers later with start()). */
export type StartDecision = { ok: true; handle?: Handle; waiting?: WaitInfo } | { ok: false; error: string } | 'hold';

/** What observe() says of an attempt of an earlier service process. */
export type ObserveAnswer =
  | { state: 'waiting'; wait: WaitInfo; handle?: Handle }
  | { state: 'running'; handle?: Handle; node?: string; since?: number }
  | { state: 'exited'; exit: ExitInfo; handle?: Handle }
  | { state: 'lost'; reason: string; infrastructure?: boolean };

export interface ScriptedOptions {
  name?: string;
  /** Local slots (default 4), or a queue that takes everything. */
  capacity?: { slots: number } | { queue: string };
  /** Decided at launch for each instance; default: it starts. */
  onLaunch?: (inst: LaunchInstance, group: LaunchGroup) => StartDecision;
  /** observe()'s answer for each attempt; default: lost. */
  observe?: (a: { key: string; handle: Handle | null }) => ObserveAnswer;
}

export interface StopCall {
  key: string;
  handle: Handle;
  why: StopReason;
  graceMs: number;
}

/** `queued`: accepted into the engine's queue (a queue executor), not running yet. */
type Phase = 'starting' | 'queued' | 'running' | 'ending' | 'ended' | 'start-failed';

interface Attempt {
  key: string;
  phase: Phase;
  handle: Handle | null;
  group: LaunchGroup | null;
  inst: LaunchInstance | null;
  /** The launch's started callback, until this instance is answered. */
  answer: ((r: LaunchResult) => void) | null;
}

export class ScriptedExecutor implements Executor {
  readonly name: string;
  /** Every group launch() was given, in order (copies: what the scheduler passed). */
  readonly launches: LaunchGroup[] = [];
  readonly stops: StopCall[] = [];
  readonly releases: { key: string; handle: Handle }[] = [];
  /** The arguments of every observe() call. */
  readonly observeCalls: { key: string; handle: Handle | null }[][] = [];
  /** Every batch delivered to the listener. */
  readonly delivered: Observation[][] = [];
  readonly logs: ScriptedLogs;
  /** Counters usage() answers for running attempts (by key). */
  readonly usageOf = new Map<string, Usage>();
  /** When set, launch() records the group and rejects with this error without answering. */
  rejectLaunches: string | null = null;
  closed = false;

  private readonly cap: Capacity;
  private readonly onLaunch: (inst: LaunchInstance, group: LaunchGroup) => StartDecision;
  private readonly script: (a: { key: string; handle: Handle | null }) => ObserveAnswer;
  private listener: ((events: Observation[]) => void) | null = null;
  private readonly attempts = new Map<string, Attempt>();
  private queued: Observation[] = [];
  private readonly pendingLaunches = new Map<LaunchGroup, { left: Set<string>; done: () => void }>();
  /** Most attempts of one task live at once (launched, not yet ended), by `jobId.taskName`. */
  private readonly live = new Map<string, number>();
  readonly highWater = new Map<string, number>();
  private seq = 0;

  constructor(o: ScriptedOptions = {}) {
    this.name = o.name ?? 'scripted';
    const c = o.capacity ?? { slots: 4 };
    this.cap = 'slots' in c ? { kind: 'slots', slots: c.slots } : { kind: 'queue', name: c.queue };
    this.onLaunch = o.onLaunch ?? (() => ({ ok: true }));
    this.script = o.observe ?? (() => ({ state: 'lost', reason: 'the scripted executor was not told of it' }));
    this.logs = new ScriptedLogs();
  }

  // ------------------------------------------------------------------ the contract

  privateMounts(): string | undefined {
    return 'the scripted executor starts no processes';
  }

  capacity(): Capacity {
    return this.cap;
  }

  launch(group: LaunchGroup, started: (r: LaunchResult) => void): Promise<void> {
    if (this.closed) return Promise.reject(new Error('scripted executor: launch after close'));
    const g = structuredClone(group);
    this.launches.push(g);
    if (this.rejectLaunches !== null) return Promise.reject(new Error(this.rejectLaunches));
    return new Promise<void>((resolve) => {
      const left = new Set(g.instances.map((i) => i.key));
      const entry = { left, done: resolve };
      this.pendingLaunches.set(g, entry);
      for (const inst of g.instances) {
        if (this.attempts.has(inst.key)) throw new Error(`scripted executor: attempt ${inst.key} launched twice`);
        const a: Attempt = { key: inst.key, phase: 'starting', handle: null, group: g, inst, answer: started };
        this.attempts.set(inst.key, a);
        this.bumpLive(g, +1);
      }
      for (const inst of g.instances) {
        const d = this.onLaunch(inst, g);
        if (d !== 'hold') this.answer(inst.key, d);
      }
    });
  }

  onEvents(listener: (events: Observation[]) => void): void {
    this.listener = listener;
  }

  async observe(list: readonly { key: string; handle: Handle | null }[]): Promise<Observation[]> {
    this.observeCalls.push(list.map((a) => ({ key: a.key, handle: a.handle })));
    return list.map((a): Observation => {
      const ans = this.script(a);
      if (ans.state === 'lost') return { key: a.key, state: 'lost', reason: ans.reason, ...(ans.infrastructure ? { infrastructure: true } : {}) };
      const handle = ans.handle ?? a.handle;
      // a running one is watched from now on: its end may be queued like a launched one's
      if (ans.state === 'running' || ans.state === 'waiting') {
        this.attempts.set(a.key, { key: a.key, phase: ans.state === 'running' ? 'running' : 'queued', handle, group: null, inst: null, answer: null });
      }
      return ans.handle ? { key: a.key, ...ans, handle: ans.handle } : { key: a.key, ...ans };
    });
  }

  stop(key: string, handle: Handle, why: StopReason, graceMs: number): void {
    this.stops.push({ key, handle: structuredClone(handle), why, graceMs });
  }

  release(key: string, handle: Handle): void {
    this.releases.push({ key, handle: structuredClone(handle) });
  }

  async usage(list: readonly { key: string; handle: Handle }[]): Promise<Map<string, Usage>> {
    const out = new Map<string, Usage>();
    for (const a of list) {
      const u = this.usageOf.get(a.key);
      if (u && this.attempts.get(a.key)?.phase === 'running') out.set(a.key, u);
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ------------------------------------------------------------------ what the test does

  /** Answer an instance whose start was held. */
  start(key: string, d: { ok: true; handle?: Handle; waiting?: WaitInfo } | { ok: false; error: string } = { ok: true }): void {
    const a = this.attempts.get(key);
    if (!a || a.phase !== 'starting' || !a.answer) throw new Error(`scripted executor: ${key} is not waiting for its start`);
    this.answer(key, d);
  }

  /** Queue the end of a running attempt, or of one waiting in the queue (delivered by deliver()). */
  exit(key: string, exit: Partial<ExitInfo> = {}): void {
    const a = this.mustRun(key, true);
    a.phase = 'ending';
    this.queued.push({
      key, state: 'exited',
      exit: { exitCode: exit.exitCode ?? null, signal: exit.signal ?? null, ...(exit.oom ? { oom: true } : {}), ...(exit.cause ? { cause: exit.cause } : {}) },
    });
  }

  /** Queue that a running attempt was lost (its node vanished, its status cannot be found). */
  lose(key: string, reason: string, infrastructure = false): void {
    const a = this.mustRun(key, true);
    a.phase = 'ending';
    this.queued.push({ key, state: 'lost', reason, ...(infrastructure ? { infrastructure: true } : {}) });
  }

  /** Queue that an attempt waiting in the queue runs now (on `node`, since `since`). */
  run(key: string, node?: string, since?: number): void {
    const a = this.attempts.get(key);
    if (!a || a.phase !== 'queued') throw new Error(`scripted executor: ${key} does not wait in the queue (${a?.phase ?? 'unknown'})`);
    a.phase = 'running';
    this.queued.push({ key, state: 'running', ...(node !== undefined ? { node } : {}), ...(since !== undefined ? { since } : {}) });
  }

  /** Queue a new reason for an attempt waiting in the queue. */
  wait(key: string, wait: WaitInfo): void {
    const a = this.attempts.get(key);
    if (!a || a.phase !== 'queued') throw new Error(`scripted executor: ${key} does not wait in the queue (${a?.phase ?? 'unknown'})`);
    this.queued.push({ key, state: 'waiting', wait });
  }

  /** Deliver every queued end as one batch; returns how many were delivered. */
  deliver(): number {
    if (this.queued.length === 0) return 0;
    if (this.closed) throw new Error('scripted executor: closed, it delivers nothing');
    if (!this.listener) throw new Error('scripted executor: no listener of events');
    const batch = this.queued;
    this.queued = [];
    for (const ev of batch) {
      if (ev.state === 'running' || ev.state === 'waiting') continue;
      const a = this.attempts.get(ev.key)!;
      a.phase = 'ended';
      if (a.group) this.bumpLive(a.group, -1);
    }
    this.delivered.push(batch);
    this.listener(batch);
    return batch.length;
  }

  /** Keys of attempts that run now (started or observed running, end not queued), in start order. */
  running(): string[] {
    return [...this.attempts.values()].filter((a) => a.phase === 'running').map((a) => a.key);
  }

  /** Keys of launched instances whose start is held. */
  held(): string[] {
    return [...this.attempts.values()].filter((a) => a.phase === 'starting').map((a) => a.key);
  }

  /** Every instance launched, with its group, in launch order. */
  instances(): { group: LaunchGroup; inst: LaunchInstance }[] {
    return this.launches.flatMap((group) => group.instances.map((inst) => ({ group, inst })));
  }

  /** Launched instance keys, in launch order. */
  launchedKeys(): string[] {
    return this.instances().map((x) => x.inst.key);
  }

  /** The handle an attempt started (or was observed) with. */
  handleOf(key: string): Handle | null {
    return this.attempts.get(key)?.handle ?? null;
  }

  stopsOf(key: string): StopCall[] {
    return this.stops.filter((s) => s.key === key);
  }

  /** Most attempts of a task that were launched and not ended at the same time. */
  maxLive(jobId: string, taskName: string): number {
    return this.highWater.get(`${jobId}.${taskName}`) ?? 0;
  }

  // ------------------------------------------------------------------ inside

  private answer(key: string, d: { ok: true; handle?: Handle; waiting?: WaitInfo } | { ok: false; error: string }): void {
    const a = this.attempts.get(key)!;
    const cb = a.answer!;
    a.answer = null;
    if (d.ok) {
      a.phase = d.waiting ? 'queued' : 'running';
      a.handle = d.handle ?? { executor: this.name, key, pid: 1000 + this.seq++ };
      cb(d.waiting ? { key, ok: true, handle: a.handle, waiting: d.waiting } : { key, ok: true, handle: a.handle });
    } else {
      a.phase = 'start-failed';
      this.bumpLive(a.group!, -1);
      cb({ key, ok: false, error: d.error });
    }
    const entry = this.pendingLaunches.get(a.group!)!;
    entry.left.delete(key);
    if (entry.left.size === 0) {
      this.pendingLaunches.delete(a.group!);
      entry.done();
    }
  }

  private mustRun(key: string, orQueued = false): Attempt {
    const a = this.attempts.get(key);
    // the contract: no end before `started` was told of it (nor of one that never started, nor twice)
    if (!a || !(a.phase === 'running' || (orQueued && a.phase === 'queued'))) throw new Error(`scripted executor: ${key} is not running (${a?.phase ?? 'unknown'}); it cannot end`);
    return a;
  }

  private bumpLive(g: LaunchGroup, by: number): void {
    const k = `${g.jobId}.${g.taskName}`;
    const n = (this.live.get(k) ?? 0) + by;
    this.live.set(k, n);
    if (n > (this.highWater.get(k) ?? 0)) this.highWater.set(k, n);
  }
}

/** AttemptLogs in memory: the test writes what an attempt printed with write(). */
export class ScriptedLogs implements AttemptLogs {
  private readonly buffers = new Map<string, Buffer>();
  private dir: string | null = null;
  readonly removedJobs: string[] = [];

  write(id: AttemptId, stream: Stream, data: string | Buffer): void {
    const k = `${attemptKey(id)}.${stream}`;
    this.buffers.set(k, Buffer.concat([this.buffers.get(k) ?? Buffer.alloc(0), Buffer.from(data)]));
  }

  async tail(id: AttemptId, stream: Stream, maxBytes: number): Promise<Buffer | undefined> {
    const b = this.buffers.get(`${attemptKey(id)}.${stream}`);
    return b && Buffer.from(b.subarray(Math.max(0, b.length - maxBytes)));
  }

  async read(id: AttemptId, stream: Stream, start: number, end?: number): Promise<Buffer | undefined> {
    const b = this.buffers.get(`${attemptKey(id)}.${stream}`);
    if (!b) return undefined;
    const e = Math.min(end ?? b.length, b.length);
    return Buffer.from(b.subarray(Math.min(start, e), e));
  }

  async settledFile(id: AttemptId, stream: Stream): Promise<string> {
    this.dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-scripted-logs-'));
    const file = path.join(this.dir, `${attemptKey(id)}.${stream}`);
    fs.writeFileSync(file, this.buffers.get(`${attemptKey(id)}.${stream}`) ?? Buffer.alloc(0));
    return file;
  }

  async removeJob(jobId: string): Promise<void> {
    this.removedJobs.push(jobId);
    for (const k of [...this.buffers.keys()]) if (k.startsWith(`${jobId}.`)) this.buffers.delete(k);
  }
}
