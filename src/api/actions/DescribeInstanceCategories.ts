// DescribeInstanceCategories (batch-api.md §b): instance categories and their families.
import type { ActionFactory } from './types.ts';

export const DescribeInstanceCategories: ActionFactory<'DescribeInstanceCategories'> = (s) => (ctx, req) => s.catalogue.describeInstanceCategories(ctx, req);
