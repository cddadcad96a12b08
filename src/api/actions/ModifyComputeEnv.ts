// ModifyComputeEnv (batch-api.md §b): scale an environment, rename it, change its instance types.
import type { ActionFactory } from './types.ts';

export const ModifyComputeEnv: ActionFactory<'ModifyComputeEnv'> = (s) => (ctx, req) => s.envs.modify(ctx, req);
