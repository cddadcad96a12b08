// DeleteTaskTemplates (batch-api.md §b): delete task templates (all or none).
import type { ActionFactory } from './types.ts';

export const DeleteTaskTemplates: ActionFactory<'DeleteTaskTemplates'> = (s) => (ctx, req) => s.templates.delete(ctx, req);
