// The commands the scheduler carries out for users: TerminateJob, TerminateTaskInstance, RetryJobs,
// DeleteJob (dropping a finished job), and compute-environment changes (an env changed in the store,
// a node terminated). Each reads what it needs from the store after the pending changes are written,
// changes the in-memory state, and returns; the caller writes the result before answering.
import { isFinished, isWaiting, type State } from '../domain/states.ts';
import { BY_TERMINATE_JOB, TERMINATED, type Attempts } from './attempts.ts';
import type { Core } from './core.ts';
import { evaluateTask, rollBoth, rollJob, rollTask } from './rollup.ts';
import { instKey, moveWaiting, setState, type AttemptRt, type TaskRt } from './runtime.ts';
import type { InstanceRecord } from '../store/types.ts';

export class Commands {
  constructor(
    private readonly core: Core,
    private readonly attempts: Attempts,
  ) {}

  /** TerminateJob: waiting instances fail now, running ones are stopped and then fail. */
  async terminateJob(jobId: string): Promise<void> {
    const core = this.core;
    await core.wb.flush(); // rows read from the store below must be current
    const job = await core.ensureLoaded(jobId);
    if (!job) return;
    const now = core.now();
    const cause = { reason: TERMINATED, detail: BY_TERMINATE_JOB, final: true };
    if (job.order.some((t) => t.running.size > 0)) {
      job.rec.nextAction = 'TERMINATING';
      core.wb.dirty.jobs.add(job);
    }
    // first end everything, then roll up (so downstream tasks say Terminated, not DependenceFailed)
    for (const task of job.order) {
      if (task.hasWaiting()) moveWaiting(task, 'FAILED', cause.reason, cause.detail, now, core.wb.dirty);
      core.ready.remove(task);
      for (const a of task.running.values()) this.attempts.stop(a, cause);
      await this.failInterrupted(task, cause.reason, cause.detail);
    }
    for (const task of job.topo) rollTask(core, task, now);
    rollJob(core, job, now);
  }

  /** TerminateTaskInstance (an instance already finished is left as it is). */
  async terminateInstance(jobId: string, taskName: string, index: number): Promise<void> {
    const core = this.core;
    await core.wb.flush();
    const job = await core.ensureLoaded(jobId);
    const task = job?.tasks.get(taskName);
    if (!job || !task) return;
    const now = core.now();
    const reason = TERMINATED;
    const detail = 'terminated by TerminateTaskInstance';
    const running = task.running.get(index);
    if (running) {
      this.attempts.stop(running, { reason, detail, final: true });
    } else {
      const row = task.waitingRows.find((r) => r.index === index);
      if (row) {
        task.waitingRows.splice(task.waitingRows.indexOf(row), 1);
        this.endWithoutRun(task, row, 'FAILED', reason, detail, now);
      } else if (index >= task.rec.cursor && !task.ahead.has(index) && isWaiting(task.rec.wait.state)) {
        // an instance without a row yet: materialise it as FAILED
        const inst = core.materialise(task, index);
        task.ahead.add(index);
        this.endWithoutRun(task, inst, 'FAILED', reason, detail, now);
      } else {
        const k = instKey(jobId, taskName, index);
        const row = core.wb.dirty.instances.get(k) ?? (await core.o.store.getInstance(jobId, taskName, index));
        if (row && row.state === 'FAILED_INTERRUPTED' && !task.running.has(index)) {
          setState(task, row, 'FAILED', core.wb.dirty);
          row.stateReason = reason;
          row.stateDetail = detail;
        }
      }
    }
    core.ready.refresh(task);
    rollBoth(core, task, now);
  }

  /** RetryJobs on a FAILED job: failed instances wait again (in DAG order); attempts and logs are kept. */
  async retryJob(jobId: string): Promise<void> {
    const core = this.core;
    const dirty = core.wb.dirty;
    await core.wb.flush(); // rows read from the store below must be current
    const job = await core.ensureLoaded(jobId);
    if (!job) return;
    const now = core.now();
    for (const task of job.order) {
      const failed = task.rec.counts.FAILED + task.rec.counts.FAILED_INTERRUPTED;
      if (failed === 0) continue;
      const n = task.rec.instanceNum;
      const stored = await core.o.store.listInstanceRows(jobId, task.name, ['FAILED', 'FAILED_INTERRUPTED'], 0, n, 0, n);
      const rows = stored.map((r) => dirty.instances.get(instKey(r.jobId, r.taskName, r.index)) ?? r)
        .filter((r) => r.state === 'FAILED' || r.state === 'FAILED_INTERRUPTED');
      // the instances without a row that failed (skipped or terminated before they ran)
      const implicitFailed = !isWaiting(task.rec.wait.state) && task.implicitCount > 0;
      const target: State = 'PENDING';
      if (implicitFailed) moveWaiting(task, target, '', '', now, dirty);
      else if (task.implicitCount === 0) task.rec.wait.state = target;
      for (const r of rows) {
        if (task.running.has(r.index)) continue;
        setState(task, r, target, dirty);
        r.retryBase = r.attempt;
        r.exitCode = null;
        r.stateReason = '';
        r.stateDetail = '';
        r.launchTime = null;
        r.runningTime = null;
        r.endTime = null;
        r.handle = null;
        task.waitingRows.push(r);
      }
      task.rec.wait.state = target;
      task.rec.endTime = null;
      dirty.tasks.add(task);
    }
    job.rec.endTime = null;
    job.rec.stateReason = '';
    // re-evaluate dependencies in DAG order: tasks whose upstream is satisfied become RUNNABLE
    for (const task of job.topo) evaluateTask(core, task, now);
    for (const task of job.order) rollTask(core, task, now);
    rollJob(core, job, now);
  }

  /** DeleteJob: drop a finished job from memory. False when the job still has work in flight. */
  async release(jobId: string): Promise<boolean> {
    const core = this.core;
    await core.wb.flush();
    const job = core.jobs.get(jobId);
    if (!job) return true;
    if (!isFinished(job.rec.state) || job.order.some((t) => t.running.size > 0) || job.rec.nextAction !== '') return false;
    core.jobs.delete(jobId);
    core.finishedJobs.delete(job);
    for (const t of job.order) core.ready.remove(t);
    return true;
  }

  /** A compute environment changed in the store (created, scaled, nodes attached/terminated, deleted). */
  async envChanged(envId: string): Promise<void> {
    const core = this.core;
    await core.o.pools.refresh(envId);
    core.ready.recheckAll();
    if (core.o.pools.pool(envId)) return;
    // the environment is gone: what still waits for it can never run
    const now = core.now();
    for (const job of core.jobs.values()) {
      for (const task of job.order) {
        if (task.envId !== envId || !task.hasWaiting()) continue;
        moveWaiting(task, 'FAILED', 'ComputeEnvDeleted', `compute environment ${envId} was deleted before this instance could run`, now, core.wb.dirty);
        core.ready.remove(task);
        rollBoth(core, task, now);
      }
    }
  }

  /** TerminateComputeNode(s): stop what runs on the node; its instance waits again for another node. */
  terminateNode(instanceId: string): void {
    const core = this.core;
    const node = core.o.pools.node(instanceId);
    const a = node?.busy as AttemptRt | null | undefined;
    // the service wrote DELETING; the pool learns it now, not at the env-changed that follows, so that
    // the stopped instance (or another) is never placed on this node again once it is free
    if (node) node.rec.state = 'DELETING';
    core.ready.recheckAll();
    if (a) {
      this.attempts.stop(a, {
        reason: 'ComputeNodeTerminated',
        detail: `compute node ${node!.rec.id} was terminated while the attempt ran; the instance runs again on another node`,
        final: false, requeue: true,
      });
    }
  }

  /** An instance that ends without running (terminated while waiting). */
  private endWithoutRun(task: TaskRt, inst: InstanceRecord, to: State, reason: string, detail: string, now: number): void {
    setState(task, inst, to, this.core.wb.dirty);
    inst.stateReason = reason;
    inst.stateDetail = detail;
    inst.endTime = now;
    inst.exitCode = null;
  }

  private async failInterrupted(task: TaskRt, reason: string, detail: string): Promise<void> {
    if (task.rec.counts.FAILED_INTERRUPTED === 0) return;
    const core = this.core;
    const rows = await core.o.store.listInstanceRows(
      task.job.id, task.name, ['FAILED_INTERRUPTED'], 0, task.rec.instanceNum, 0, task.rec.instanceNum,
    );
    for (const r of rows) {
      const cur = core.wb.dirty.instances.get(instKey(r.jobId, r.taskName, r.index)) ?? r;
      if (cur.state !== 'FAILED_INTERRUPTED') continue;
      setState(task, cur, 'FAILED', core.wb.dirty);
      cur.stateReason = reason;
      cur.stateDetail = detail;
    }
  }
}
