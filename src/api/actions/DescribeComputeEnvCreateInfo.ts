// DescribeComputeEnvCreateInfo (batch-api.md §b): the creation parameters of one environment (secrets masked).
import type { ActionFactory } from './types.ts';

export const DescribeComputeEnvCreateInfo: ActionFactory<'DescribeComputeEnvCreateInfo'> = (s) => (ctx, req) => s.envs.describeCreateInfo(ctx, req);
