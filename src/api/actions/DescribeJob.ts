// DescribeJob (batch-api.md §b): full view of one job.
import type { ActionFactory } from './types.ts';

export const DescribeJob: ActionFactory<'DescribeJob'> = (s) => (ctx, req) => s.jobs.describeJob(ctx, req);
