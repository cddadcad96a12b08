// In-memory runtime of active jobs: the scheduler's working copy of what the store holds.
// Counts are kept per task and always equal the states of its instances (rows + the lazily
// materialised rest, which share the task's WaitInfo). Every change goes through setState()/
// moveImplicit() so that counts, the transition table and dirty tracking stay together.
import { transition, type State, isWaiting } from '../domain/states.ts';
import type { RunSpec } from '../domain/task-spec.ts';
import type { StopCause } from '../domain/outcome.ts';
import type { Handle } from '../executors/types.ts';
import type { InstanceRecord, JobRecord, TaskRecord } from '../store/types.ts';
import type { Resources } from '../domain/capacity.ts';
import type { NodeRt } from './env-pools.ts';
import type { EventDraft } from '../domain/events.ts';

export interface AttemptRt {
  key: string;
  task: TaskRt;
  inst: InstanceRecord;
  handle: Handle | null;
  /** Set when we asked the attempt to stop: why (shown as StateReason), whether to skip retries, and
   *  whether the instance goes back to waiting without using a retry (its node was taken away). */
  stop: StopCause | null;
  /** The executor was asked to stop it (it escalates to a forced stop by itself). */
  stopSent: boolean;
  /** The compute node of a named environment the attempt runs on (null: the anonymous local pool, or
   *  an engine queue). */
  node: NodeRt | null;
  /** What an attempt on the anonymous pool holds of the host while it runs (null: on a node). */
  held: Resources | null;
  /** When its Timeout is up (ms epoch). */
  deadline: number;
  launched: boolean;
}

/** An attempt accepted by an engine queue that has not started running there yet. */
export function waitsInEngine(a: AttemptRt): boolean {
  return a.launched && a.handle !== null && a.inst.state === 'STARTING';
}

export class JobRt {
  readonly tasks = new Map<string, TaskRt>();
  readonly order: TaskRt[] = [];
  readonly upstream = new Map<string, TaskRt[]>();
  readonly downstream = new Map<string, TaskRt[]>();
  /** Tasks in a topological order of the DAG. */
  topo: TaskRt[] = [];
  constructor(public rec: JobRecord) {}
  get id(): string {
    return this.rec.id;
  }
  /** Submission order, from the database. */
  get seq(): number {
    return this.rec.seq;
  }
}

export class TaskRt {
  /** Materialised rows that wait (retry pending, reset by RetryJobs), FIFO. */
  readonly waitingRows: InstanceRecord[] = [];
  /** Indexes of rows at or beyond the cursor (finished without running, e.g. terminated early). */
  readonly ahead = new Set<number>();
  /** Attempts that show STARTING/RUNNING: from their start until their end is recorded. */
  readonly running = new Map<number, AttemptRt>();
  inReady = false;
  /** Nodes of the task's anonymous compute environment that are idle now (instance ids). They are
   *  created when the task needs one more node and released when the task finishes. */
  readonly idleAnonNodes: string[] = [];
  /** InstanceType of the anonymous compute environment (first of InstanceTypes), if any. */
  readonly instanceType: string | undefined;
  /** The named compute environment the task runs on (EnvId), if any. */
  readonly envId: string | undefined;
  /** vCPUs and memory of its instance type (anonymous environments; set by the scheduler). */
  resources: Resources | null = null;
  /** The engine queue its instances are submitted to (a THPC_QUEUE environment, or the anonymous
   *  queue): the engine queues what it cannot run yet, so they take no local slot or node. */
  queue: string | undefined;
  constructor(
    readonly job: JobRt,
    public rec: TaskRecord,
    readonly spec: RunSpec,
  ) {
    const ed = (rec.spec.ComputeEnv as { EnvData?: { InstanceType?: string; InstanceTypes?: string[] } } | undefined)?.EnvData;
    this.instanceType = ed?.InstanceType ?? ed?.InstanceTypes?.[0];
    this.envId = typeof rec.spec.EnvId === 'string' ? rec.spec.EnvId : undefined;
  }
  get name(): string {
    return this.rec.name;
  }
  /** Instances without a row: they all share rec.wait. */
  get implicitCount(): number {
    return this.rec.instanceNum - this.rec.cursor - this.ahead.size;
  }
  /** It can start while the anonymous local slots are full (a named environment, or a queue). */
  get ownCapacity(): boolean {
    return this.envId !== undefined || this.queue !== undefined;
  }
  hasWaiting(): boolean {
    return this.waitingRows.length > 0 || (this.implicitCount > 0 && isWaiting(this.rec.wait.state));
  }
}

export interface Dirty {
  jobs: Set<JobRt>;
  tasks: Set<TaskRt>;
  instances: Map<string, InstanceRecord>;
  /** State changes since the last write, in order (written with them: the event stream). */
  events: PendingEvent[];
}

/** An event not written yet. An instance's carries the instance: its reason and exit code are read
 *  when the event is written, if the instance is still in the event's state (they are set after the
 *  change of state); time 0 is the time of writing. */
export type PendingEvent = EventDraft & { inst?: InstanceRecord };

export function instKey(jobId: string, taskName: string, index: number): string {
  return `${jobId}\u0000${taskName}\u0000${index}`;
}

/** Change one materialised instance's state, keeping the task's counts in step. */
export function setState(task: TaskRt, inst: InstanceRecord, to: State, dirty: Dirty): void {
  const from = inst.state;
  if (from === to) return;
  transition(from, to, `instance ${inst.jobId}/${inst.taskName}/${inst.index}`);
  task.rec.counts[from] -= 1;
  task.rec.counts[to] += 1;
  inst.state = to;
  dirty.instances.set(instKey(inst.jobId, inst.taskName, inst.index), inst);
  dirty.tasks.add(task);
  dirty.events.push({
    account: task.job.rec.account, region: task.job.rec.region, kind: 'instance', time: 0, jobId: inst.jobId, taskName: inst.taskName, index: inst.index,
    // a start's attempt number is counted up just after
    attempt: to === 'STARTING' ? inst.attempt + 1 : inst.attempt, state: to, inst,
  });
}

/** Move every instance without a row (and every waiting row) to a new waiting/failed state. */
export function moveWaiting(
  task: TaskRt, to: State, reason: string, detail: string, now: number, dirty: Dirty,
): void {
  const w = task.rec.wait;
  const n = task.implicitCount;
  if (w.state !== to) {
    if (n > 0) transition(w.state, to, `instances of task ${task.job.id}/${task.name}`);
    task.rec.counts[w.state] -= n;
    task.rec.counts[to] += n;
  }
  if (n > 0 && (w.state !== to || w.reason !== reason)) {
    // the instances without a row move together: one event for the range (rows ahead of the cursor excepted)
    dirty.events.push({
      account: task.job.rec.account, region: task.job.rec.region, kind: 'instances', time: now, jobId: task.job.id, taskName: task.name,
      index: task.rec.cursor, toIndex: task.rec.instanceNum, state: to, reason,
    });
  }
  w.state = to;
  w.reason = reason;
  w.detail = detail;
  w.endTime = isWaiting(to) ? null : now;
  dirty.tasks.add(task);
  if (!isWaiting(to)) {
    // waiting rows end too
    for (const inst of task.waitingRows.splice(0)) {
      setState(task, inst, to, dirty);
      inst.stateReason = reason;
      inst.stateDetail = detail;
      inst.endTime = now;
      inst.exitCode = null;
    }
  } else {
    for (const inst of task.waitingRows) setState(task, inst, to, dirty);
  }
}
