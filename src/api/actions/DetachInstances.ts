// DetachInstances (batch-api.md §b): remove attached instances from an environment.
import type { ActionFactory } from './types.ts';

export const DetachInstances: ActionFactory<'DetachInstances'> = (s) => (ctx, req) => s.envs.detach(ctx, req);
