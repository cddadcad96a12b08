// DescribeComputeEnv (batch-api.md §b): one compute environment with every node.
import type { ActionFactory } from './types.ts';

export const DescribeComputeEnv: ActionFactory<'DescribeComputeEnv'> = (s) => (ctx, req) => s.envs.describe(ctx, req);
