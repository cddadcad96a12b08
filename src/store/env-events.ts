// Events of compute environments and their nodes (docs/events.md), built by the env service (what a
// user asked: an env created or being deleted, nodes added or being deleted) and by the scheduler's
// node lifecycle (nodes up, nodes and envs gone) alike, and written in the same transaction as the
// change (EnvBatch.events, insertEnvWithNodes). Each carries the env's Notifications, so that the
// webhooks can deliver it also once the env is gone, and a node's event the jobs on the env that asked
// for node events when it happened (wantsNodeEventsOf).
import type { EventDraft, EventSubscription } from '../domain/events.ts';
import type { EnvRecord, NodeRecord } from './types.ts';

export type EnvEventState = 'CREATED' | 'DELETING' | 'DELETED';

function about(env: EnvRecord, time: number): Omit<EventDraft, 'kind' | 'state'> {
  const notify = env.info.ComputeEnv.Notifications as EventSubscription[] | undefined;
  return { account: env.account, region: env.region, time, envId: env.id, envName: env.name, ...(notify?.length ? { notify } : {}) };
}

/** The env's own event. */
export function envEvent(env: EnvRecord, state: EnvEventState, time: number): EventDraft {
  return { ...about(env, time), kind: 'env', state };
}

/** A node's event: it is now in `state` (by default the state its record has); `jobs` watch it. */
export function nodeEvent(env: EnvRecord, node: NodeRecord, time: number, jobs: readonly string[], state: string = node.state): EventDraft {
  return {
    ...about(env, time), kind: 'node', state, nodeId: node.id, instanceId: node.instanceId, cpu: node.cpu, mem: node.mem, created: node.createdTime,
    ...(jobs.length > 0 ? { jobs: [...jobs] } : {}),
  };
}

/** The events of nodes whose records hold their new state (added: CREATING, going: DELETING). */
export function nodeEvents(env: EnvRecord, nodes: readonly NodeRecord[], time: number, jobs: readonly string[]): EventDraft[] {
  return nodes.map((n) => nodeEvent(env, n, time, jobs));
}
