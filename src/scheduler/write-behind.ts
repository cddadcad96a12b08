// Write-behind persistence of the scheduler: what changed since the last write (jobs, tasks,
// instances, attempts) and the handles whose end is recorded once it is written. flush() writes it
// all in one store batch; when the store fails nothing is lost — the changes are kept, merged with
// newer ones, and written again after a pause (the clock's timer), when the store recovers.
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Handle } from '../executors/types.ts';
import type { AttemptRecord, RefusedCommand, SampleRecord, Store, WriteBatch } from '../store/types.ts';
import type { Dirty, PendingEvent } from './runtime.ts';
import type { EventDraft } from '../domain/events.ts';
import { isFenced, type FencedError } from '../store/errors.ts';
import { StoreUnavailable } from '../domain/errors.ts';

export const FLUSH_RETRY_MS = 1000;

export interface WriteHooks {
  /** The batch is written: these attempts' ends are recorded (their handles may be released). */
  written(released: { key: string; handle: Handle }[]): void;
  /** A write failed: try again (a tick) now. */
  retry(): void;
  /** The epoch that fences this scheduler's writes (its lease). */
  epoch(): number | undefined;
  /** A write was refused because another scheduler holds the lease now. */
  fenced(err: FencedError): void;
  /** A batch was written (ok) or failed, after this long (seconds; metrics). */
  timed?(seconds: number, ok: boolean): void;
}

export class WriteBehind {
  readonly dirty: Dirty = { jobs: new Set(), tasks: new Set(), instances: new Map(), events: [] };
  attempts = new Map<string, AttemptRecord>();
  /** Monitor samples taken as attempts ended: written with their ends. */
  samples: SampleRecord[] = [];
  /** Commands whose changes are among these: completed with them. */
  completedCommands: number[] = [];
  /** Of those, the refused ones with their reasons. */
  refusedCommands: RefusedCommand[] = [];
  private toRelease: { key: string; handle: Handle }[] = [];
  private flushPromise: Promise<boolean> | null = null;
  private failures = 0;
  private lastError: unknown;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly hooks: WriteHooks,
  ) {}

  isClean(): boolean {
    const d = this.dirty;
    return d.jobs.size === 0 && d.tasks.size === 0 && d.instances.size === 0 && this.attempts.size === 0 &&
      this.completedCommands.length === 0 && d.events.length === 0;
  }

  /** Release the attempt's handle once the batch that records its end is written. */
  releaseAfterWrite(key: string, handle: Handle): void {
    this.toRelease.push({ key, handle });
  }

  /** Write every pending change in one batch. Returns false (and keeps the changes) if the store failed. */
  async flush(): Promise<boolean> {
    while (this.flushPromise) await this.flushPromise;
    if (this.isClean()) return true;
    const d = this.dirty;
    const batch: WriteBatch = {
      jobs: [...d.jobs].map((j) => ({ ...j.rec })),
      tasks: [...d.tasks].map((t) => ({ ...t.rec, counts: { ...t.rec.counts }, wait: { ...t.rec.wait } })),
      instances: [...d.instances.values()].map((i) => ({ ...i })),
      attempts: [...this.attempts.values()].map((a) => ({ ...a })),
      samples: this.samples,
      completedCommands: this.completedCommands,
      refusedCommands: this.refusedCommands,
      events: d.events.length === 0 ? undefined : settle(d.events, this.clock.now()),
    };
    const pendingEvents = d.events;
    d.events = [];
    this.samples = [];
    this.completedCommands = [];
    this.refusedCommands = [];
    const released = this.toRelease;
    const jobs = new Set(d.jobs);
    const tasks = new Set(d.tasks);
    const instances = new Map(d.instances);
    const attempts = this.attempts;
    d.jobs.clear();
    d.tasks.clear();
    d.instances.clear();
    this.attempts = new Map();
    this.toRelease = [];
    const t0 = performance.now();
    const p = this.store.applyBatch(batch, this.hooks.epoch()).then(
      () => {
        this.hooks.timed?.((performance.now() - t0) / 1000, true);
        this.failures = 0;
        this.hooks.written(released);
        return true;
      },
      (err: unknown) => {
        this.hooks.timed?.((performance.now() - t0) / 1000, false);
        if (isFenced(err)) {
          // another scheduler leads now: what this one had not written is its to redo
          this.hooks.fenced(err);
          return false;
        }
        // keep everything for the next try: nothing is lost, the store catches up when it recovers
        this.failures += 1;
        this.lastError = err;
        this.log.error({ err, failures: this.failures }, 'store write failed; will retry');
        for (const j of jobs) d.jobs.add(j);
        for (const t of tasks) d.tasks.add(t);
        for (const [k, v] of instances) if (!d.instances.has(k)) d.instances.set(k, v);
        for (const [k, v] of attempts) if (!this.attempts.has(k)) this.attempts.set(k, v);
        this.toRelease.push(...released);
        this.samples.unshift(...(batch.samples ?? []));
        this.completedCommands.push(...(batch.completedCommands ?? []));
        this.refusedCommands.push(...(batch.refusedCommands ?? []));
        d.events = pendingEvents.concat(d.events);
        this.clock.setTimer(FLUSH_RETRY_MS, () => this.hooks.retry());
        return false;
      },
    );
    this.flushPromise = p;
    try {
      return await p;
    } finally {
      this.flushPromise = null;
    }
  }

  /** For commands: make their changes durable before the API answers. */
  async flushSoon(): Promise<void> {
    const ok = await this.flush();
    if (ok) return;
    const e = this.lastError;
    throw e instanceof StoreUnavailable ? e : new StoreUnavailable('io', `the store could not be written (${e instanceof Error ? e.message : String(e)}); the change is kept and written when it recovers`, { cause: e });
  }
}

/** The events as written: an instance's reason and exit code as they are now, if it is still in the
 *  event's state; the time of writing for those that had none. */
function settle(events: PendingEvent[], now: number): EventDraft[] {
  return events.map(({ inst, ...e }) => {
    if (e.time === 0) e.time = now;
    if (inst !== undefined && inst.state === e.state) {
      if (inst.stateReason !== '') e.reason = inst.stateReason;
      if (inst.exitCode !== null) e.exitCode = inst.exitCode;
    }
    return e;
  });
}
