// DescribeJobs (batch-api.md §b): paged list of jobs by JobIds or Filters.
import type { ActionFactory } from './types.ts';

export const DescribeJobs: ActionFactory<'DescribeJobs'> = (s) => (ctx, req) => s.jobs.describeJobs(ctx, req);
