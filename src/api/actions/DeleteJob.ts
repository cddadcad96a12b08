// DeleteJob (batch-api.md §b): delete a finished job.
import type { ActionFactory } from './types.ts';

export const DeleteJob: ActionFactory<'DeleteJob'> = (s) => (ctx, req) => s.jobs.deleteJob(ctx, req);
