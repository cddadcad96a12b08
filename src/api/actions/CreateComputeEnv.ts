// CreateComputeEnv (batch-api.md §b): create a named compute environment of DesiredComputeNodeCount nodes.
import type { ActionFactory } from './types.ts';

export const CreateComputeEnv: ActionFactory<'CreateComputeEnv'> = (s) => (ctx, req) => s.envs.create(ctx, req);
