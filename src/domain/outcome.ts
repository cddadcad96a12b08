// What happens to an instance when an attempt of it has ended: a pure decision from how it ended,
// why it was stopped (if it was), the retries it has used and the task's rules. The scheduler applies
// the outcome; the table tests in test/unit/outcome.test.ts walk every branch.
import { gib } from './units.ts';

/** How an attempt ended (the executor's ExitInfo). */
export interface AttemptExit {
  exitCode: number | null;
  signal: string | null;
  oom?: boolean;
  /** Why it ended, as the engine tells it (cancelled in Slurm, Slurm's time limit). */
  cause?: { reason: string; detail: string };
}

/** Why the scheduler stopped the attempt: shown as the reason; `final` skips retries (terminations);
 *  `requeue` sends the instance back to waiting without using a retry (its node was taken away). */
export interface StopCause {
  reason: string;
  detail: string;
  final: boolean;
  requeue?: boolean;
}

export type Outcome =
  | { kind: 'succeed' }
  | { kind: 'requeue'; reason: string; detail: string }
  | { kind: 'retry'; reason: string; detail: string; retry: number }
  | { kind: 'fail'; interrupt: boolean; reason: string; detail: string };

export interface ExitFacts {
  exit: AttemptExit;
  stop: StopCause | null;
  /** Retries this instance has used before this attempt. */
  retriesUsed: number;
  maxRetry: number;
  failedAction: string;
  /** The job is being terminated (NextAction TERMINATING): nothing is retried. */
  jobTerminating: boolean;
  /** The instance type and memory of where it ran, for an out-of-memory reason. */
  instanceType?: string;
  memGiB?: number;
}

export function decideAfterExit(f: ExitFacts): Outcome {
  if (f.stop?.requeue) return { kind: 'requeue', reason: f.stop.reason, detail: f.stop.detail };
  // an attempt whose command exited 0 fails all the same when the executor says why (its outputs could
  // not be uploaded)
  if (f.exit.exitCode === 0 && !f.stop && !f.exit.cause) return { kind: 'succeed' };
  const { reason, detail } = f.stop ?? describeExit(f.exit, f.instanceType, f.memGiB);
  const canRetry = !(f.stop?.final ?? false) && f.retriesUsed < f.maxRetry && !f.jobTerminating;
  if (canRetry) return { kind: 'retry', reason, detail, retry: f.retriesUsed + 1 };
  const interrupt = !f.stop && (f.failedAction === 'INTERRUPT' || f.failedAction === 'FAST_INTERRUPT');
  return { kind: 'fail', interrupt, reason, detail };
}

/** StateReason and detail of an attempt that failed by itself. */
export function describeExit(exit: AttemptExit, instanceType?: string, memGiB?: number): { reason: string; detail: string } {
  if (exit.oom) {
    const limit = memGiB === undefined ? 'its memory limit' : `the ${gib(memGiB)} of memory of its instance type${instanceType ? ` ${instanceType}` : ''}`;
    return { reason: 'OutOfMemory', detail: `the attempt needed more than ${limit} and was killed for memory (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`})` };
  }
  if (exit.cause) return exit.cause;
  if (exit.signal) return { reason: `Killed by signal ${exit.signal}`, detail: `the application was killed by signal ${exit.signal}` };
  if (exit.exitCode === null) return { reason: 'Lost', detail: 'the attempt ended without an exit status' };
  return { reason: `Exit code ${exit.exitCode}`, detail: `the application exited with code ${exit.exitCode}` };
}
