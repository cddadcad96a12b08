// DescribeJobSubmitInfo (batch-api.md §b): the job definition as submitted (secrets masked).
import type { ActionFactory } from './types.ts';

export const DescribeJobSubmitInfo: ActionFactory<'DescribeJobSubmitInfo'> = (s) => (ctx, req) => s.jobs.describeJobSubmitInfo(ctx, req);
