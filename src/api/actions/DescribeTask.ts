// DescribeTask (batch-api.md §b): one task with a page of its instances.
import type { ActionFactory } from './types.ts';

export const DescribeTask: ActionFactory<'DescribeTask'> = (s) => (ctx, req) => s.jobs.describeTask(ctx, req);
