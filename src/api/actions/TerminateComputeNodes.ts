// TerminateComputeNodes (batch-api.md §b): destroy several compute nodes (no node twice).
import type { ActionFactory } from './index.ts';

export const TerminateComputeNodes: ActionFactory<'TerminateComputeNodes'> = (s) => (ctx, req) =>
  s.envs.terminateNodes(ctx, req.EnvId, req.ComputeNodeIds, 'ComputeNodeIds', 'TerminateComputeNodes');
