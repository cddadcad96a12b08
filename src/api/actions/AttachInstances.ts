// AttachInstances (batch-api.md §b): add operator-declared instances to an environment.
import type { ActionFactory } from './index.ts';

export const AttachInstances: ActionFactory<'AttachInstances'> = (s) => (ctx, req) => s.envs.attach(ctx, req);
