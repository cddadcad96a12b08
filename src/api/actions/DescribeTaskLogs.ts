// DescribeTaskLogs (batch-api.md §b): stdout/stderr tails of task instances.
import type { ActionFactory } from './types.ts';

export const DescribeTaskLogs: ActionFactory<'DescribeTaskLogs'> = (s) => (ctx, req) => s.jobs.describeTaskLogs(ctx, req);
