// Per-action request-rate limits (batch-api.md §f.1): a token bucket per (action, account, region),
// burst = the per-second limit, refilled continuously at that many tokens per second.
// Exceeding a limit is answered with RequestLimitExceeded by the caller. The buckets live behind the
// store (Store.takeRateToken), so that they hold for the deployment as a whole.
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

/** The same for the OpenBatch extension actions (extension-models.ts): reading attempts and logs is
 *  cheap, and a client following logs reads one page after another. */
export const EXTENSION_RATE_LIMITS: Record<string, { mainland: number; intl: number }> = {
  DescribeAttempts: { mainland: 20, intl: 20 },
  DescribeAttemptLog: { mainland: 50, intl: 50 },
  // connections to the event stream (a client that reconnects after each disconnect)
  StreamEvents: { mainland: 10, intl: 10 },
};

/** Takes one token of the bucket `key` (burst = perSecond, refilled at perSecond a second): true when
 *  taken. The store's takeRateToken, so that a limit holds for every replica sharing it. */
export type TokenTaker = (key: string, perSecond: number, nowMs: number) => Promise<boolean>;

export class RateLimiter {
  readonly mode: RateLimitMode;

  constructor(mode: RateLimitMode, private readonly now: () => number /* ms */, private readonly take: TokenTaker) {
    this.mode = mode;
  }

  /** Per-second limit (= burst) of `action` in the current mode; undefined when mode is 'off' or the action has none. */
  limitOf(action: string): number | undefined {
    if (this.mode === 'off') return undefined;
    const row = Object.hasOwn(RATE_LIMITS, action) ? RATE_LIMITS[action] : Object.hasOwn(EXTENSION_RATE_LIMITS, action) ? EXTENSION_RATE_LIMITS[action] : undefined;
    return row === undefined ? undefined : row[this.mode];
  }

  /**
   * One token of the bucket of (action, accountId, region); burst = per-second limit. True if allowed.
   * Actions without a limit (and every action in mode 'off') are always allowed, without asking the store.
   */
  async tryTake(action: string, accountId: string, region: string): Promise<boolean> {
    const limit = this.limitOf(action);
    if (limit === undefined) return true;
    return this.take(`${action}\u0000${accountId}\u0000${region}`, limit, this.now());
  }
}
