// DescribeComputeEnvActivities (batch-api.md §b): node create/terminate activities of an environment.
import type { ActionFactory } from './types.ts';

export const DescribeComputeEnvActivities: ActionFactory<'DescribeComputeEnvActivities'> = (s) => (ctx, req) => s.envs.describeActivities(ctx, req);
