// Paging over a task's instances when only some have rows (instances are materialised lazily: every
// index below the task's cursor has a row; beyond it, only the few that ended early do; the rest share
// the task's WaitInfo). Backend-neutral: the algorithm is a generator of reads, run by pageInstances
// over an async PageReader (a backend reads inside one read transaction), or by pageInstancesSync over
// a synchronous reader (better-sqlite3 runs the reads inside one transaction, then resolves).
import type { State } from '../domain/states.ts';
import type { InstancePage, InstanceRecord, TaskRecord } from './types.ts';

export type { InstancePage } from './types.ts';

/** The reads of one page, all from one snapshot of the task's rows. */
export interface PageReader {
  rowsIn(from: number, to: number): Promise<InstanceRecord[]>;
  count(states: State[], from: number, to: number): Promise<number>;
  list(states: State[], from: number, to: number, offset: number, limit: number): Promise<InstanceRecord[]>;
}

/** The same reads answered synchronously (a synchronous driver inside one transaction). */
export interface SyncPageReader {
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

export async function pageInstances(
  task: TaskRecord, r: PageReader, states: State[] | undefined, offset: number, limit: number,
): Promise<InstancePage> {
  const g = pageSteps(task, states, offset, limit);
  for (let s = g.next(); ; s = g.next(await perform(r, s.value))) if (s.done) return s.value;
}

export function pageInstancesSync(
  task: TaskRecord, r: SyncPageReader, states: State[] | undefined, offset: number, limit: number,
): InstancePage {
  const g = pageSteps(task, states, offset, limit);
  for (let s = g.next(); ; s = g.next(perform(r, s.value))) if (s.done) return s.value;
}

type Read =
  | { op: 'rowsIn'; from: number; to: number }
  | { op: 'count'; states: State[]; from: number; to: number }
  | { op: 'list'; states: State[]; from: number; to: number; offset: number; limit: number };

type Reads<T> = Generator<Read, T, unknown>;

function perform(r: PageReader | SyncPageReader, q: Read): unknown {
  if (q.op === 'rowsIn') return r.rowsIn(q.from, q.to);
  if (q.op === 'count') return r.count(q.states, q.from, q.to);
  return r.list(q.states, q.from, q.to, q.offset, q.limit);
}

function* rowsIn(from: number, to: number): Reads<InstanceRecord[]> {
  return (yield { op: 'rowsIn', from, to }) as InstanceRecord[];
}

function* count(states: State[], from: number, to: number): Reads<number> {
  return (yield { op: 'count', states, from, to }) as number;
}

function* list(states: State[], from: number, to: number, offset: number, limit: number): Reads<InstanceRecord[]> {
  return (yield { op: 'list', states, from, to, offset, limit }) as InstanceRecord[];
}

function* pageSteps(task: TaskRecord, states: State[] | undefined, offset: number, limit: number): Reads<InstancePage> {
  const n = task.instanceNum;
  if (states === undefined) {
    const from = Math.min(offset, n), to = Math.min(n, offset + limit);
    const rows = new Map((yield* rowsIn(from, to)).map((x) => [x.index, x]));
    const items: InstanceRecord[] = [];
    for (let i = from; i < to; i++) items.push(rows.get(i) ?? implicitInstance(task, i));
    return { task, total: n, items };
  }
  const wanted = [...new Set(states)];
  const total = wanted.reduce((s, st) => s + task.counts[st], 0);
  if (!wanted.includes(task.wait.state) || task.cursor >= n) {
    return { task, total, items: yield* list(wanted, 0, n, offset, limit) };
  }
  // matching = rows below the cursor that match, then the tail [cursor, n): implicit instances and
  // matching rows, in index order
  const cursor = task.cursor;
  const below = yield* count(wanted, 0, cursor);
  const items = offset < below ? yield* list(wanted, 0, cursor, offset, limit) : [];
  let need = limit - items.length;
  if (need <= 0) return { task, total, items };
  const ahead = yield* rowsIn(cursor, n); // few: instances that ended before their turn
  const aheadBy = new Map(ahead.map((x) => [x.index, x]));
  const excluded = ahead.filter((x) => !wanted.includes(x.state)).map((x) => x.index); // sorted by index
  // index of the j-th element of the tail
  const j = Math.max(0, offset - below);
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
