// TerminateJob (batch-api.md §b): terminate every instance of a job.
import type { ActionFactory } from './index.ts';

export const TerminateJob: ActionFactory<'TerminateJob'> = (s) => (ctx, req) => s.jobs.terminateJob(ctx, req);
