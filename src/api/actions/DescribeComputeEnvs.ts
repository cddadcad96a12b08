// DescribeComputeEnvs (batch-api.md §b): paged list of compute environments.
import type { ActionFactory } from './types.ts';

export const DescribeComputeEnvs: ActionFactory<'DescribeComputeEnvs'> = (s) => (ctx, req) => s.envs.describeEnvs(ctx, req);
