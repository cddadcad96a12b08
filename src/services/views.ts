// Wire views of jobs, tasks and instances (the response structures of batch-api.md §c).
// COMPAT: members the spec marks "may be null" are null when there is no value (e.g. EndTime of a
// running instance, ExitCode before it ends); members it marks not-nullable are "" (e.g. DescribeJob
// EndTime of a running job), as the published examples show. Tag lists are [] when a resource has none.
import { isoSeconds } from '../lib/clock.ts';
import { expandFileName } from '../domain/log-paths.ts';
import { STATES, zeroCounts, type Counts, type State, isWaiting } from '../domain/states.ts';
import { runSpecOf, type RedirectSpec } from '../domain/task-spec.ts';
import type { InstanceRecord, JobRecord, TaskRecord } from '../store/types.ts';
import type { JobView, RedirectInfoView, ResponseOf, TaskInstanceView, TaskMetrics, TaskView } from '../api/models.ts';
import { storedJobPlacement } from './stored.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : isoSeconds(ms));
export const isoOrEmpty = (ms: number | null): string => (ms === null ? '' : isoSeconds(ms));

/** Counts per state as TaskMetrics / TaskInstanceMetrics (in the order of STATES). */
export function metricsView(c: Counts): TaskMetrics {
  return {
    SubmittedCount: c.SUBMITTED,
    PendingCount: c.PENDING,
    RunnableCount: c.RUNNABLE,
    StartingCount: c.STARTING,
    RunningCount: c.RUNNING,
    SucceedCount: c.SUCCEED,
    FailedCount: c.FAILED,
    FailedInterruptedCount: c.FAILED_INTERRUPTED,
  };
}

export function taskMetrics(states: State[]): TaskMetrics {
  const c = zeroCounts();
  for (const s of states) c[s] += 1;
  return metricsView(c);
}

export function instanceMetrics(tasks: TaskRecord[]): TaskMetrics {
  const c = zeroCounts();
  for (const t of tasks) for (const s of STATES) c[s] += t.counts[s];
  return metricsView(c);
}

export function placementView(job: JobRecord): JobView['Placement'] {
  return { ProjectId: 0, ...storedJobPlacement(job), Zone: job.zone };
}

export function taskView(t: TaskRecord): TaskView {
  return { TaskName: t.name, TaskState: t.state, CreateTime: isoSeconds(t.createTime), EndTime: iso(t.endTime) };
}

export function jobView(job: JobRecord, taskStates: State[]): JobView {
  return {
    JobId: job.id,
    JobName: job.name,
    JobState: job.state,
    Priority: job.priority,
    Placement: placementView(job),
    CreateTime: isoSeconds(job.createTime),
    EndTime: iso(job.endTime),
    TaskMetrics: taskMetrics(taskStates),
    Tags: job.tags,
  };
}

export function describeJobView(job: JobRecord, tasks: TaskRecord[]): ResponseOf<'DescribeJob'> {
  return {
    JobId: job.id,
    JobName: job.name,
    Zone: job.zone,
    Priority: job.priority,
    JobState: job.state,
    CreateTime: isoSeconds(job.createTime),
    EndTime: isoOrEmpty(job.endTime),
    TaskSet: tasks.map(taskView),
    DependenceSet: job.spec.dependences,
    TaskMetrics: taskMetrics(tasks.map((t) => t.state)),
    TaskInstanceMetrics: instanceMetrics(tasks),
    StateReason: job.stateReason,
    Tags: job.tags,
    NextAction: job.nextAction,
  };
}

// the redirect settings of a task, derived once per task record (a page shows up to 1000 instances)
const redirectOf = new WeakMap<TaskRecord, RedirectSpec | null>();

export function redirectView(task: TaskRecord, index: number): RedirectInfoView {
  let r = redirectOf.get(task);
  if (r === undefined) {
    r = runSpecOf(task.spec).redirect;
    redirectOf.set(task, r);
  }
  if (!r) return { StdoutRedirectPath: '', StderrRedirectPath: '', StdoutRedirectFileName: '', StderrRedirectFileName: '' };
  const vars = { jobId: task.jobId, taskName: task.name, index };
  return {
    StdoutRedirectPath: r.stdoutPath,
    StderrRedirectPath: r.stderrPath,
    StdoutRedirectFileName: expandFileName(r.stdoutFile, vars),
    StderrRedirectFileName: expandFileName(r.stderrFile, vars),
  };
}

export function instanceView(task: TaskRecord, i: InstanceRecord): TaskInstanceView {
  // an instance that waits shows why it waits now (the task's current wait reason), plus its own note
  let reason = i.stateReason;
  let detail = i.stateDetail;
  if (isWaiting(i.state) && i.state === task.wait.state) {
    reason = task.wait.reason;
    detail = i.stateDetail && i.stateDetail !== task.wait.detail ? `${task.wait.detail}; ${i.stateDetail}` : task.wait.detail;
  }
  return {
    TaskInstanceIndex: i.index,
    TaskInstanceState: i.state,
    ExitCode: i.exitCode,
    StateReason: reason,
    ComputeNodeInstanceId: i.nodeId,
    CreateTime: isoSeconds(i.createTime),
    LaunchTime: iso(i.launchTime),
    RunningTime: iso(i.runningTime),
    EndTime: iso(i.endTime),
    RedirectInfo: redirectView(task, i.index),
    StateDetailedReason: detail,
  };
}

const SECRET_PATHS = new Set(['SecretId', 'SecretKey', 'Password']);

/** Mask a secret as the published examples do (`Aa12**5678`): keep a few characters at each end. */
export function maskSecret(s: string): string {
  if (s.length <= 6) return '*'.repeat(s.length);
  const keep = s.length >= 16 ? 4 : 2;
  return s.slice(0, keep) + '*'.repeat(s.length - 2 * keep) + s.slice(-keep);
}

/** Deep copy with every secret (Authentications' SecretId/SecretKey, passwords) masked. */
export function maskSecrets<T>(v: T): T {
  if (Array.isArray(v)) return v.map(maskSecrets) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = SECRET_PATHS.has(k) && typeof x === 'string' ? maskSecret(x) : maskSecrets(x);
    }
    return out as T;
  }
  return v;
}
