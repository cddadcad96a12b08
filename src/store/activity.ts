// A new activity record of a compute node (CreateComputeEnv, scaling, attaching, terminating): built
// by the env service and by the scheduler's node lifecycle alike.
import { newId } from '../domain/ids.ts';
import type { ActivityRecord, NodeRecord } from './types.ts';

export function activity(envId: string, node: NodeRecord, type: ActivityRecord['type'], cause: string, now: number): ActivityRecord {
  return {
    id: newId('act'), envId, nodeId: node.id, type, cause, state: 'SUBMITTED', reason: '', startTime: now, endTime: null,
    instanceId: node.instanceId,
  };
}
