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
  /** Is a compute node running an attempt now? (TaskInstanceNumAvailable; this replica's view) */
  nodeBusy(instanceId: string): boolean;
  /** What runs now (the monitor samples these). */
  runningAttempts(): RunningAttempt[];
}
