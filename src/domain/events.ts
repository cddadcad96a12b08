// State-change events (docs/events.md): what the event stream and the webhooks carry. The scheduler
// records one for every state change of a job, a task, a materialised instance and every attempt's
// end; the instances of a task that have no row yet move together (one `instances` event for the
// range). Compute environments and their nodes have events too (created, being deleted, deleted; a
// node's CREATING → CREATED → RUNNING → DELETING → DELETED), written with the env change. Each is
// numbered by the store (Seq, one sequence for the deployment) in the transaction that writes the
// change, so that a reader that resumes after its last Seq misses nothing and sees nothing
// twice. EventName is Tencent's name of the change where it has one (JOB_RUNNING, TASK_INSTANCE_FAILED …).
import type { State } from './states.ts';
import { isoSeconds } from '../lib/clock.ts';

export type EventKind = 'job' | 'task' | 'instance' | 'instances' | 'attempt' | 'env' | 'node';

/** An event as the scheduler records it (no Seq yet). Short member names: many are kept. */
export interface EventDraft {
  /** Owner (account and region) of the job or environment. */
  account: string;
  region: string;
  kind: EventKind;
  /** ms since the epoch. */
  time: number;
  jobId?: string;
  taskName?: string;
  index?: number;
  /** `instances`: the indexes [index, toIndex) that moved. */
  toIndex?: number;
  attempt?: number;
  envId?: string;
  nodeId?: string;
  state: string;
  reason?: string;
  exitCode?: number | null;
  /** env and node events: the environment's name. */
  envName?: string;
  /** node events: the node's instance id, vCPUs, memory (GiB) and when it was created (ms). */
  instanceId?: string;
  cpu?: number;
  mem?: number;
  created?: number;
  /** env and node events: the Notifications the environment asked for at CreateComputeEnv (for
   *  the webhooks, also once the env is gone); never shown on the stream. */
  notify?: EventSubscription[];
  /** node events: the jobs that had not ended, run tasks on the node's environment and asked for
   *  COMPUTE_NODE_* events when it happened (their webhooks get it); never shown on the stream. */
  jobs?: string[];
}

/** One Notification of SubmitJob or CreateComputeEnv: a topic and the events asked for on it. */
export interface EventSubscription {
  TopicName: string;
  EventConfigs: { EventName: string; EventVars?: { Name: string; Value: string }[] }[];
}

/** Whether a Job (wire shape, as submitted) asks for COMPUTE_NODE_* events and runs a task on `envId`:
 *  it then gets the events of that environment's nodes while it has not ended. */
// COMPAT: Tencent's job node events are those of its anonymous env's nodes, which OpenBatch has not (docs/compat.md)
export function wantsNodeEventsOf(job: Record<string, unknown>, envId: string): boolean {
  const subs = (job.Notifications ?? []) as EventSubscription[];
  if (!subs.some((n) => n.EventConfigs.some((c) => c.EventName.startsWith('COMPUTE_NODE_')))) return false;
  return ((job.Tasks ?? []) as { EnvId?: string }[]).some((t) => t.EnvId === envId);
}

/** An event as the stream and the webhooks show it. */
export interface ChangeEvent {
  Seq: number;
  Time: string;
  Kind: EventKind;
  EventName: string | null;
  JobId?: string;
  TaskName?: string;
  TaskInstanceIndex?: number;
  /** `instances`: the end (exclusive) of the range of indexes that moved. */
  TaskInstanceIndexEnd?: number;
  Attempt?: number;
  EnvId?: string;
  EnvName?: string;
  ComputeNodeId?: string;
  ComputeNodeInstanceId?: string;
  State: string;
  Reason?: string;
  ExitCode?: number | null;
}

/** Job, task and instance states with a Tencent event. */
const NAMED: ReadonlySet<string> = new Set<State>(['RUNNING', 'SUCCEED', 'FAILED', 'FAILED_INTERRUPTED']);

/** Tencent's event name of a change, or null when Tencent has none for it. */
export function eventNameOf(kind: EventKind, state: string): string | null {
  switch (kind) {
    case 'job': return NAMED.has(state) ? `JOB_${state}` : null;
    case 'task': return NAMED.has(state) ? `TASK_${state}` : null;
    case 'instance':
    case 'instances': return NAMED.has(state) ? `TASK_INSTANCE_${state}` : null;
    case 'env': return state === 'CREATED' || state === 'DELETED' ? `COMPUTE_ENV_${state}` : null;
    case 'node': return ['CREATED', 'CREATION_FAILED', 'RUNNING', 'ABNORMAL', 'DELETING'].includes(state) ? `COMPUTE_NODE_${state}` : null;
    default: return null;
  }
}

/** The wire form of a stored event. */
export function eventView(seq: number, d: EventDraft): ChangeEvent {
  const e: ChangeEvent = { Seq: seq, Time: isoSeconds(d.time), Kind: d.kind, EventName: eventNameOf(d.kind, d.state), State: d.state };
  if (d.jobId !== undefined) e.JobId = d.jobId;
  if (d.taskName !== undefined) e.TaskName = d.taskName;
  if (d.index !== undefined) e.TaskInstanceIndex = d.index;
  if (d.toIndex !== undefined) e.TaskInstanceIndexEnd = d.toIndex;
  if (d.attempt !== undefined) e.Attempt = d.attempt;
  if (d.envId !== undefined) e.EnvId = d.envId;
  if (d.envName !== undefined) e.EnvName = d.envName;
  if (d.nodeId !== undefined) e.ComputeNodeId = d.nodeId;
  if (d.instanceId !== undefined) e.ComputeNodeInstanceId = d.instanceId;
  if (d.reason !== undefined && d.reason !== '') e.Reason = d.reason;
  if (d.exitCode !== undefined) e.ExitCode = d.exitCode;
  return e;
}
