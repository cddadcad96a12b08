import { describe, it, expect } from 'vitest';
import { RATE_LIMITS, RateLimiter as Limiter } from '../../src/api/ratelimit.ts';
import { MemoryLimits } from '../../src/store/memory-limits.ts';
import { RATE_LIMIT_MODES, type RateLimitMode } from '../../src/config/choices.ts';

// The 30 actions of batch-api.md §b / §f.1.
const ACTIONS = [
  'AttachInstances',
  'CreateComputeEnv',
  'CreateTaskTemplate',
  'DeleteComputeEnv',
  'DeleteJob',
  'DeleteTaskTemplates',
  'DescribeAvailableCvmInstanceTypes',
  'DescribeComputeEnv',
  'DescribeComputeEnvActivities',
  'DescribeComputeEnvCreateInfo',
  'DescribeComputeEnvCreateInfos',
  'DescribeComputeEnvs',
  'DescribeCvmZoneInstanceConfigInfos',
  'DescribeInstanceCategories',
  'DescribeJob',
  'DescribeJobMonitorData',
  'DescribeJobSubmitInfo',
  'DescribeJobs',
  'DescribeTask',
  'DescribeTaskLogs',
  'DescribeTaskTemplates',
  'DetachInstances',
  'ModifyComputeEnv',
  'ModifyTaskTemplate',
  'RetryJobs',
  'SubmitJob',
  'TerminateComputeNode',
  'TerminateComputeNodes',
  'TerminateJob',
  'TerminateTaskInstance',
];

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

/** A limiter over in-memory buckets (the SQLite store's); `bucketCount` shows how many it holds. */
class RateLimiter extends Limiter {
  private readonly mem: MemoryLimits;
  constructor(mode: RateLimitMode, now: () => number, mem = new MemoryLimits()) {
    super(mode, now, async (k, l, t) => mem.takeToken(k, l, t));
    this.mem = mem;
  }
  get bucketCount(): number {
    return this.mem.bucketCount;
  }
}

async function takeAll(rl: RateLimiter, action: string, account = 'acc', region = 'ap-guangzhou', max = 1000): Promise<number> {
  let n = 0;
  while (n < max && (await rl.tryTake(action, account, region))) n++;
  return n;
}

describe('RATE_LIMITS table', () => {
  it('has exactly the 30 actions, each with a positive integer limit in both tables', async () => {
    expect(ACTIONS).toHaveLength(30);
    expect(Object.keys(RATE_LIMITS).sort()).toEqual([...ACTIONS].sort());
    for (const a of ACTIONS) {
      const row = RATE_LIMITS[a];
      expect(row, a).toBeDefined();
      expect(Number.isInteger(row?.mainland) && (row?.mainland ?? 0) > 0, `${a} mainland`).toBe(true);
      expect(Number.isInteger(row?.intl) && (row?.intl ?? 0) > 0, `${a} intl`).toBe(true);
    }
  });

  it('uses the §f.1 values (spot checks, incl. COMPAT choices)', async () => {
    expect(RATE_LIMITS.DescribeTask).toEqual({ mainland: 20, intl: 3 });
    expect(RATE_LIMITS.DescribeJob).toEqual({ mainland: 50, intl: 2 });
    expect(RATE_LIMITS.SubmitJob).toEqual({ mainland: 20, intl: 7 });
    expect(RATE_LIMITS.DeleteJob).toEqual({ mainland: 30, intl: 30 });
    expect(RATE_LIMITS.DescribeComputeEnvs).toEqual({ mainland: 10, intl: 2 });
    // intl "not seen" -> mainland value
    expect(RATE_LIMITS.DescribeJobMonitorData).toEqual({ mainland: 20, intl: 20 });
    expect(RATE_LIMITS.TerminateJob).toEqual({ mainland: 10, intl: 10 });
    expect(RATE_LIMITS.DescribeAvailableCvmInstanceTypes).toEqual({ mainland: 2, intl: 2 });
    expect(RATE_LIMITS.DescribeCvmZoneInstanceConfigInfos).toEqual({ mainland: 5, intl: 5 });
    expect(RATE_LIMITS.DescribeInstanceCategories).toEqual({ mainland: 20, intl: 20 });
  });

  it('exposes the three modes', async () => {
    expect([...RATE_LIMIT_MODES]).toEqual(['intl', 'mainland', 'off']);
  });
});

describe('RateLimiter', () => {
  it('limitOf follows the mode', async () => {
    const c = clock();
    for (const a of ACTIONS) {
      expect(new RateLimiter('intl', c.now).limitOf(a)).toBe(RATE_LIMITS[a]?.intl);
      expect(new RateLimiter('mainland', c.now).limitOf(a)).toBe(RATE_LIMITS[a]?.mainland);
      expect(new RateLimiter('off', c.now).limitOf(a)).toBeUndefined();
    }
    expect(new RateLimiter('intl', c.now).limitOf('NoSuchAction')).toBeUndefined();
    expect(new RateLimiter('intl', c.now).limitOf('toString')).toBeUndefined();
  });

  it('allows a burst equal to the per-second limit, then refuses', async () => {
    for (const mode of ['intl', 'mainland'] as RateLimitMode[]) {
      for (const a of ACTIONS) {
        const rl = new RateLimiter(mode, clock().now);
        expect(await takeAll(rl, a), `${mode} ${a}`).toBe(rl.limitOf(a));
        expect(await rl.tryTake(a, 'acc', 'ap-guangzhou')).toBe(false);
      }
    }
  });

  it('refills continuously at the limit per second, capped at the burst', async () => {
    const c = clock();
    const rl = new RateLimiter('intl', c.now); // DescribeTask: 3/s
    expect(await takeAll(rl, 'DescribeTask')).toBe(3);
    c.t += 200; // 0.6 token
    expect(await rl.tryTake('DescribeTask', 'acc', 'ap-guangzhou')).toBe(false);
    c.t += 134; // ~1.002 tokens in total
    expect(await rl.tryTake('DescribeTask', 'acc', 'ap-guangzhou')).toBe(true);
    expect(await rl.tryTake('DescribeTask', 'acc', 'ap-guangzhou')).toBe(false);
    c.t += 1000; // 3 tokens
    expect(await takeAll(rl, 'DescribeTask')).toBe(3);
    c.t += 3_600_000; // a long idle period does not exceed the burst
    expect(await takeAll(rl, 'DescribeTask')).toBe(3);
  });

  it('sustains exactly the rate over time', async () => {
    const c = clock();
    const rl = new RateLimiter('mainland', c.now); // SubmitJob: 20/s
    let allowed = 0;
    for (let ms = 0; ms < 10_000; ms += 10) {
      c.t += 10;
      for (let i = 0; i < 5; i++) if (await rl.tryTake('SubmitJob', 'acc', 'r')) allowed++;
    }
    // 20 burst + 20/s * 10 s
    expect(allowed).toBeGreaterThanOrEqual(219);
    expect(allowed).toBeLessThanOrEqual(220);
  });

  it('keeps separate buckets per action, account and region', async () => {
    const c = clock();
    const rl = new RateLimiter('intl', c.now);
    expect(await takeAll(rl, 'DescribeJob', 'a', 'ap-guangzhou')).toBe(2);
    expect(await takeAll(rl, 'DescribeJobs', 'a', 'ap-guangzhou')).toBe(2);
    expect(await takeAll(rl, 'DescribeJob', 'b', 'ap-guangzhou')).toBe(2);
    expect(await takeAll(rl, 'DescribeJob', 'a', 'ap-shanghai')).toBe(2);
    expect(await takeAll(rl, 'DescribeJob', 'a', '')).toBe(2);
    expect(await rl.tryTake('DescribeJob', 'a', 'ap-guangzhou')).toBe(false);
    expect(rl.bucketCount).toBe(5);
  });

  it("'off' mode never limits", async () => {
    const rl = new RateLimiter('off', clock().now);
    for (const a of ACTIONS) expect(await takeAll(rl, a, 'acc', 'r', 500)).toBe(500);
    expect(rl.bucketCount).toBe(0);
  });

  it('does not limit actions without a table entry', async () => {
    const rl = new RateLimiter('intl', clock().now);
    expect(await takeAll(rl, 'NoSuchAction', 'acc', 'r', 100)).toBe(100);
  });

  it('keeps memory bounded: full buckets idle for more than 60 s are dropped when the map grows', async () => {
    const c = clock();
    const rl = new RateLimiter('intl', c.now);
    for (let i = 0; i < 6_000; i++) await rl.tryTake('DescribeJob', `acc-${i}`, 'ap-guangzhou');
    expect(rl.bucketCount).toBe(6_000);
    c.t += 30_000;
    await rl.tryTake('DescribeJob', 'recent', 'ap-guangzhou'); // idle only 30 s: nothing dropped
    expect(rl.bucketCount).toBe(6_001);
    c.t += 31_000;
    await rl.tryTake('DescribeJob', 'acc-0', 'ap-guangzhou'); // existing bucket: no sweep needed
    await rl.tryTake('DescribeJob', 'new-account', 'ap-guangzhou'); // new bucket: sweep
    // acc-0 (just used), 'recent' (idle 31 s) and new-account survive
    expect(rl.bucketCount).toBe(3);
    expect(await rl.tryTake('DescribeJob', 'acc-0', 'ap-guangzhou')).toBe(true);
    expect(await rl.tryTake('DescribeJob', 'acc-0', 'ap-guangzhou')).toBe(false);
  });
});
