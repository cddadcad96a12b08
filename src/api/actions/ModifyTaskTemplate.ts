// ModifyTaskTemplate (batch-api.md §b): change the name, description or task of a template.
import type { ActionFactory } from './types.ts';

export const ModifyTaskTemplate: ActionFactory<'ModifyTaskTemplate'> = (s) => (ctx, req) => s.templates.modify(ctx, req);
