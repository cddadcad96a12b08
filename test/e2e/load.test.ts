// The load test at CI scale (npm run load: 100 clients for 60 s, three runs): no error but the
// expected ones, every action answered, memory reported per run.
import { describe, expect, it } from 'vitest';
import { loadRuns } from '../../load/load.ts';
import '../helpers/server.ts';

describe('load', () => {
  it('serves 20 concurrent clients mixing job actions with no unexpected error', async () => {
    const [r] = await loadRuns({ clients: 20, seconds: 5, rateLimits: 'off', slots: 8 }, 1);
    expect(r!.unexpectedErrors).toBe(0);
    expect(Object.keys(r!.latency).sort()).toEqual(['DescribeJob', 'DescribeJobs', 'DescribeTask', 'DescribeTaskLogs', 'SubmitJob', 'TerminateJob']);
    expect(r!.requests).toBeGreaterThan(100);
  }, 120_000);

  it('answers RequestLimitExceeded, and nothing else unexpected, when the intl limits are on', async () => {
    const [r] = await loadRuns({ clients: 10, seconds: 3, rateLimits: 'intl', slots: 4 }, 1);
    expect(r!.unexpectedErrors).toBe(0);
    expect(r!.errors.RequestLimitExceeded).toBeGreaterThan(0);
  }, 120_000);
});
