// SubmitJob (batch-api.md §b): submit a job (a DAG of tasks); returns its JobId.
import type { ActionFactory } from './types.ts';

export const SubmitJob: ActionFactory<'SubmitJob'> = (s) => (ctx, req) => s.jobs.submitJob(ctx, req);
