// One server replica's part in a deployment of several sharing one store: it leads (runs the one
// scheduler, while it holds the store's leadership lease) when it can, and stands by otherwise,
// asking for the lease every LEASE_RETRY_MS. Every replica answers the whole API: commands are left
// in the store for whichever replica leads, and a sender on a replica that does not lead reads how its
// command went from the store (Store.commandResults). A replica that lost the lease to another (or
// that starts while another leads) stops the attempts its host still runs: the leader has run them
// again. One replica alone (SQLite) is the same thing with nobody to share with.
import { randomBytes } from 'node:crypto';
import { apiError } from '../domain/errors.ts';
import type { Executor, RunningAttempt } from '../executors/types.ts';
import type { Clock, Timer } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Command, Lease } from '../store/coordination.ts';
import type { Store } from '../store/types.ts';
import type { CommandOutcome, CommandSender, SchedulerView } from './ports.ts';
import { LEASE_RETRY_MS, LEASE_TTL_MS, type Scheduler } from './scheduler.ts';

/** How often a sender on a replica that does not lead asks how its commands went. */
export const RESULT_POLL_MS = 100;
/** How long such a sender waits before it is told its command is still queued. */
export const RESULT_WAIT_MS = 20_000;

export interface ReplicaOptions {
  /** The replica's name (--replica-id): in logs, in /healthz and in the leadership record. */
  id: string;
  /**
   * The store is this process's alone (SQLite, behind the data-dir lock): whoever holds the lease in
   * it is a former process of this data dir, dead since we hold the lock, so the lease is taken back
   * at once (whatever that process's id was: with --port 0 it named its pid) and nothing is
   * abandoned. Otherwise each process holds it as `<id>#<random>`, and a restarted replica waits
   * until the lease of its former self ran out.
   */
  exclusive: boolean;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** The engines of this host (attempts are stopped through it when another replica took over). */
  executor: Executor;
  /** A new scheduler for this holder, told when it loses its lease. */
  makeScheduler(holder: string, onLost: (why: string, takenOver: boolean) => void): Scheduler;
}

/** What /healthz says about leadership. */
export interface LeadershipStatus {
  replica: string;
  leading: boolean;
  /** The lease as the store has it (undefined: nobody holds one). */
  leader?: { holder: string; replica: string; epoch: number; since: string; expiresAt: string };
}

interface Waiter {
  id: number;
  deadline: number;
  resolve: (o: CommandOutcome) => void;
  reject: (e: unknown) => void;
}

export class Replica implements CommandSender, SchedulerView {
  readonly holder: string;
  private leader: Scheduler | undefined;
  private retry: Timer | null = null;
  private closed = false;
  /** Commands sent while not leading, waiting for their results. */
  private readonly waiters = new Map<number, Waiter>();
  private poll: Timer | null = null;
  private polling = false;
  /** The attempts of this host were stopped after another replica took over (once per standby). */
  private abandoned = false;

  constructor(private readonly o: ReplicaOptions) {
    this.holder = o.exclusive ? o.id : `${o.id}#${randomBytes(4).toString('hex')}`;
  }

  get log(): Logger {
    return this.o.logger;
  }

  /** Try to lead once; stand by (trying again and again) when another replica leads. */
  async start(): Promise<void> {
    await this.tryLead();
  }

  /** The scheduler while this replica leads (tests, stats). */
  get scheduler(): Scheduler | undefined {
    return this.leader;
  }

  get leading(): boolean {
    return this.leader?.currentLease !== undefined;
  }

  async status(): Promise<LeadershipStatus> {
    const lease = this.leader?.currentLease ?? (await this.o.store.currentLease());
    const out: LeadershipStatus = { replica: this.o.id, leading: this.leading };
    if (lease) {
      out.leader = {
        holder: lease.holder, replica: replicaOf(lease.holder), epoch: lease.epoch,
        since: new Date(lease.since).toISOString(), expiresAt: new Date(lease.expiresAt).toISOString(),
      };
    }
    return out;
  }

  // ---------------------------------------------------------------- commands

  send(cmd: Command): Promise<CommandOutcome> {
    if (this.leader && this.leading) return this.leader.send(cmd);
    return this.sendAway(cmd);
  }

  /** Leave the command for the replica that leads, and read how it went from the store. */
  private async sendAway(cmd: Command): Promise<CommandOutcome> {
    const rec = await this.o.store.insertCommand({ ...cmd, createdAt: this.o.clock.now() });
    return new Promise<CommandOutcome>((resolve, reject) => {
      this.waiters.set(rec.id, { id: rec.id, deadline: this.o.clock.now() + RESULT_WAIT_MS, resolve, reject });
      this.armPoll();
    });
  }

  private armPoll(): void {
    if (this.poll || this.polling || this.waiters.size === 0) return;
    this.poll = this.o.clock.setTimer(RESULT_POLL_MS, () => {
      this.poll = null;
      void this.pollResults();
    });
  }

  private async pollResults(): Promise<void> {
    this.polling = true;
    try {
      const results = await this.o.store.commandResults([...this.waiters.keys()]);
      for (const [id, r] of results) {
        const w = this.waiters.get(id);
        if (!w) continue;
        this.waiters.delete(id);
        w.resolve(r);
      }
    } catch (e) {
      this.log.warn({ err: e }, 'reading how commands went failed; will retry');
    } finally {
      this.polling = false;
    }
    const now = this.o.clock.now();
    for (const w of [...this.waiters.values()]) {
      if (now < w.deadline) continue;
      this.waiters.delete(w.id);
      w.reject(apiError('FailedOperation', {
        reason: `no scheduler carried the command out within ${RESULT_WAIT_MS / 1000} s (is a replica leading?)`,
        hint: 'It stays queued and is carried out when one leads.',
      }));
    }
    this.armPoll();
  }

  // ---------------------------------------------------------------- what runs (this replica's view)

  async busyNodes(): Promise<ReadonlySet<string>> {
    return this.leader ? this.leader.busyNodes() : this.o.store.busyNodes();
  }

  runningAttempts(): RunningAttempt[] {
    return this.leader?.runningAttempts() ?? [];
  }

  // ---------------------------------------------------------------- leadership

  private async tryLead(): Promise<void> {
    if (this.closed || this.leader) return;
    const { store, clock } = this.o;
    let lease: Lease | undefined;
    try {
      lease = await store.acquireLease(this.holder, LEASE_TTL_MS, clock.now());
      if (!lease && this.o.exclusive) lease = await this.takeBack();
      if (!lease) await this.standingBy();
    } catch (e) {
      this.log.warn({ err: e }, 'asking for the leadership lease failed; will retry');
    }
    if (lease && !this.closed) {
      const s = this.o.makeScheduler(this.holder, (why, takenOver) => this.lost(s, why, takenOver));
      this.leader = s;
      try {
        await s.start(lease);
        this.abandoned = false;
        this.log.info({ epoch: lease.epoch }, 'this replica leads');
        return;
      } catch (e) {
        // the store failed while the scheduler loaded: it starts anew (the lease is still ours)
        this.log.error({ err: e }, 'the scheduler could not start; will retry');
        this.leader = undefined;
        await s.close().catch(() => {});
      }
    }
    this.retryLater();
  }

  /** Exclusive store: release the lease a dead former process of this data dir left, then take it. */
  private async takeBack(): Promise<Lease | undefined> {
    const { store, clock } = this.o;
    const cur = await store.currentLease();
    if (cur) {
      this.log.info({ former: cur.holder, epoch: cur.epoch }, 'the lease of a former process of this data dir is taken back');
      await store.releaseLease(cur);
    }
    return store.acquireLease(this.holder, LEASE_TTL_MS, clock.now());
  }

  /** Another holder has the lease: this host's attempts were (or will be) run again by it. */
  private async standingBy(): Promise<void> {
    const cur = await this.o.store.currentLease();
    if (!cur) return;
    // our own former process (a restart): its lease runs out, then we lead and take its attempts back
    if (replicaOf(cur.holder) === this.o.id) return;
    if (!this.abandoned) {
      this.abandoned = true;
      this.log.info({ leader: cur.holder, epoch: cur.epoch }, 'another replica leads; this one stands by');
      const n = await this.o.executor.abandonAll?.() ?? 0;
      if (n > 0) this.log.warn({ stopped: n }, 'stopped the attempts this host still ran: the leader runs them again');
    }
  }

  private lost(s: Scheduler, why: string, takenOver: boolean): void {
    if (this.leader !== s) return;
    this.leader = undefined;
    this.log.warn({ why, takenOver }, 'this replica no longer leads; it stands by');
    void (async () => {
      await s.close().catch(() => {});
      if (takenOver && !this.abandoned) {
        this.abandoned = true;
        const n = await this.o.executor.abandonAll?.().catch(() => 0) ?? 0;
        if (n > 0) this.log.warn({ stopped: n }, 'stopped the attempts this host still ran: the new leader runs them again');
      }
      this.retryLater();
    })();
  }

  private retryLater(): void {
    if (this.closed || this.retry) return;
    this.retry = this.o.clock.setTimer(LEASE_RETRY_MS, () => {
      this.retry = null;
      void this.tryLead();
    });
  }

  /** Stop leading (the lease is handed back) or standing by; attempts keep running. */
  async close(): Promise<void> {
    this.closed = true;
    this.retry?.cancel();
    this.poll?.cancel();
    const stopping = apiError('FailedOperation', { reason: 'the server is stopping', hint: 'The command stays queued and is carried out when a scheduler runs again.' });
    for (const w of this.waiters.values()) w.reject(stopping);
    this.waiters.clear();
    const s = this.leader;
    this.leader = undefined;
    await s?.close();
  }
}

/** The replica id of a lease holder (`<id>` or `<id>#<random>`). */
export function replicaOf(holder: string): string {
  const i = holder.lastIndexOf('#');
  return i < 0 ? holder : holder.slice(0, i);
}
