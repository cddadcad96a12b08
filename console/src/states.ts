// The states of jobs, tasks and instances as the API names them, which are active and which finished,
// their colours (the same in the CSS badges, the DAG and the grid) and the order "worst first" used to
// colour an aggregated grid cell.
export const ACTIVE = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'] as const;
export const FINISHED = ['SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'] as const;
export const STATES = [...ACTIVE, ...FINISHED] as const;
export type State = (typeof STATES)[number];

export const COLOURS: Record<State, string> = {
  SUBMITTED: '#9aa5b1',
  PENDING: '#b8a6d9',
  RUNNABLE: '#6fa8dc',
  STARTING: '#f2c14e',
  RUNNING: '#2f7fd8',
  SUCCEED: '#3c9d5d',
  FAILED: '#d64545',
  FAILED_INTERRUPTED: '#e8833a',
};
/** Cells of the grid not loaded yet. */
export const UNKNOWN_COLOUR = '#e1e4e8';

/** Worst first: an aggregated cell takes the colour of the worst state among its loaded instances. */
export const WORST_FIRST: readonly State[] = ['FAILED', 'FAILED_INTERRUPTED', 'RUNNING', 'STARTING', 'RUNNABLE', 'SUBMITTED', 'PENDING', 'SUCCEED'];

/** State codes of the grid's byte arrays: 0 is "not loaded", 1 + STATES index otherwise. */
export function stateCode(s: string): number {
  const i = (STATES as readonly string[]).indexOf(s);
  return i < 0 ? 0 : i + 1;
}
export function codeState(c: number): State | undefined {
  return c === 0 ? undefined : STATES[c - 1];
}
/** Rank of a state code in WORST_FIRST (lower is worse); 255 for "not loaded". */
export const WORST_RANK: Uint8Array = (() => {
  const r = new Uint8Array(STATES.length + 1).fill(255);
  WORST_FIRST.forEach((s, i) => (r[stateCode(s)] = i));
  return r;
})();

/** The member of TaskMetrics / TaskInstanceMetrics that counts a state. */
export const METRIC_OF: Record<State, string> = {
  SUBMITTED: 'SubmittedCount',
  PENDING: 'PendingCount',
  RUNNABLE: 'RunnableCount',
  STARTING: 'StartingCount',
  RUNNING: 'RunningCount',
  SUCCEED: 'SucceedCount',
  FAILED: 'FailedCount',
  FAILED_INTERRUPTED: 'FailedInterruptedCount',
};

export type Metrics = Partial<Record<string, number>>;

export function countOf(m: Metrics | undefined, s: State): number {
  return m?.[METRIC_OF[s]] ?? 0;
}
