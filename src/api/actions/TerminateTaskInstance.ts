// TerminateTaskInstance (batch-api.md §b): terminate one task instance.
import type { ActionFactory } from './types.ts';

export const TerminateTaskInstance: ActionFactory<'TerminateTaskInstance'> = (s) => (ctx, req) => s.jobs.terminateTaskInstance(ctx, req);
