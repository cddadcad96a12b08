// Per-action request-rate limits (batch-api.md §f.1): a token bucket per (action, account, region),
// burst = the per-second limit, refilled continuously at that many tokens per second.
// Exceeding a limit is answered with RequestLimitExceeded by the caller.
import type { RateLimitMode } from '../config/choices.ts';

/** Requests per second per action, from the mainland and the international documentation (§f.1). */
export const RATE_LIMITS: Record<string, { mainland: number; intl: number }> = {
  // compute environments
  AttachInstances: { mainland: 20, intl: 20 },
  CreateComputeEnv: { mainland: 2, intl: 2 },
  DeleteComputeEnv: { mainland: 2, intl: 2 },
  DescribeComputeEnv: { mainland: 2, intl: 2 },
  DescribeComputeEnvActivities: { mainland: 2, intl: 2 },
  DescribeComputeEnvCreateInfo: { mainland: 2, intl: 2 },
  DescribeComputeEnvCreateInfos: { mainland: 20, intl: 20 },
  DescribeComputeEnvs: { mainland: 10, intl: 2 },
  DetachInstances: { mainland: 20, intl: 20 },
  ModifyComputeEnv: { mainland: 2, intl: 2 },
  TerminateComputeNode: { mainland: 20, intl: 20 },
  TerminateComputeNodes: { mainland: 20, intl: 20 },
  // task templates
  CreateTaskTemplate: { mainland: 2, intl: 2 },
  DeleteTaskTemplates: { mainland: 2, intl: 2 },
  DescribeTaskTemplates: { mainland: 10, intl: 2 },
  ModifyTaskTemplate: { mainland: 2, intl: 2 },
  // jobs and tasks
  DeleteJob: { mainland: 30, intl: 30 },
  DescribeJob: { mainland: 50, intl: 2 },
  DescribeJobSubmitInfo: { mainland: 20, intl: 2 },
  DescribeJobs: { mainland: 10, intl: 2 },
  // COMPAT: the intl table says 3/s, one 2026 intl page says 20/s; we keep the seed document's 3/s.
  DescribeTask: { mainland: 20, intl: 3 },
  DescribeTaskLogs: { mainland: 20, intl: 20 },
  // COMPAT: intl limit not seen in the intl docs; using the mainland value.
  DescribeJobMonitorData: { mainland: 20, intl: 20 },
  RetryJobs: { mainland: 10, intl: 2 },
  SubmitJob: { mainland: 20, intl: 7 },
  // COMPAT: intl limit not seen in the intl docs; using the mainland value.
  TerminateJob: { mainland: 10, intl: 10 },
  TerminateTaskInstance: { mainland: 2, intl: 2 },
  // instance types, zones and quotas
  // COMPAT: intl limit not seen in the intl docs; using the mainland value.
  DescribeAvailableCvmInstanceTypes: { mainland: 2, intl: 2 },
  // COMPAT: intl limit not seen in the intl docs; using the mainland value.
  DescribeCvmZoneInstanceConfigInfos: { mainland: 5, intl: 5 },
  // COMPAT: intl limit not seen in the intl docs; using the mainland value.
  DescribeInstanceCategories: { mainland: 20, intl: 20 },
};

/** A bucket idle for longer than this (and full) may be dropped. */
const IDLE_DROP_MS = 60_000;
/** Sweep idle buckets only once the map holds more than this many. */
const SWEEP_THRESHOLD = 5_000;
/** ... and at most this often. */
const SWEEP_INTERVAL_MS = 1_000;

interface Bucket {
  tokens: number;
  /** Last refill time (ms); buckets are refilled only when used, so this is also the last use. */
  updatedAt: number;
}

export class RateLimiter {
  readonly mode: RateLimitMode;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(mode: RateLimitMode, now: () => number /* ms */) {
    this.mode = mode;
    this.now = now;
  }

  /** Per-second limit (= burst) of `action` in the current mode; undefined when mode is 'off' or the action has none. */
  limitOf(action: string): number | undefined {
    if (this.mode === 'off') return undefined;
    const row = Object.hasOwn(RATE_LIMITS, action) ? RATE_LIMITS[action] : undefined;
    return row === undefined ? undefined : row[this.mode];
  }

  /** Number of live buckets (for tests and metrics). */
  get bucketCount(): number {
    return this.buckets.size;
  }

  /**
   * Token bucket per (action, accountId, region); burst = per-second limit. Returns true if allowed.
   * Actions without a limit (and every action in mode 'off') are always allowed.
   */
  tryTake(action: string, accountId: string, region: string): boolean {
    const limit = this.limitOf(action);
    if (limit === undefined) return true;
    const now = this.now();
    const key = `${action}\u0000${accountId}\u0000${region}`;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      this.maybeSweep(now);
      bucket = { tokens: limit, updatedAt: now };
      this.buckets.set(key, bucket);
    } else {
      refill(bucket, limit, now);
    }
    if (bucket.tokens >= 1 - 1e-9) {
      bucket.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Drops buckets that are full and idle for more than 60 s, once the map has grown large. */
  private maybeSweep(now: number): void {
    if (this.buckets.size < SWEEP_THRESHOLD || now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      const action = key.slice(0, key.indexOf('\u0000'));
      const limit = this.limitOf(action);
      if (limit === undefined) {
        this.buckets.delete(key);
        continue;
      }
      // read-only: refilling here would reset the idle time of buckets that were not used
      const idle = now - bucket.updatedAt;
      const tokens = Math.min(limit, bucket.tokens + (Math.max(0, idle) / 1000) * limit);
      if (idle > IDLE_DROP_MS && tokens >= limit) this.buckets.delete(key);
    }
  }
}

function refill(bucket: Bucket, limit: number, now: number): void {
  const elapsedMs = now - bucket.updatedAt;
  if (elapsedMs > 0) {
    bucket.tokens = Math.min(limit, bucket.tokens + (elapsedMs / 1000) * limit);
    bucket.updatedAt = now;
  }
}
