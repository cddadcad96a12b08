// Following launched array elements until they end: one poll loop for every attempt of the executor.
// Each poll asks Slurm about all tracked arrays in one `squeue` call (never one per element), then
// reads the status directory of every job with tracked elements (one readdir each: an element Slurm
// calls ended has written its exit file by then, if it ever will), and turns both into events:
// `waiting` when Slurm's pending reason changes, `running` when an element starts (its .start file, or
// Slurm saying it runs), `exited` from its .exit file (which counts first), or — when Slurm ended it
// without one — from Slurm's state (cancelled behind our back, its time limit, out of memory), `lost`
// when nothing tells. When squeue fails, no conclusion is drawn: polls go on from the files, Slurm is
// asked again with backoff, and waiting elements say SlurmUnavailable.
import type { Logger } from '../../lib/logger.ts';
import type { Handle, Observation } from '../types.ts';
import { SlurmUnavailable, type SlurmCli } from './cli.ts';
import {
  listStatus, parseExit, parseStart, readQuietly, type ExitRecord, type SlurmLayout,
} from './files.ts';
import { INFRASTRUCTURE, phaseOf, queryQueue, recordOf, waitDetail, type QueueRecord, type QueueView } from './queue.ts';

/** One tracked attempt: an element of a Slurm job array. */
export interface Element {
  key: string;
  /** OpenBatch's job id (its status directory). */
  jobId: string;
  /** The array job id and task id; job '' while an element whose launch was never recorded has not
   *  been found in Slurm yet. */
  job: string;
  task: number;
  /** The partition, for details. */
  where: string;
  /** running was told (or observe() answered running). */
  started: boolean;
  /** The wait reason last told. */
  reason?: string;
  /** What stop() asked: a TERM (and a cancel of a pending element), or a KILL. */
  stop?: 'term' | 'kill';
  /** First poll that found it ended in Slurm (or gone) without an exit file. */
  endedSince?: number;
  /** Until when an exit that looks like a signal's waits for Slurm's state. */
  verdictUntil?: number;
  /** Its handle was found by key: the next event carries it. */
  announce?: boolean;
  /** The element its start file names, when not the one launched: followed once Slurm confirms it. */
  candidate?: { job: string; task: number };
}

/** `ob.<jobId>.<taskName>`, the Slurm job name of an attempt's arrays (an administrator finds it). */
export function jobName(key: string): string {
  const m = /^(.+)\.([A-Za-z0-9_-]+)\.(\d+)\.(\d+)$/.exec(key);
  return m ? `ob.${m[1]}.${m[2]}` : `ob.${key}`;
}

export function handleOf(el: { job: string; task: number }): Handle {
  return { executor: 'slurm', job: el.job, task: el.task };
}

export interface TrackerOptions {
  cli: SlurmCli;
  layout: SlurmLayout;
  pollMs: number;
  /** How long an element Slurm ended without an exit file is given for the file to appear. */
  settleMs: number;
  logger?: Logger;
  emit(events: Observation[]): void;
  /** Finds elements whose launch was never recorded (job '') in a fresh view by job name. */
  resolve(els: Element[]): Promise<void>;
}

const Q = 'Queued';

export class Tracker {
  readonly els = new Map<string, Element>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private polling: Promise<void> | undefined;
  /** squeue is not asked before this time (backoff while Slurm does not answer). */
  private queueAt = 0;
  private backoff = 0;
  private down: string | undefined;

  constructor(private readonly o: TrackerOptions) {}

  track(el: Element): void {
    this.els.set(el.key, el);
    this.arm();
  }

  get(key: string): Element | undefined {
    return this.els.get(key);
  }

  forget(key: string): void {
    this.els.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  private arm(): void {
    if (this.closed || this.timer || this.els.size === 0) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().catch((e) => this.o.logger?.error({ err: e }, 'slurm: poll failed')).finally(() => {
        this.polling = undefined;
        this.timer = undefined;
        this.arm();
      });
    }, this.o.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    // what is tracked now: an element added while this poll waits for Slurm is not in its view
    const batch = [...this.els.values()];
    const view = await this.queue(batch);
    // the status files are read after Slurm's answer: an element it calls ended has written its exit
    // file (the wrapper writes it before it exits), if it ever will
    const jobs = new Set<string>();
    for (const el of batch) jobs.add(el.jobId);
    const files = new Map<string, Set<string>>();
    await Promise.all([...jobs].map(async (j) => files.set(j, await listStatus(this.o.layout.statusDir(j)))));
    const unresolved = new Set(batch.filter((e) => e.job === ''));
    if (view && unresolved.size > 0) await this.o.resolve([...unresolved]).catch(() => {});
    if (this.closed) return;
    const now = Date.now();
    const events: Observation[] = [];
    for (const el of batch) {
      // released meanwhile; or just found by name (its array is not in this view: next poll)
      if (this.els.get(el.key) !== el || unresolved.has(el)) continue;
      for (const ev of this.step(el, files.get(el.jobId) ?? new Set(), view, now, false)) events.push(ev);
    }
    if (events.length > 0 && !this.closed) this.o.emit(events);
  }

  /** One squeue for every tracked array; undefined while Slurm does not answer. */
  private async queue(batch: Element[]): Promise<QueueView | undefined> {
    if (Date.now() < this.queueAt) return undefined;
    const arrays = [...new Set(batch.flatMap((e) => [e.job, e.candidate?.job ?? '']).filter((j) => j !== ''))];
    if (arrays.length === 0) return { elements: new Map(), meta: new Map(), known: new Set() };
    try {
      // beyond a few thousand arrays the id list is longer than the whole queue is worth: ask for all
      const view = await queryQueue(this.o.cli, arrays.length <= 2000 ? { jobs: arrays } : {}, 0);
      if (this.down) this.o.logger?.info({}, 'slurm: squeue answers again');
      this.down = undefined;
      this.backoff = 0;
      return view;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const what = e instanceof SlurmUnavailable ? 'is not answering' : 'failed';
      if (!this.down) this.o.logger?.warn({ err: e }, `slurm: squeue ${what} (${why}); polling on, drawing no conclusion until it answers`);
      this.down = why;
      this.backoff = Math.min(Math.max(this.backoff * 2, this.o.pollMs, 500), 30_000);
      this.queueAt = Date.now() + this.backoff;
      return undefined;
    }
  }

  /** What is new about one element. `immediate` (observe): conclude now rather than wait for files
   *  or Slurm's final word. */
  step(el: Element, names: Set<string>, view: QueueView | undefined, now: number, immediate: boolean): Observation[] {
    const out: Observation[] = [];
    const withHandle = <T extends Observation>(ob: T): T => {
      if (!el.announce || ob.state === 'lost') return ob;
      el.announce = false;
      return { ...ob, handle: handleOf(el) };
    };
    const file = (kind: 'start' | 'exit') => this.o.layout.statusFile(el.jobId, el.key, kind);
    if (!el.started && names.has(`${el.key}.start`)) {
      const s = parseStart(readQuietly(file('start')) ?? '');
      if (s) {
        // another element ran it (a second copy of the array: an sbatch retried after a timeout)
        if (s.job !== el.job || s.task !== el.task) el.candidate = { job: s.job, task: s.task };
        el.started = true;
        out.push(withHandle({ key: el.key, state: 'running', node: s.node, since: s.since }));
      }
    }
    if (el.candidate && view && (!view.asked || view.asked.has(el.candidate.job))) {
      // followed once Slurm confirms it is an array of this task (the file is the attempt's user's:
      // it must not make the executor follow, and stop, another job)
      const c = view.elements.get(`${el.candidate.job}_${el.candidate.task}`);
      if (c && c.name === jobName(el.key)) {
        el.job = el.candidate.job;
        el.task = el.candidate.task;
      } else {
        this.o.logger?.warn({ key: el.key, named: el.candidate }, 'slurm: the start file of the attempt names a Slurm job that is not one of its arrays; ignored');
      }
      el.candidate = undefined;
    }
    const rec = view && el.job !== '' ? recordOf(view, el.job, el.task) : undefined;
    const exit = names.has(`${el.key}.exit`) ? parseExit(readQuietly(file('exit')) ?? '') : undefined;
    if (exit) {
      const ended = rec && phaseOf(rec.state) === 'ended' ? rec : undefined;
      const wantVerdict = !el.stop && (exit.signalled || exit.status > 128) && !ended && !immediate;
      if (wantVerdict) {
        el.verdictUntil ??= now + Math.max(5_000, 3 * this.o.pollMs);
        if (now < el.verdictUntil) return out;
      }
      out.push(withHandle(this.exited(el, exit, ended)));
      this.els.delete(el.key);
      return out;
    }
    if (el.job === '') return out; // not found in Slurm yet
    if (!view) {
      if (!el.started && el.reason !== 'SlurmUnavailable') {
        el.reason = 'SlurmUnavailable';
        out.push(withHandle({ key: el.key, state: 'waiting', wait: { reason: 'SlurmUnavailable', detail: `${waitDetail('SlurmUnavailable', el.where)} (${this.down ?? 'no answer'})` } }));
      }
      return out;
    }
    const phase = rec ? phaseOf(rec.state) : 'ended';
    if (rec && phase === 'waiting') {
      el.endedSince = undefined;
      const reason = rec.reason === 'None' || rec.reason === '' ? Q : rec.reason;
      if (!el.started && reason !== el.reason) {
        el.reason = reason;
        const detail = reason === Q ? `queued in Slurm (job array ${el.job}, ${el.where})` : waitDetail(reason, el.where);
        out.push(withHandle({ key: el.key, state: 'waiting', wait: { reason, detail } }));
      } else if (el.announce) {
        out.push(withHandle({ key: el.key, state: 'waiting', wait: { reason, detail: waitDetail(reason, el.where) } }));
      }
      return out;
    }
    if (rec && phase === 'active') {
      el.endedSince = undefined;
      if (!el.started) {
        el.started = true;
        out.push(withHandle({ key: el.key, state: 'running', node: rec.node || undefined, since: rec.start }));
      }
      return out;
    }
    // ended in Slurm (or gone from it) without an exit file: give the file a moment to show
    el.endedSince ??= now;
    if (!immediate && now - el.endedSince < this.o.settleMs) return out;
    out.push(withHandle(this.withoutExit(el, rec, view)));
    this.els.delete(el.key);
    return out;
  }

  /** The end told by an exit file, with Slurm's state when it explains a death by signal. */
  private exited(el: Element, exit: ExitRecord, rec: QueueRecord | undefined): Observation {
    const key = el.key;
    // the KILL stop() sent (the wrapper survived it): a death by SIGKILL
    if (el.stop === 'kill' && exit.status === 137) return { key, state: 'exited', exit: { exitCode: null, signal: 'SIGKILL' } };
    const base = { exitCode: exit.status, signal: null };
    if (el.stop || !rec) return { key, state: 'exited', exit: base };
    if (INFRASTRUCTURE.has(rec.state)) return { key, state: 'lost', infrastructure: true, reason: infraReason(rec) };
    if (rec.state === 'OUT_OF_MEMORY') return { key, state: 'exited', exit: { ...base, oom: true } };
    const cause = causeOf(el, rec);
    return { key, state: 'exited', exit: cause ? { ...base, cause } : base };
  }

  /** The end of an element Slurm ended (or forgot) without an exit file. */
  private withoutExit(el: Element, rec: QueueRecord | undefined, view: QueueView): Observation {
    const key = el.key;
    if (el.stop && el.started) return { key, state: 'exited', exit: { exitCode: null, signal: 'SIGKILL' } };
    if (el.stop) {
      return { key, state: 'exited', exit: { exitCode: null, signal: null, cause: { reason: 'CancelledBeforeStart', detail: `stopped while it waited in the Slurm queue (job array element ${el.job}_${el.task}): it never ran` } } };
    }
    if (!rec) {
      if (view.known.has(el.job) && !el.started) {
        // Slurm drops a pending element cancelled on its own (scancel <job>_<task>) at once
        return { key, state: 'exited', exit: { exitCode: null, signal: null, cause: cancelled(el) } };
      }
      return { key, state: 'lost', reason: `Slurm no longer knows job array element ${el.job}_${el.task} (it forgets ended jobs after MinJobAge) and it left no exit status` };
    }
    if (INFRASTRUCTURE.has(rec.state)) return { key, state: 'lost', infrastructure: true, reason: infraReason(rec) };
    if (rec.state === 'OUT_OF_MEMORY') return { key, state: 'exited', exit: { exitCode: null, signal: 'SIGKILL', oom: true } };
    const cause = causeOf(el, rec);
    if (cause) return { key, state: 'exited', exit: { exitCode: null, signal: null, cause } };
    return { key, state: 'lost', reason: `Slurm ended job array element ${el.job}_${el.task} (${rec.state}) without an exit status: its job script did not get to run the command (its errors are in scripts/${el.jobId}/ of the shared directory)` };
  }
}

function cancelled(el: Element): { reason: string; detail: string } {
  return { reason: 'CancelledInSlurm', detail: `job array element ${el.job}_${el.task} was cancelled in Slurm (scancel) outside OpenBatch` };
}

function causeOf(el: Element, rec: QueueRecord): { reason: string; detail: string } | undefined {
  switch (rec.state) {
    case 'CANCELLED': return cancelled(el);
    case 'TIMEOUT': return { reason: 'Timeout', detail: `Slurm's time limit of job array element ${el.job}_${el.task} (--time) ended it` };
    case 'DEADLINE': return { reason: 'Deadline', detail: `Slurm ended job array element ${el.job}_${el.task} at its deadline` };
    default: return undefined;
  }
}

function infraReason(rec: QueueRecord): string {
  const what = rec.state === 'NODE_FAIL' ? 'its node failed' : rec.state === 'PREEMPTED' ? 'it was preempted' : 'its node failed to boot';
  return `Slurm lost job array element ${rec.job}_${rec.task ?? ''} (${rec.state}): ${what}${rec.node ? ` (${rec.node})` : ''}`;
}
