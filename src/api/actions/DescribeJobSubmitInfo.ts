// DescribeJobSubmitInfo (batch-api.md §b): the job definition as submitted (secrets masked).
import type { ActionFactory } from './index.ts';

export const DescribeJobSubmitInfo: ActionFactory<'DescribeJobSubmitInfo'> = (s) => (ctx, req) => s.jobs.describeJobSubmitInfo(ctx, req);
