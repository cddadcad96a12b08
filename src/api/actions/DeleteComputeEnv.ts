// DeleteComputeEnv (batch-api.md §b): delete an environment (its nodes drain first).
import type { ActionFactory } from './types.ts';

export const DeleteComputeEnv: ActionFactory<'DeleteComputeEnv'> = (s) => (ctx, req) => s.envs.delete(ctx, req);
