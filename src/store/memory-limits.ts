// Request limits kept in memory, for a store that only one process uses (SQLite: the data-dir lock
// ensures it), where the process is the deployment as a whole: token buckets per key (rate limits)
// and keys remembered for a window (v1 replay protection), both bounded. A store shared by several
// replicas keeps them in its database instead (Store.takeRateToken, Store.firstUse).

/** A bucket idle for longer than this (and full) may be dropped. */
const IDLE_DROP_MS = 60_000;
/** Sweep idle buckets only once the map holds more than this many... */
const SWEEP_THRESHOLD = 5_000;
/** ... and at most this often. */
const SWEEP_INTERVAL_MS = 1_000;
/** Remembered keys at most (the oldest are dropped first beyond it). */
const MAX_KEYS = 1_000_000;

interface Bucket {
  tokens: number;
  /** Burst (= tokens per second) the bucket was last used with. */
  limit: number;
  /** Last refill time (ms); buckets are refilled only when used, so this is also the last use. */
  updatedAt: number;
}

export class MemoryLimits {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = Number.NEGATIVE_INFINITY;
  /** key -> time first seen (ms), in insertion order (= time order). */
  private readonly seenAt = new Map<string, number>();

  constructor(private readonly maxKeys = MAX_KEYS) {}

  /** Number of live buckets (tests). */
  get bucketCount(): number {
    return this.buckets.size;
  }

  /** Number of remembered keys (tests). */
  get keyCount(): number {
    return this.seenAt.size;
  }

  takeToken(key: string, perSecond: number, now: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      this.maybeSweep(now);
      b = { tokens: perSecond, limit: perSecond, updatedAt: now };
      this.buckets.set(key, b);
    } else {
      b.limit = perSecond;
      const elapsed = now - b.updatedAt;
      if (elapsed > 0) {
        b.tokens = Math.min(perSecond, b.tokens + (elapsed / 1000) * perSecond);
        b.updatedAt = now;
      }
    }
    if (b.tokens >= 1 - 1e-9) {
      b.tokens -= 1;
      return true;
    }
    return false;
  }

  firstUse(key: string, now: number, windowMs: number): boolean {
    for (const [k, t] of this.seenAt) {
      if (now - t < windowMs) break; // the rest is younger
      this.seenAt.delete(k);
    }
    const t = this.seenAt.get(key);
    if (t !== undefined && now - t < windowMs) return false;
    this.seenAt.delete(key);
    this.seenAt.set(key, now);
    while (this.seenAt.size > this.maxKeys) this.seenAt.delete(this.seenAt.keys().next().value!);
    return true;
  }

  /** Drops buckets that are full and idle for more than 60 s, once the map has grown large. */
  private maybeSweep(now: number): void {
    if (this.buckets.size < SWEEP_THRESHOLD || now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [key, b] of this.buckets) {
      // read-only: refilling here would reset the idle time of buckets that were not used
      const idle = now - b.updatedAt;
      const tokens = Math.min(b.limit, b.tokens + (Math.max(0, idle) / 1000) * b.limit);
      if (idle > IDLE_DROP_MS && tokens >= b.limit) this.buckets.delete(key);
    }
  }
}
