// What may start and in which order, on a real store with a scripted executor and a manual clock:
// the three TaskExecutionDependOn rules, job Priority and submission order when slots are full,
// MaxConcurrentNum, and a queue executor that takes everything.
import { describe, expect, it } from 'vitest';
import { key, makeRig, rigsClosedAfterEach, type Rig } from '../support/scheduler-rig.ts';

const rig = rigsClosedAfterEach();

type Rule = 'PRE_TASK_SUCCEED' | 'PRE_TASK_AT_LEAST_PARTLY_SUCCEED' | 'PRE_TASK_FINISHED';
const WORDS: Record<Rule, string> = {
  PRE_TASK_SUCCEED: 'to succeed',
  PRE_TASK_AT_LEAST_PARTLY_SUCCEED: 'to finish with at least one instance succeeded',
  PRE_TASK_FINISHED: 'to finish',
};

describe('scheduler: TaskExecutionDependOn', () => {
  // A has two instances; they end with these exit codes; B (two instances) depends on A
  const cases: [Rule, [number, number], boolean][] = [
    ['PRE_TASK_SUCCEED', [0, 0], true],
    ['PRE_TASK_SUCCEED', [0, 1], false],
    ['PRE_TASK_SUCCEED', [1, 1], false],
    ['PRE_TASK_AT_LEAST_PARTLY_SUCCEED', [0, 0], true],
    ['PRE_TASK_AT_LEAST_PARTLY_SUCCEED', [1, 0], true],
    ['PRE_TASK_AT_LEAST_PARTLY_SUCCEED', [1, 1], false],
    ['PRE_TASK_FINISHED', [0, 0], true],
    ['PRE_TASK_FINISHED', [1, 0], true],
    ['PRE_TASK_FINISHED', [1, 1], true],
  ];
  it.each(cases)('%s with A ending %j: B runs = %s', async (rule, codes, runs) => {
    const r = await rig({ capacity: { slots: 8 } });
    const jobId = await r.submit(
      [{ TaskName: 'A', TaskInstanceNum: 2 }, { TaskName: 'B', TaskInstanceNum: 2 }],
      { Dependences: [{ StartTask: 'A', EndTask: 'B' }], TaskExecutionDependOn: rule },
    );
    expect(r.executor.launches.map((g) => g.taskName)).toEqual(['A']);
    for (const i of [0, 1]) expect(await r.line(jobId, 'B', i)).toBe(`PENDING WaitingForDependence (waiting for task A ${WORDS[rule]} (${rule}))`);
    // one instance of A ends: B still waits, whatever the rule
    r.executor.exit(key(jobId, 'A', 0), { exitCode: codes[0] });
    await r.settle();
    expect(r.executor.launches.map((g) => g.taskName)).toEqual(['A']);
    expect(await r.line(jobId, 'B', 0)).toMatch(/^PENDING WaitingForDependence/);
    r.executor.exit(key(jobId, 'A', 1), { exitCode: codes[1] });
    await r.settle();
    const aState = (await r.store.getTask(jobId, 'A'))!.state;
    expect(aState).toBe(codes.every((c) => c === 0) ? 'SUCCEED' : 'FAILED');
    if (runs) {
      expect(r.executor.launches.map((g) => g.taskName)).toEqual(['A', 'B']);
      expect(r.executor.running()).toEqual([key(jobId, 'B', 0), key(jobId, 'B', 1)]);
      for (const i of [0, 1]) expect(await r.line(jobId, 'B', i)).toBe('RUNNING  (running)');
      for (const i of [0, 1]) r.executor.exit(key(jobId, 'B', i), { exitCode: 0 });
      await r.settle();
      expect((await r.store.getTask(jobId, 'B'))!.state).toBe('SUCCEED');
      expect(await r.jobState(jobId)).toBe(aState);
    } else {
      expect(r.executor.launches.map((g) => g.taskName)).toEqual(['A']);
      const detail = `upstream task A finished FAILED and ${rule} needs it ${WORDS[rule]}; this task will not run`;
      for (const i of [0, 1]) expect(await r.line(jobId, 'B', i)).toBe(`FAILED DependenceFailed (${detail})`);
      const b = await r.store.getTask(jobId, 'B');
      expect(b).toMatchObject({ state: 'FAILED', endTime: r.clock.now() });
      expect(b!.counts.FAILED).toBe(2);
      expect(await r.jobState(jobId)).toBe('FAILED');
      expect((await r.store.getJobById(jobId))?.stateReason).toBe('tasks A, B did not succeed');
    }
  });

  it('fails the whole chain below a task whose rule can never be met, and waits for every upstream task', async () => {
    const r = await rig({ capacity: { slots: 8 } });
    // A → C, B → C, C → D
    const jobId = await r.submit(
      [{ TaskName: 'A' }, { TaskName: 'B' }, { TaskName: 'C' }, { TaskName: 'D' }],
      { Dependences: [{ StartTask: 'A', EndTask: 'C' }, { StartTask: 'B', EndTask: 'C' }, { StartTask: 'C', EndTask: 'D' }] },
    );
    expect(await r.line(jobId, 'C', 0)).toBe('PENDING WaitingForDependence (waiting for tasks A, B to succeed (PRE_TASK_SUCCEED))');
    expect(await r.line(jobId, 'D', 0)).toBe('PENDING WaitingForDependence (waiting for task C to succeed (PRE_TASK_SUCCEED))');
    r.executor.exit(key(jobId, 'A', 0), { exitCode: 0 });
    await r.settle();
    expect(await r.line(jobId, 'C', 0)).toBe('PENDING WaitingForDependence (waiting for task B to succeed (PRE_TASK_SUCCEED))');
    r.executor.exit(key(jobId, 'B', 0), { exitCode: 2 });
    await r.settle();
    expect(await r.line(jobId, 'C', 0)).toBe('FAILED DependenceFailed (upstream task B finished FAILED and PRE_TASK_SUCCEED needs it to succeed; this task will not run)');
    expect(await r.line(jobId, 'D', 0)).toBe('FAILED DependenceFailed (upstream task C finished FAILED and PRE_TASK_SUCCEED needs it to succeed; this task will not run)');
    expect(r.executor.launches.map((g) => g.taskName)).toEqual(['A', 'B']);
    expect(await r.jobState(jobId)).toBe('FAILED');
  });
});

describe('scheduler: priorities', () => {
  it('starts a job of higher Priority submitted later first when the slots are full; same priority: submission order', async () => {
    const r = await rig({ capacity: { slots: 1 } });
    const first = await r.submit([{ TaskName: 'A' }]);
    const low1 = await r.submit([{ TaskName: 'A' }], { Priority: 0 });
    const low2 = await r.submit([{ TaskName: 'A' }], { Priority: 0 });
    const mid = await r.submit([{ TaskName: 'A' }], { Priority: 20 });
    const high1 = await r.submit([{ TaskName: 'A' }], { Priority: 90 });
    const high2 = await r.submit([{ TaskName: 'A' }], { Priority: 90 });
    expect(r.executor.launchedKeys()).toEqual([key(first, 'A', 0)]);
    expect(await r.line(low1, 'A', 0)).toBe('RUNNABLE WaitingForCapacity (no free capacity: all 1 local slots are busy)');
    const order = [first, high1, high2, mid, low1, low2];
    for (let i = 0; i < order.length; i++) {
      expect(r.executor.running()).toEqual([key(order[i]!, 'A', 0)]);
      r.executor.exit(key(order[i]!, 'A', 0), { exitCode: 0 });
      await r.settle();
    }
    expect(r.executor.launchedKeys()).toEqual(order.map((j) => key(j, 'A', 0)));
    for (const j of order) expect(await r.jobState(j)).toBe('SUCCEED');
  });

  it('orders the tasks of one job by their place in the job', async () => {
    const r = await rig({ capacity: { slots: 1 } });
    const blocker = await r.submit([{ TaskName: 'X' }]);
    const jobId = await r.submit([{ TaskName: 'B' }, { TaskName: 'A' }, { TaskName: 'C' }]);
    for (const t of ['X', 'B', 'A', 'C']) {
      const k = r.executor.running()[0]!;
      expect(k).toBe(key(t === 'X' ? blocker : jobId, t, 0));
      r.executor.exit(k, { exitCode: 0 });
      await r.settle();
    }
  });
});

describe('scheduler: MaxConcurrentNum', () => {
  it('never has more than MaxConcurrentNum instances of a task launched at once, and says why the others wait', async () => {
    const r = await rig({ capacity: { slots: 10 } });
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 5, MaxConcurrentNum: 2 }]);
    expect(r.executor.running()).toEqual([key(jobId, 'A', 0), key(jobId, 'A', 1)]);
    for (const i of [2, 3, 4]) {
      expect(await r.line(jobId, 'A', i)).toBe('RUNNABLE MaxConcurrentNumReached (MaxConcurrentNum is 2 and 2 instances of this task are starting or running)');
    }
    const seen: number[] = [];
    while (r.executor.running().length > 0) {
      seen.push(r.executor.running().length);
      r.executor.exit(r.executor.running()[0]!, { exitCode: 0 });
      await r.settle();
    }
    expect(seen).toEqual([2, 2, 2, 2, 1]);
    expect(r.executor.maxLive(jobId, 'A')).toBe(2);
    expect(r.executor.launchedKeys()).toEqual([0, 1, 2, 3, 4].map((i) => key(jobId, 'A', i)));
    expect(await r.jobState(jobId)).toBe('SUCCEED');
  });

  it('counts a starting instance towards MaxConcurrentNum', async () => {
    const r = await rig({ capacity: { slots: 10 }, onLaunch: () => 'hold' });
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 3, MaxConcurrentNum: 1 }]);
    expect(r.executor.held()).toEqual([key(jobId, 'A', 0)]);
    expect(await r.line(jobId, 'A', 1)).toBe('RUNNABLE MaxConcurrentNumReached (MaxConcurrentNum is 1 and 1 instance of this task is starting or running)');
    r.executor.start(key(jobId, 'A', 0));
    await r.settle();
    expect(r.executor.launchedKeys()).toEqual([key(jobId, 'A', 0)]);
  });

  it('lets other tasks use the slots a capped task leaves', async () => {
    const r = await rig({ capacity: { slots: 3 } });
    const capped = await r.submit([{ TaskName: 'A', TaskInstanceNum: 4, MaxConcurrentNum: 1 }], { Priority: 50 });
    const other = await r.submit([{ TaskName: 'B', TaskInstanceNum: 4 }]);
    expect(r.executor.running()).toEqual([key(capped, 'A', 0), key(other, 'B', 0), key(other, 'B', 1)]);
    expect(await r.line(other, 'B', 2)).toBe('RUNNABLE WaitingForCapacity (no free capacity: all 3 local slots are busy)');
  });
});

describe('scheduler: a queue executor', () => {
  it('launches every instance at once when the executor declares a queue', async () => {
    const r = await rig({ capacity: { queue: 'batch' } });
    const jobId = await r.submit([{ TaskName: 'A', TaskInstanceNum: 50 }]);
    expect(r.executor.launches).toHaveLength(1);
    expect(r.executor.launches[0]!.instances.map((i) => i.index)).toEqual([...Array(50).keys()]);
    expect(r.scheduler.stats().running).toBe(50);
  });
});
