// TerminateComputeNodes (batch-api.md §b): destroy several compute nodes (no node twice).
import type { ActionFactory } from './types.ts';

export const TerminateComputeNodes: ActionFactory<'TerminateComputeNodes'> = (s) => (ctx, req) => s.envs.terminateNodes(ctx, req);
