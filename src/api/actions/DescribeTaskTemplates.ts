// DescribeTaskTemplates (batch-api.md §b): paged list of task templates by IDs or Filters.
import type { ActionFactory } from './types.ts';

export const DescribeTaskTemplates: ActionFactory<'DescribeTaskTemplates'> = (s) => (ctx, req) => s.templates.describe(ctx, req);
