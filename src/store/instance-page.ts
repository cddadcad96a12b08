// Paging over a task's instances when only some have rows (instances are materialised lazily: every
// index below the task's cursor has a row; beyond it, only the few that ended early do; the rest share
// the task's WaitInfo). Backend-neutral: a store runs it inside one read transaction.
import type { State } from '../domain/states.ts';
import type { InstancePage, InstanceRecord, TaskRecord } from './types.ts';

/** (declared with the Store interface in types.ts, which needs it; kept here for the stores that page) */
export type { InstancePage };

export interface PageReader {
  rowsIn(from: number, to: number): InstanceRecord[];
  count(states: State[], from: number, to: number): number;
  list(states: State[], from: number, to: number, offset: number, limit: number): InstanceRecord[];
}

/** The record of an instance that has no row yet. */
export function implicitInstance(task: TaskRecord, index: number): InstanceRecord {
  const w = task.wait;
  return {
    jobId: task.jobId, taskName: task.name, index, state: w.state, attempt: 0, retryBase: 0, exitCode: null,
    stateReason: w.reason, stateDetail: w.detail, nodeId: null, createTime: task.createTime, launchTime: null,
    runningTime: null, endTime: w.endTime, handle: null,
  };
}

export function pageInstances(
  task: TaskRecord, r: PageReader, states: State[] | undefined, offset: number, limit: number,
): InstancePage {
  const n = task.instanceNum;
  if (states === undefined) {
    const from = Math.min(offset, n), to = Math.min(n, offset + limit);
    const rows = new Map(r.rowsIn(from, to).map((x) => [x.index, x]));
    const items: InstanceRecord[] = [];
    for (let i = from; i < to; i++) items.push(rows.get(i) ?? implicitInstance(task, i));
    return { task, total: n, items };
  }
  const wanted = [...new Set(states)];
  const total = wanted.reduce((s, st) => s + task.counts[st], 0);
  if (!wanted.includes(task.wait.state) || task.cursor >= n) {
    return { task, total, items: r.list(wanted, 0, n, offset, limit) };
  }
  // matching = rows below the cursor that match, then the tail [cursor, n): implicit instances and
  // matching rows, in index order
  const cursor = task.cursor;
  const below = r.count(wanted, 0, cursor);
  const items = offset < below ? r.list(wanted, 0, cursor, offset, limit) : [];
  let need = limit - items.length;
  if (need <= 0) return { task, total, items };
  const ahead = r.rowsIn(cursor, n); // few: instances that ended before their turn
  const aheadBy = new Map(ahead.map((x) => [x.index, x]));
  const excluded = ahead.filter((x) => !wanted.includes(x.state)).map((x) => x.index); // sorted by index
  // index of the j-th element of the tail
  let j = Math.max(0, offset - below);
  let idx = cursor + j;
  for (const e of excluded) {
    if (e <= idx) idx++;
    else break;
  }
  const ex = new Set(excluded);
  for (; idx < n && need > 0; idx++) {
    if (ex.has(idx)) continue;
    items.push(aheadBy.get(idx) ?? implicitInstance(task, idx));
    need--;
  }
  return { task, total, items };
}
