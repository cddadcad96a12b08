// TerminateJob (batch-api.md §b): terminate every instance of a job.
import type { ActionFactory } from './types.ts';

export const TerminateJob: ActionFactory<'TerminateJob'> = (s) => (ctx, req) => s.jobs.terminateJob(ctx, req);
