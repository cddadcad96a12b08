// DescribeAvailableCvmInstanceTypes (batch-api.md §b): instance types usable by Batch, per zone.
import type { ActionFactory } from './types.ts';

export const DescribeAvailableCvmInstanceTypes: ActionFactory<'DescribeAvailableCvmInstanceTypes'> = (s) => (ctx, req) => s.catalogue.describeAvailableCvmInstanceTypes(ctx, req);
