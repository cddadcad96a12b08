// The scheduler's inbox: commands reach the scheduler through the store, never by in-process calls
// from services. A service inserts a command row (send); the store's wake-up (onCommand — in-process
// for SQLite, LISTEN/NOTIFY for a shared store — plus a slow poll as the fallback) makes the leader
// drain what is pending, carry it out, and write the changes with the rows' completion, in one
// write fenced by its epoch.
// A sender in this process is answered when its command is done.
import { apiError } from '../domain/errors.ts';
import type { Clock, Timer } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Command, CommandRecord, RefusedCommand } from '../store/coordination.ts';
import type { Store } from '../store/types.ts';
import type { CommandOutcome, CommandSender } from './ports.ts';

/** Commands carried out per store round trip. */
const BATCH = 500;
/** How often pending commands are looked for without a wake-up (a missed notification). */
export const POLL_MS = 2000;
/** After a failed write: when to try the batch again. */
const RETRY_MS = 1000;

export interface InboxHooks {
  /** Carry one command out in memory (its changes are written by `persist`). */
  apply(cmd: CommandRecord): Promise<CommandOutcome>;
  /** Write every change the applied commands made, completing the commands in the same write (with
   *  the reasons of those refused, for senders on other replicas); rejects when the store cannot take them. */
  persist(ids: number[], refused: RefusedCommand[]): Promise<void>;
  /** The epoch of the lease this scheduler holds (undefined: not the leader: nothing is drained). */
  epoch(): number | undefined;
}

interface Waiter {
  resolve: (o: CommandOutcome) => void;
  reject: (e: unknown) => void;
}

export class Inbox implements CommandSender {
  private readonly waiters = new Map<number, Waiter>();
  /** Outcomes of commands done before their sender was waiting (bounded). */
  private readonly early = new Map<number, { outcome?: CommandOutcome; error?: unknown }>();
  /** Senders whose insert has not returned yet. */
  private sending = 0;
  /** Applied in memory, not completed in the store yet: never applied twice. */
  private readonly applied = new Map<number, CommandOutcome | { error: unknown }>();
  private draining = false;
  private drained: Promise<void> = Promise.resolve();
  private again = false;
  private unsubscribe: (() => void) | null = null;
  private poll: Timer | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly hooks: InboxHooks,
  ) {}

  start(): void {
    this.unsubscribe = this.store.onCommand(() => this.wake());
    this.armPoll();
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.poll?.cancel();
    const stopping = apiError('FailedOperation', { reason: 'the scheduler is stopping', hint: 'The command stays queued and is carried out when a scheduler runs again.' });
    for (const w of this.waiters.values()) w.reject(stopping);
    this.waiters.clear();
  }

  async send(cmd: Command): Promise<CommandOutcome> {
    this.sending += 1;
    let rec: CommandRecord;
    try {
      rec = await this.store.insertCommand({ ...cmd, createdAt: this.clock.now() });
    } finally {
      this.sending -= 1;
    }
    const done = this.early.get(rec.id);
    if (done) {
      this.early.delete(rec.id);
      if (done.error !== undefined) throw done.error;
      return done.outcome!;
    }
    return new Promise<CommandOutcome>((resolve, reject) => this.waiters.set(rec.id, { resolve, reject }));
  }

  /** Something may be pending: drain (coalesced with a drain under way). */
  wake(): void {
    if (this.closed) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.drained = this.drain();
  }

  /** A drain is under way or asked for (one asked for after close never comes). */
  busy(): boolean {
    return this.draining || (this.again && !this.closed);
  }

  /** Resolves once the drain under way (if any) has ended. */
  async settled(): Promise<void> {
    while (this.busy()) await this.drained;
  }

  private armPoll(): void {
    if (this.closed) return;
    this.poll = this.clock.setTimer(POLL_MS, () => {
      this.wake();
      this.armPoll();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (;;) {
        this.again = false;
        const epoch = this.hooks.epoch();
        if (epoch === undefined || this.closed) return;
        const cmds = await this.store.pendingCommands(0, BATCH);
        // applied ones completed meanwhile (by a write after a failed one) are done
        if (this.applied.size > 0) {
          const pending = new Set(cmds.map((c) => c.id));
          for (const id of this.applied.keys()) if (!pending.has(id)) this.applied.delete(id);
        }
        if (cmds.length === 0) return;
        for (const c of cmds) {
          if (this.applied.has(c.id)) continue;
          try {
            this.applied.set(c.id, await this.hooks.apply(c));
          } catch (e) {
            this.log.error({ err: e, command: c.kind }, 'a command failed');
            this.applied.set(c.id, { error: e });
          }
        }
        const at = this.clock.now();
        const refused: RefusedCommand[] = [];
        for (const c of cmds) {
          const r = this.applied.get(c.id)!;
          if ('error' in r) refused.push({ id: c.id, reason: reasonOf(r.error), at });
          else if (!r.done) refused.push({ id: c.id, reason: r.reason, at });
        }
        try {
          await this.hooks.persist(cmds.map((c) => c.id), refused);
        } catch (e) {
          // kept in the store (and applied in memory): written and completed by a later drain
          for (const c of cmds) this.settle(c.id, { error: e }, false);
          this.log.warn({ err: e }, 'commands carried out but not written yet; will retry');
          this.clock.setTimer(RETRY_MS, () => this.wake());
          return;
        }
        for (const c of cmds) {
          const r = this.applied.get(c.id)!;
          this.applied.delete(c.id);
          this.settle(c.id, 'error' in r ? { error: r.error } : { outcome: r }, true);
        }
        if (cmds.length < BATCH && !this.again) return;
      }
    } catch (e) {
      this.log.error({ err: e }, 'reading pending commands failed; will retry');
      this.clock.setTimer(RETRY_MS, () => this.wake());
    } finally {
      this.draining = false;
      if (this.again) this.wake();
    }
  }

  private settle(id: number, r: { outcome?: CommandOutcome; error?: unknown }, final: boolean): void {
    const w = this.waiters.get(id);
    if (w) {
      this.waiters.delete(id);
      if (r.error !== undefined) w.reject(r.error);
      else w.resolve(r.outcome!);
    } else if (final && this.sending > 0) {
      // a sender may be between its insert and its wait (commands nobody waits for, such as the
      // `submitted` of every job, are not kept)
      if (this.early.size >= 1000) this.early.clear();
      this.early.set(id, r);
    }
  }
}

/** What a sender on another replica reads of a command that failed (an ApiError's message says it all). */
function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
