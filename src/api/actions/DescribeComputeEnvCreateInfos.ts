// DescribeComputeEnvCreateInfos (batch-api.md §b): paged list of creation parameters.
import type { ActionFactory } from './types.ts';

export const DescribeComputeEnvCreateInfos: ActionFactory<'DescribeComputeEnvCreateInfos'> = (s) => (ctx, req) => s.envs.describeCreateInfos(ctx, req);
