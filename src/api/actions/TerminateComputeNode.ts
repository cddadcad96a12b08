// TerminateComputeNode (batch-api.md §b): destroy one compute node; what ran on it runs again elsewhere.
import type { ActionFactory } from './types.ts';

export const TerminateComputeNode: ActionFactory<'TerminateComputeNode'> = (s) => (ctx, req) => s.envs.terminateNode(ctx, req);
