// DescribeJobMonitorData (batch-api.md §b): resource samples of one task instance.
import type { ActionFactory } from './types.ts';

export const DescribeJobMonitorData: ActionFactory<'DescribeJobMonitorData'> = (s) => (ctx, req) => s.monitor.describe(ctx, req);
