// This replica's entry in the store's registry of replicas, and what it reads there: it registers
// its id and advertise URL once its API server listens, refreshes its heartbeat every HEARTBEAT_MS,
// forgets replicas unseen for FORGET_MS, and answers who the others are (for fetching the logs of
// attempts they ran) and the whole list with the times each was last seen (for /healthz).
import type { Clock, Timer } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { ReplicaRecord, Store } from '../store/types.ts';

/** How often a replica refreshes its row. */
export const HEARTBEAT_MS = 5_000;
/** A replica seen this recently is asked for the logs of ended attempts it may have run. */
export const FRESH_MS = 30_000;
/** Rows of replicas unseen this long are dropped (one that comes back registers anew). */
export const FORGET_MS = 7 * 24 * 3_600_000;

export interface ReplicaView {
  id: string;
  url: string;
  /** ISO 8601 UTC, milliseconds. */
  lastSeen: string;
}

export interface ReplicaDirectoryOptions {
  store: Pick<Store, 'registerReplica' | 'listReplicas' | 'forgetReplicas'>;
  clock: Clock;
  logger: Logger;
  /** This replica's id (--replica-id). */
  id: string;
}

export class ReplicaDirectory {
  private url: string | undefined;
  private timer: Timer | null = null;
  private closed = false;
  /** The registry as last read (by a heartbeat or a lookup), and when. */
  private known: ReplicaRecord[] = [];
  private knownAt = Number.NEGATIVE_INFINITY;
  private failing = false;

  constructor(private readonly o: ReplicaDirectoryOptions) {}

  get id(): string {
    return this.o.id;
  }

  /** Register at `url` (the API server listens there now) and keep the heartbeat going until stop(). */
  async start(url: string): Promise<void> {
    this.url = url;
    await this.beat();
  }

  stop(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
  }

  /** Every registered replica with its last heartbeat: the registry as this replica's heartbeat or a
   *  lookup last read it (at most HEARTBEAT_MS ago), read again when older — so /healthz, which a load
   *  balancer may poll many times a second, costs the store one read per heartbeat, not one per call. */
  async list(): Promise<ReplicaView[]> {
    const rows = this.o.clock.now() - this.knownAt < HEARTBEAT_MS ? this.known : await this.refresh();
    return rows.map((r) => ({ id: r.id, url: r.url, lastSeen: new Date(r.lastSeen).toISOString() }));
  }

  /** A replica by id (the registry as last read, read again when it names no such replica). */
  async find(id: string): Promise<ReplicaRecord | undefined> {
    const hit = this.known.find((r) => r.id === id);
    if (hit && this.o.clock.now() - this.knownAt < HEARTBEAT_MS) return hit;
    return (await this.refresh()).find((r) => r.id === id);
  }

  /** The other replicas seen within FRESH_MS (by the clock of this one). */
  async others(): Promise<ReplicaRecord[]> {
    const rows = this.o.clock.now() - this.knownAt < HEARTBEAT_MS ? this.known : await this.refresh();
    const since = this.o.clock.now() - FRESH_MS;
    return rows.filter((r) => r.id !== this.o.id && r.lastSeen >= since);
  }

  private async refresh(): Promise<ReplicaRecord[]> {
    const rows = await this.o.store.listReplicas();
    this.remember(rows);
    return rows;
  }

  private remember(rows: ReplicaRecord[]): void {
    this.known = rows;
    this.knownAt = this.o.clock.now();
  }

  private async beat(): Promise<void> {
    if (this.closed || this.url === undefined) return;
    const now = this.o.clock.now();
    try {
      await this.o.store.registerReplica({ id: this.o.id, url: this.url, lastSeen: now });
      await this.o.store.forgetReplicas(now - FORGET_MS);
      await this.refresh();
      if (this.failing) this.o.logger.info({ replica: this.o.id }, 'the heartbeat of this replica is written again');
      this.failing = false;
    } catch (e) {
      // said once per outage: the store's own failures are logged by whoever else uses it
      if (!this.failing && !this.closed) this.o.logger.warn({ err: e, replica: this.o.id }, 'writing the heartbeat of this replica failed; will retry');
      this.failing = true;
    }
    if (!this.closed) this.timer = this.o.clock.setTimer(HEARTBEAT_MS, () => void this.beat());
  }
}
