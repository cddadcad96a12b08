// Roll-ups: a task's state from its instance counts, a job's from its tasks', and what a waiting task
// does when its upstream tasks change (PENDING, RUNNABLE, or FAILED when its dependence rule can
// never be met). A task that finishes re-evaluates its downstream tasks.
import { describeRule, isActive, isFinished, isWaiting, rollUp, upstreamSatisfies, zeroCounts } from '../domain/states.ts';
import type { Core } from './core.ts';
import { moveWaiting, type JobRt, type TaskRt } from './runtime.ts';

/** Decide PENDING / RUNNABLE / FAILED (upstream can never satisfy) for a task that still waits. */
export function evaluateTask(core: Core, task: TaskRt, now: number): void {
  if (!task.hasWaiting()) return;
  const w = task.rec.wait.state;
  if (!isWaiting(w) && task.waitingRows.length === 0) return;
  const ups = task.job.upstream.get(task.name)!;
  const rule = task.job.rec.spec.dependOn;
  const unmet: string[] = [];
  const dirty = core.wb.dirty;
  for (const u of ups) {
    const finished = u.rec.counts && isFinished(rollUp(u.rec.counts));
    if (!finished) {
      unmet.push(u.name);
      continue;
    }
    if (!upstreamSatisfies(rule, u.rec.counts)) {
      const detail = `upstream task ${u.name} finished ${rollUp(u.rec.counts)} and ${rule} needs it ${describeRule(rule)}; this task will not run`;
      moveWaiting(task, 'FAILED', 'DependenceFailed', detail, now, dirty);
      core.ready.remove(task);
      return;
    }
  }
  if (unmet.length > 0) {
    const detail = `waiting for task${unmet.length > 1 ? 's' : ''} ${unmet.join(', ')} ${describeRule(rule)} (${rule})`;
    moveWaiting(task, 'PENDING', 'WaitingForDependence', detail, now, dirty);
    core.ready.remove(task);
  } else {
    if (task.rec.wait.state !== 'RUNNABLE') {
      moveWaiting(task, 'RUNNABLE', 'WaitingForCapacity', 'waiting for a free slot', now, dirty);
    }
    core.ready.refresh(task);
  }
}

export function rollTask(core: Core, task: TaskRt, now: number): void {
  const state = rollUp(task.rec.counts);
  if (state === task.rec.state) return;
  const wasActive = isActive(task.rec.state);
  task.rec.state = state;
  core.wb.dirty.tasks.add(task);
  core.wb.dirty.events.push({ account: task.job.rec.account, region: task.job.rec.region, kind: 'task', time: now, jobId: task.job.id, taskName: task.name, state });
  if (isFinished(state)) {
    task.rec.endTime = now;
    core.ready.remove(task);
    if (wasActive) {
      for (const d of task.job.downstream.get(task.name)!) {
        evaluateTask(core, d, now);
        rollTask(core, d, now);
      }
    }
  } else {
    task.rec.endTime = null;
  }
}

export function rollJob(core: Core, job: JobRt, now: number): void {
  const c = zeroCounts();
  for (const t of job.order) c[t.rec.state] += 1;
  const state = job.rec.state === 'SUBMITTED' && job.order.every((t) => t.rec.state === 'SUBMITTED') ? 'SUBMITTED' : rollUp(c);
  const running = job.order.some((t) => t.running.size > 0);
  const dirty = core.wb.dirty;
  if (job.rec.nextAction === 'TERMINATING' && !running) {
    job.rec.nextAction = '';
    dirty.jobs.add(job);
  }
  if (state !== job.rec.state) {
    job.rec.state = state;
    dirty.jobs.add(job);
    if (isFinished(state)) {
      job.rec.endTime = now;
      const failedTasks = job.order.filter((t) => t.rec.state !== 'SUCCEED').map((t) => t.name);
      job.rec.stateReason = state === 'SUCCEED' ? '' : `task${failedTasks.length > 1 ? 's' : ''} ${failedTasks.join(', ')} did not succeed`;
    } else {
      job.rec.endTime = null;
    }
    dirty.events.push({ account: job.rec.account, region: job.rec.region, kind: 'job', time: now, jobId: job.id, state, reason: job.rec.stateReason });
  }
  if (isFinished(job.rec.state) && !running && job.rec.nextAction === '') {
    // nothing left to do for this job: drop it from memory once its last changes are written
    core.finishedJobs.add(job);
  }
}

/** Roll a task and its job up after a change. */
export function rollBoth(core: Core, task: TaskRt, now: number): void {
  rollTask(core, task, now);
  rollJob(core, task.job, now);
}
