// What the services need of the scheduler: the interfaces they talk to it through (the only module
// of scheduler/ they import, type-only): leaving commands for it, and a read-only view of what it runs.
import type { Command } from '../store/coordination.ts';
import type { RunningAttempt } from '../executors/types.ts';

/** How a command went: carried out, or refused with a reason the service turns into an API error. */
export type CommandOutcome = { done: true } | { done: false; reason: string };

export interface CommandSender {
  /** Leave a command in the store for the active scheduler. Resolves once it has been carried out
   *  and its changes are written (or refused); rejects when the store cannot take it. */
  send(cmd: Command): Promise<CommandOutcome>;
}

export interface SchedulerView {
  /** The compute nodes (instance ids) running an attempt now (TaskInstanceNumAvailable, scale-in
   *  order): the leading scheduler's own view; on a replica that does not lead, the store's instances
   *  STARTING or RUNNING on a node (as of the leader's last write, moments behind). */
  busyNodes(): Promise<ReadonlySet<string>>;
  /** What runs now (the monitor samples these). */
  runningAttempts(): RunningAttempt[];
}

/** How an attempt's end was decided (the `switch (outcome.kind)` of recordExit). */
export type AttemptEndOutcome = 'succeed' | 'retry' | 'requeue' | 'fail';

/** What the scheduler reports for metrics (optional in its options; src/metrics implements it, the
 *  scheduler never imports it). Calls are cheap and synchronous. */
export interface SchedulerMetrics {
  /** A tick took this long (seconds). */
  tick(seconds: number): void;
  /** A write-behind batch (store.applyBatch) took this long, and was written (ok) or failed. */
  storeWrite(seconds: number, ok: boolean): void;
  /** An attempt was started (made STARTING, before the executor is asked). */
  attemptStarted(): void;
  /** An attempt ended and its end was decided. */
  attemptEnded(outcome: AttemptEndOutcome): void;
}

/** The leading scheduler's in-memory figures, read at scrape time. */
export interface SchedulerGauges {
  /** Instances of active jobs by state (from the tasks' counts, instances without a row included). */
  instances: Record<string, number>;
  /** Active jobs by state. */
  jobs: Record<string, number>;
  /** Instances of ready tasks waiting for capacity (RUNNABLE instances of the ready queue's tasks). */
  queueDepth: number;
  /** The executor's local slots for anonymous tasks and how many are taken; undefined when its
   *  capacity is a queue (Slurm), which declares no number. */
  slots: { total: number; used: number } | undefined;
  /** Compute nodes of the named environments by node state, and how many of them run an instance. */
  nodes: { byState: Record<string, number>; busy: number };
}
