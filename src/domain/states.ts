// State names and tables for task instances, tasks and jobs (batch-api.md §d), and the roll-ups
// that compute task and job states from instance counts. Pure: no I/O, no clock.

export const STATES = [
  'SUBMITTED',
  'PENDING',
  'RUNNABLE',
  'STARTING',
  'RUNNING',
  'SUCCEED',
  'FAILED',
  'FAILED_INTERRUPTED',
] as const;
export type State = (typeof STATES)[number];

export const WAITING_STATES: readonly State[] = ['SUBMITTED', 'PENDING', 'RUNNABLE'];
export const ACTIVE_STATES: readonly State[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'];
/** "Finished" in the docs: nothing more will happen to the instance by itself. */
export const FINISHED_STATES: readonly State[] = ['SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'];

export function isState(s: string): s is State {
  return (STATES as readonly string[]).includes(s);
}
export const isWaiting = (s: State) => s === 'SUBMITTED' || s === 'PENDING' || s === 'RUNNABLE';
export const isRunningish = (s: State) => s === 'STARTING' || s === 'RUNNING';
export const isActive = (s: State) => isWaiting(s) || isRunningish(s);
export const isFinished = (s: State) => !isActive(s);

/**
 * Instance transitions (§d.3). Anything not listed is refused by transition().
 * SUBMITTED→PENDING/RUNNABLE when the scheduler admits the job; PENDING↔RUNNABLE with dependencies;
 * RUNNABLE→STARTING when a slot is taken; STARTING→RUNNING once the process exists; RUNNING→end states;
 * STARTING/RUNNING→RUNNABLE for a retry; waiting→FAILED when terminated or when upstream failed;
 * FAILED/FAILED_INTERRUPTED→PENDING/RUNNABLE by RetryJobs; FAILED_INTERRUPTED→FAILED when terminated.
 */
const TABLE: Record<State, readonly State[]> = {
  SUBMITTED: ['PENDING', 'RUNNABLE', 'FAILED'],
  PENDING: ['RUNNABLE', 'FAILED'],
  RUNNABLE: ['PENDING', 'STARTING', 'FAILED'],
  STARTING: ['RUNNING', 'RUNNABLE', 'SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'],
  RUNNING: ['RUNNABLE', 'SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'],
  SUCCEED: [],
  FAILED: ['PENDING', 'RUNNABLE'],
  FAILED_INTERRUPTED: ['FAILED', 'PENDING', 'RUNNABLE'],
};

export function canTransition(from: State, to: State): boolean {
  return TABLE[from].includes(to);
}

export class IllegalTransition extends Error {
  constructor(readonly from: State, readonly to: State, what: string) {
    super(`illegal transition of ${what}: ${from} -> ${to}`);
  }
}

export function transition(from: State, to: State, what: string): State {
  if (!canTransition(from, to)) throw new IllegalTransition(from, to, what);
  return to;
}

export type Counts = Record<State, number>;

export function zeroCounts(): Counts {
  return { SUBMITTED: 0, PENDING: 0, RUNNABLE: 0, STARTING: 0, RUNNING: 0, SUCCEED: 0, FAILED: 0, FAILED_INTERRUPTED: 0 };
}

export function totalOf(c: Counts): number {
  let t = 0;
  for (const s of STATES) t += c[s];
  return t;
}

/**
 * Roll-up of member states into the state of the whole (instances → task, tasks → job).
 * COMPAT: the spec's roll-up is inferred (§d.1). We choose: while any member is active, the whole is
 * active and shows the most advanced active state (RUNNING > STARTING > RUNNABLE > PENDING > SUBMITTED);
 * once nothing is active: all SUCCEED → SUCCEED, any FAILED_INTERRUPTED → FAILED_INTERRUPTED, else FAILED.
 * An empty whole (no members) is SUCCEED.
 */
export function rollUp(c: Counts): State {
  if (c.RUNNING > 0) return 'RUNNING';
  if (c.STARTING > 0) return 'STARTING';
  if (c.RUNNABLE > 0) return 'RUNNABLE';
  if (c.PENDING > 0) return 'PENDING';
  if (c.SUBMITTED > 0) return 'SUBMITTED';
  if (c.FAILED_INTERRUPTED > 0) return 'FAILED_INTERRUPTED';
  if (c.FAILED > 0) return 'FAILED';
  return 'SUCCEED';
}

export const TASK_EXECUTION_DEPEND_ON = ['PRE_TASK_SUCCEED', 'PRE_TASK_AT_LEAST_PARTLY_SUCCEED', 'PRE_TASK_FINISHED'] as const;
export type DependOn = (typeof TASK_EXECUTION_DEPEND_ON)[number];

/**
 * Whether a finished upstream task lets its downstream tasks run.
 * PRE_TASK_SUCCEED: every instance succeeded. PRE_TASK_AT_LEAST_PARTLY_SUCCEED: at least one did.
 * PRE_TASK_FINISHED: it finished, whatever the outcome.
 */
export function upstreamSatisfies(rule: DependOn, c: Counts): boolean {
  switch (rule) {
    case 'PRE_TASK_SUCCEED':
      return totalOf(c) === c.SUCCEED;
    case 'PRE_TASK_AT_LEAST_PARTLY_SUCCEED':
      return c.SUCCEED > 0;
    case 'PRE_TASK_FINISHED':
      return true;
  }
}

export function describeRule(rule: DependOn): string {
  switch (rule) {
    case 'PRE_TASK_SUCCEED':
      return 'to succeed';
    case 'PRE_TASK_AT_LEAST_PARTLY_SUCCEED':
      return 'to finish with at least one instance succeeded';
    case 'PRE_TASK_FINISHED':
      return 'to finish';
  }
}
