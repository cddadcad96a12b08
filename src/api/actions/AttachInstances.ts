// AttachInstances (batch-api.md §b): add operator-declared instances to an environment.
import type { ActionFactory } from './types.ts';

export const AttachInstances: ActionFactory<'AttachInstances'> = (s) => (ctx, req) => s.envs.attach(ctx, req);
