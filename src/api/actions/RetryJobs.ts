// RetryJobs (batch-api.md §b): re-run the failed instances of FAILED jobs.
import type { ActionFactory } from './types.ts';

export const RetryJobs: ActionFactory<'RetryJobs'> = (s) => (ctx, req) => s.jobs.retryJobs(ctx, req);
