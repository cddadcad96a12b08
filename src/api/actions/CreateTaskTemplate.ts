// CreateTaskTemplate (batch-api.md §b): store a reusable Task definition under a name.
import type { ActionFactory } from './types.ts';

export const CreateTaskTemplate: ActionFactory<'CreateTaskTemplate'> = (s) => (ctx, req) => s.templates.create(ctx, req);
