// Unit tests of the pure domain: state table, roll-ups, dependency rules, DAG checks, lazy paging.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/domain/errors.ts';
import { checkDag, upstreamOf } from '../../src/domain/dag.ts';
import {
  canTransition, rollUp, STATES, transition, upstreamSatisfies, zeroCounts, type Counts, type State,
} from '../../src/domain/states.ts';
import { implicitInstance, pageInstances, pageInstancesSync, type PageReader, type SyncPageReader } from '../../src/store/instance-page.ts';
import type { InstanceRecord, TaskRecord } from '../../src/store/types.ts';

const counts = (o: Partial<Counts>): Counts => ({ ...zeroCounts(), ...o });

describe('instance state table', () => {
  it('allows the documented path and refuses jumps', () => {
    const path: State[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEED'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
    expect(canTransition('SUCCEED', 'RUNNABLE')).toBe(false);
    expect(canTransition('SUBMITTED', 'RUNNING')).toBe(false);
    expect(canTransition('PENDING', 'STARTING')).toBe(false);
    expect(() => transition('SUCCEED', 'FAILED', 'x')).toThrow(/illegal transition/);
    // terminate: waiting → FAILED; FAILED_INTERRUPTED → FAILED; RetryJobs: FAILED → PENDING/RUNNABLE
    for (const s of ['SUBMITTED', 'PENDING', 'RUNNABLE'] as const) expect(canTransition(s, 'FAILED')).toBe(true);
    expect(canTransition('FAILED_INTERRUPTED', 'FAILED')).toBe(true);
    expect(canTransition('FAILED', 'RUNNABLE')).toBe(true);
    // a retry goes back to RUNNABLE from a run
    expect(canTransition('RUNNING', 'RUNNABLE')).toBe(true);
    // nothing leaves SUCCEED
    for (const s of STATES) expect(canTransition('SUCCEED', s)).toBe(false);
  });
});

describe('roll-up', () => {
  it('shows the most advanced active state while anything is active', () => {
    expect(rollUp(counts({ SUCCEED: 3, RUNNING: 1, RUNNABLE: 5 }))).toBe('RUNNING');
    expect(rollUp(counts({ STARTING: 1, RUNNABLE: 5, FAILED: 2 }))).toBe('STARTING');
    expect(rollUp(counts({ RUNNABLE: 1, PENDING: 5, FAILED_INTERRUPTED: 1 }))).toBe('RUNNABLE');
    expect(rollUp(counts({ PENDING: 2, SUCCEED: 1 }))).toBe('PENDING');
    expect(rollUp(counts({ SUBMITTED: 2 }))).toBe('SUBMITTED');
  });
  it('ends SUCCEED only when everything succeeded', () => {
    expect(rollUp(counts({ SUCCEED: 4 }))).toBe('SUCCEED');
    expect(rollUp(counts({ SUCCEED: 4, FAILED: 1 }))).toBe('FAILED');
    expect(rollUp(counts({ FAILED: 1, FAILED_INTERRUPTED: 1 }))).toBe('FAILED_INTERRUPTED');
  });
  it('applies TaskExecutionDependOn', () => {
    const partly = counts({ SUCCEED: 1, FAILED: 1 });
    expect(upstreamSatisfies('PRE_TASK_SUCCEED', partly)).toBe(false);
    expect(upstreamSatisfies('PRE_TASK_SUCCEED', counts({ SUCCEED: 2 }))).toBe(true);
    expect(upstreamSatisfies('PRE_TASK_AT_LEAST_PARTLY_SUCCEED', partly)).toBe(true);
    expect(upstreamSatisfies('PRE_TASK_AT_LEAST_PARTLY_SUCCEED', counts({ FAILED: 2 }))).toBe(false);
    expect(upstreamSatisfies('PRE_TASK_FINISHED', counts({ FAILED: 2 }))).toBe(true);
  });
});

describe('DAG checks', () => {
  const e = (s: string, t: string) => ({ StartTask: s, EndTask: t });
  it('orders tasks topologically', () => {
    const order = checkDag(['D', 'C', 'B', 'A'], [e('A', 'B'), e('A', 'C'), e('B', 'D'), e('C', 'D')]);
    expect(order.indexOf('A')).toBeLessThan(order.indexOf('B'));
    expect(order.indexOf('B')).toBeLessThan(order.indexOf('D'));
    expect(order.indexOf('C')).toBeLessThan(order.indexOf('D'));
    expect(upstreamOf(['A', 'B', 'C', 'D'], [e('A', 'B'), e('A', 'C'), e('B', 'D'), e('C', 'D')]).get('D')).toEqual(['B', 'C']);
  });
  it('rejects cycles and unknown names with the Tencent codes', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as ApiError).code;
      }
      return 'none';
    };
    expect(codeOf(() => checkDag(['A', 'B', 'C'], [e('A', 'B'), e('B', 'C'), e('C', 'A')]))).toBe('InvalidParameterValue.DependenceUnfeasible');
    expect(codeOf(() => checkDag(['A'], [e('A', 'A')]))).toBe('InvalidParameterValue.DependenceUnfeasible');
    expect(codeOf(() => checkDag(['A'], [e('A', 'X')]))).toBe('InvalidParameterValue.DependenceNotFoundTaskName');
    expect(codeOf(() => checkDag(['A', 'B'], []))).toBe('none');
  });
});

describe('paging over lazily materialised instances', () => {
  // 20 instances: rows for 0..9 (cursor 10), plus a terminated row at 15; the rest wait as RUNNABLE
  const task: TaskRecord = {
    jobId: 'job-aaaaaaaa', name: 'A', ord: 0, spec: {}, instanceNum: 20, state: 'RUNNING', createTime: 0, endTime: null,
    counts: counts({ SUCCEED: 7, RUNNING: 3, RUNNABLE: 9, FAILED: 1 }), cursor: 10,
    wait: { state: 'RUNNABLE', reason: 'WaitingForCapacity', detail: 'waiting for a free slot', endTime: null },
  };
  const row = (index: number, state: State): InstanceRecord => ({
    jobId: task.jobId, taskName: 'A', index, state, attempt: 1, retryBase: 0, exitCode: null, stateReason: '', stateDetail: '',
    nodeId: null, createTime: 0, launchTime: 1, runningTime: 1, endTime: null, handle: null,
  });
  const rows = [...Array.from({ length: 10 }, (_, i) => row(i, i < 7 ? 'SUCCEED' : 'RUNNING')), row(15, 'FAILED')];
  const sync: SyncPageReader = {
    rowsIn: (from, to) => rows.filter((r) => r.index >= from && r.index < to),
    count: (st, from, to) => rows.filter((r) => st.includes(r.state) && r.index >= from && r.index < to).length,
    list: (st, from, to, off, lim) => rows.filter((r) => st.includes(r.state) && r.index >= from && r.index < to).slice(off, off + lim),
  };
  // the async reader a backend such as PostgreSQL gives: each read resolves later
  const reader: PageReader = {
    rowsIn: async (from, to) => sync.rowsIn(from, to),
    count: async (st, from, to) => sync.count(st, from, to),
    list: async (st, from, to, off, lim) => sync.list(st, from, to, off, lim),
  };
  const idx = (p: { items: InstanceRecord[] }) => p.items.map((i) => `${i.index}:${i.state}`);

  it('pages without a filter', async () => {
    const p = await pageInstances(task, reader, undefined, 8, 9);
    expect(p.total).toBe(20);
    expect(idx(p)).toEqual(['8:RUNNING', '9:RUNNING', '10:RUNNABLE', '11:RUNNABLE', '12:RUNNABLE', '13:RUNNABLE', '14:RUNNABLE', '15:FAILED', '16:RUNNABLE']);
    expect(p.items[2]!.stateReason).toBe('WaitingForCapacity');
  });
  it('pages with a filter on the shared waiting state, skipping rows that do not match', async () => {
    const p = await pageInstances(task, reader, ['RUNNABLE'], 3, 4);
    expect(p.total).toBe(9);
    expect(idx(p)).toEqual(['13:RUNNABLE', '14:RUNNABLE', '16:RUNNABLE', '17:RUNNABLE']);
    const mixed = await pageInstances(task, reader, ['RUNNING', 'RUNNABLE', 'FAILED'], 2, 4);
    expect(mixed.total).toBe(13);
    expect(idx(mixed)).toEqual(['9:RUNNING', '10:RUNNABLE', '11:RUNNABLE', '12:RUNNABLE']);
    expect(idx(await pageInstances(task, reader, ['RUNNABLE', 'FAILED'], 5, 3))).toEqual(['15:FAILED', '16:RUNNABLE', '17:RUNNABLE']);
  });
  it('pages with a filter that only rows match', async () => {
    const p = await pageInstances(task, reader, ['SUCCEED'], 5, 10);
    expect(p.total).toBe(7);
    expect(idx(p)).toEqual(['5:SUCCEED', '6:SUCCEED']);
    expect(idx(await pageInstances(task, reader, ['FAILED'], 0, 10))).toEqual(['15:FAILED']);
  });
  it('answers what filtering every instance and slicing would, through the async and the sync reader alike', async () => {
    const all = Array.from({ length: task.instanceNum }, (_, i) => rows.find((r) => r.index === i) ?? implicitInstance(task, i));
    const filters: (State[] | undefined)[] = [undefined, ['RUNNABLE'], ['SUCCEED'], ['RUNNING', 'FAILED'], ['RUNNABLE', 'FAILED', 'SUCCEED']];
    let checked = 0;
    for (const states of filters) {
      const matching = states ? all.filter((x) => states.includes(x.state)) : all;
      for (let offset = 0; offset <= 21; offset++) {
        for (const limit of [1, 4, 25]) {
          const page = await pageInstances(task, reader, states, offset, limit);
          expect(page.total, `${states} ${offset} ${limit}`).toBe(matching.length);
          expect(idx(page), `${states} ${offset} ${limit}`).toEqual(idx({ items: matching.slice(offset, offset + limit) }));
          expect(pageInstancesSync(task, sync, states, offset, limit)).toEqual(page);
          checked++;
        }
      }
    }
    expect(checked).toBe(filters.length * 22 * 3);
  });
});
