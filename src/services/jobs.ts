// Job use-cases behind the job and task actions: submit, describe, logs, terminate, retry, delete.
// Reads go to the store; every state change after submission is a command for the scheduler, left
// in the store (SubmitJob only inserts: the store queues its `submitted` command with the job).
import { apiError } from '../domain/errors.ts';
import { ENV_DATA_FIELD } from '../domain/data-spec.ts';
import type { AuthenticationInput, InputMappingInput } from '../api/models.ts';
import type { Limits } from '../config/config.ts';
import { checkJobId } from '../domain/ids.ts';
import { newId } from '../domain/ids.ts';
import { isState, isFinished, zeroCounts, type State, STATES } from '../domain/states.ts';
import type { Clock } from '../lib/clock.ts';
import { gib, vcpus } from '../domain/units.ts';
import type { HostCapacity } from '../domain/capacity.ts';
import type { CommandSender } from '../scheduler/ports.ts';
import type { JobRecord, NewJobRecord, Store, TaskRecord } from '../store/types.ts';
import { checkFilters, checkPage } from './filters.ts';
import { checkClientToken, checkJob, checkTopics, checkTaskName, checkZone, type CheckedTask, type ValidationContext } from './validate.ts';
import {
  describeJobView, instanceView, isoOrEmpty, jobView, maskSecrets, metricsView, redirectView,
} from './views.ts';
import { storedJob } from './stored.ts';
import type { AttemptLogs } from '../executors/types.ts';
import type { Caller } from './types.ts';
import type { RequestOf, ResponseOf, TaskInstanceLog } from '../api/models.ts';

export interface JobServiceDeps {
  store: Store;
  /** Where commands for the scheduler go. */
  commands: CommandSender;
  clock: Clock;
  limits: Limits;
  /** The Notification topics of the server's config (others are refused). */
  topics?: ReadonlySet<string>;
  /** Where attempts' logs live (the executor's). */
  logs: AttemptLogs;
  localRoot: string;
  /** Whether the caller has this named compute environment (and it is not being deleted). */
  envUsable?: (c: Caller, envId: string) => Promise<boolean>;
  /** Whether the instance catalogue knows an instance type. */
  knownInstanceType?: (t: string) => boolean;
  /** vCPUs and memory (GiB) of an instance type, and what this host can ever promise: an instance
   *  on an anonymous environment larger than the host is refused at submission. */
  capacityOf?: (t: string) => { cpu: number; memGiB: number } | undefined;
  capacity?: HostCapacity;
  /** See ValidationContext.envBytes. */
  envBytes?: number;
  /** The engine queue of a task's EnvId (undefined: no EnvId): its instances do not run on this host. */
  queueOf?: (envId: string | undefined) => string | undefined;
  /** The InputMappings and COS Authentications of a named environment, which its tasks get. */
  envDataOf?: (c: Caller, envId: string) => Promise<EnvData | undefined>;
  /** Why attempts on the queue (undefined: this host) cannot have private mounts, or undefined. */
  privateMounts?: (queue: string | undefined) => string | undefined;
}

type EnvData = { InputMappings: InputMappingInput[]; Authentications: AuthenticationInput[] };

export const JOB_FILTERS = ['job-id', 'job-name', 'job-state', 'zone', 'tag-key', 'tag-value'];
export const TASK_INSTANCE_FILTERS = ['task-instance-state', 'task-instance-type'];
const LOG_TAIL_BYTES = 2048;
const LOG_PREFIX = 'data:text/plain;charset=utf-8;base64,';

export class JobService {
  constructor(private readonly d: JobServiceDeps) {}

  private ctx(c: Caller): ValidationContext {
    return { region: c.region, limits: this.d.limits, localRoot: this.d.localRoot, knownInstanceType: this.d.knownInstanceType, envBytes: this.d.envBytes };
  }

  async submitJob(c: Caller, req: RequestOf<'SubmitJob'>): Promise<ResponseOf<'SubmitJob'>> {
    const placement = req.Placement;
    checkZone(placement.Zone, c.region);
    if (placement.ProjectId !== undefined && placement.ProjectId < 0) {
      throw apiError('InvalidParameterValue.Negative', { param: 'Placement.ProjectId', problem: `must not be negative; got ${placement.ProjectId}` });
    }
    checkClientToken(req.ClientToken);
    const usable = new Map<string, boolean>();
    for (const t of req.Job.Tasks) {
      if (typeof t.EnvId === 'string' && this.d.envUsable) usable.set(t.EnvId, await this.d.envUsable(c, t.EnvId));
    }
    const { job, tasks, dependOn } = checkJob(req.Job, this.ctx(c), { envExists: (id) => usable.get(id) ?? false });
    checkTopics(job.Notifications, this.d.topics ?? new Set(), 'Job.Notifications');
    tasks.forEach((t, i) => this.checkFitsHost(t, `Job.Tasks.${i}`));
    const envData = new Map<string, EnvData | undefined>();
    for (const t of tasks) {
      if (t.EnvId !== undefined && !envData.has(t.EnvId)) envData.set(t.EnvId, await this.d.envDataOf?.(c, t.EnvId));
    }
    tasks.forEach((t, i) => this.checkMountsPossible(t, t.EnvId === undefined ? undefined : envData.get(t.EnvId), `Job.Tasks.${i}`));
    const now = this.d.clock.now();
    const id = newId('job');
    const rec: NewJobRecord = {
      id,
      account: c.account,
      region: c.region,
      name: job.JobName ?? '',
      description: job.JobDescription ?? '',
      priority: job.Priority ?? 0,
      zone: placement.Zone,
      state: 'SUBMITTED',
      stateReason: '',
      nextAction: '',
      createTime: now,
      endTime: null,
      clientToken: req.ClientToken ?? null,
      tags: job.Tags ?? [],
      spec: {
        placement,
        dependences: job.Dependences ?? [],
        dependOn,
        job,
      },
    };
    const taskRecs: TaskRecord[] = tasks.map((t, ord) => {
      const counts = zeroCounts();
      counts.SUBMITTED = t.TaskInstanceNum;
      return {
        jobId: id,
        name: t.TaskName,
        ord,
        // the environment's mappings as they are now: later changes of it do not reach this job
        spec: t.EnvId !== undefined && envData.get(t.EnvId) ? { ...t, [ENV_DATA_FIELD]: envData.get(t.EnvId) } : t,
        instanceNum: t.TaskInstanceNum,
        state: 'SUBMITTED',
        createTime: now,
        endTime: null,
        counts,
        cursor: 0,
        wait: { state: 'SUBMITTED', reason: 'Submitted', detail: 'the job was accepted and waits for the scheduler', endTime: null },
      };
    });
    const { jobId } = await this.d.store.insertJob(rec, taskRecs);
    return { JobId: jobId };
  }

  /** Mapped paths are private to each attempt, or the task does not run at all: refused here where
   *  the executor cannot make them private. */
  private checkMountsPossible(t: CheckedTask, env: EnvData | undefined, param: string): void {
    const mapped = (t.InputMappings?.length ?? 0) + (t.OutputMappings?.length ?? 0) + (env?.InputMappings.length ?? 0);
    if (mapped === 0 || !this.d.privateMounts) return;
    const why = this.d.privateMounts(this.d.queueOf?.(t.EnvId));
    if (why === undefined) return;
    const what = (env?.InputMappings.length ?? 0) > 0 && mapped === env!.InputMappings.length ? `the InputMappings of compute environment ${t.EnvId}` : `${param}: InputMappings and OutputMappings`;
    throw apiError('UnsupportedOperation', { detail: `${what} need a private view of the mapped paths for each attempt, which cannot be had here: ${why}.` });
  }

  /** An instance of an anonymous environment must fit in what this host can promise at all. */
  private checkFitsHost(t: CheckedTask, param: string): void {
    const cap = this.d.capacity;
    if (!cap || !this.d.capacityOf || t.ComputeEnv === undefined) return;
    if (this.d.queueOf?.(undefined) !== undefined) return; // anonymous tasks go to the engine's queue
    const ed = t.ComputeEnv.EnvData;
    const type = ed?.InstanceType ?? ed?.InstanceTypes?.[0];
    const r = type === undefined ? undefined : this.d.capacityOf(type);
    if (!r || cap.everFits({ cpus: r.cpu, memGiB: r.memGiB })) return;
    // COMPAT: LimitExceeded.CpuQuota (the quota code of compute environments) for an instance type
    // larger than this host can ever promise, instead of an instance that would wait forever
    throw apiError('LimitExceeded.CpuQuota', {
      detail: `${param}.ComputeEnv.EnvData: ${type} needs ${vcpus(r.cpu)} and ${gib(r.memGiB)}; this host can promise at most ${cap.describeTotal()}. Choose a smaller instance type, or raise --overcommit`,
    });
  }

  private async mustJob(c: Caller, jobId: string): Promise<{ job: JobRecord; tasks: TaskRecord[] }> {
    checkJobId(jobId);
    const got = await this.d.store.jobWithTasks(c.account, c.region, jobId);
    if (!got) throw apiError('ResourceNotFound.Job', { jobId });
    return got;
  }

  async describeJob(c: Caller, req: RequestOf<'DescribeJob'>): Promise<ResponseOf<'DescribeJob'>> {
    const { job, tasks } = await this.mustJob(c, req.JobId);
    return describeJobView(job, tasks);
  }

  async describeJobSubmitInfo(c: Caller, req: RequestOf<'DescribeJobSubmitInfo'>): Promise<ResponseOf<'DescribeJobSubmitInfo'>> {
    const { job } = await this.mustJob(c, req.JobId);
    const echo = maskSecrets(storedJob(job));
    return {
      JobId: job.id,
      JobName: job.name,
      JobDescription: job.description,
      Priority: job.priority,
      Tasks: echo.Tasks,
      Dependences: job.spec.dependences,
      Tags: job.tags,
    };
  }

  async describeJobs(c: Caller, req: RequestOf<'DescribeJobs'>): Promise<ResponseOf<'DescribeJobs'>> {
    const { offset, limit } = checkPage(req.Offset, req.Limit, 20, 100);
    if (req.JobIds !== undefined && req.Filters !== undefined) {
      throw apiError('InvalidParameter.InvalidParameterCombination', { detail: 'JobIds and Filters cannot be given together.' });
    }
    const jobIds = req.JobIds;
    if (jobIds) {
      if (jobIds.length > this.d.limits.maxJobIdsPerRequest) {
        throw apiError('InvalidParameterValue.LimitExceeded', { param: 'JobIds', problem: `has ${jobIds.length} entries; at most ${this.d.limits.maxJobIdsPerRequest} are allowed` });
      }
      jobIds.forEach((id, i) => checkJobId(id, `JobIds.${i}`));
    }
    const filters = checkFilters(req.Filters, (name) => JOB_FILTERS.includes(name) || name.startsWith('tag:'), this.d.limits);
    for (const f of filters) {
      if (f.name === 'job-state') {
        f.values.forEach((v, j) => {
          if (!isState(v)) throw apiError('InvalidParameterValue.InvalidFilter', { param: 'Filters:', problem: `job-state value ${j} "${v}" is not a job state (${STATES.join(', ')})` });
        });
      }
      if (f.name === 'job-id') f.values.forEach((v, j) => checkJobId(v, `Filters job-id value ${j}`));
    }
    const { total, jobs } = await this.d.store.listJobs(c.account, c.region, { jobIds, filters, offset, limit });
    const states = await this.d.store.taskStatesOf(jobs.map((j) => j.id));
    return { JobSet: jobs.map((j) => jobView(j, states.get(j.id) ?? [])), TotalCount: total };
  }

  async describeTask(c: Caller, req: RequestOf<'DescribeTask'>): Promise<ResponseOf<'DescribeTask'>> {
    checkJobId(req.JobId);
    const offset = req.Offset ?? 0;
    const limit = req.Limit ?? 100;
    if (limit > 1000) throw apiError('InvalidParameterValue', { param: 'Limit', problem: `must be between 0 and 1000; got ${limit}` });
    let states: State[] | undefined;
    const list = req.Filters;
    if (list && list.length > 0) {
      // COMPAT: both documented names of the state filter are accepted (batch-api.md §h.1)
      const fs2 = checkFilters(list, (n) => TASK_INSTANCE_FILTERS.includes(n), this.d.limits);
      let acc: Set<State> | undefined;
      fs2.forEach((f, i) => {
        const set = new Set<State>();
        f.values.forEach((v, j) => {
          if (!isState(v)) throw apiError('InvalidParameterValue.InvalidFilter', { param: `Filters.${i}.Values.${j}`, problem: `"${v}" is not a task instance state (${STATES.join(', ')})` });
          set.add(v);
        });
        acc = acc === undefined ? set : new Set([...acc].filter((s) => set.has(s)));
      });
      states = [...acc!];
    }
    const job = await this.d.store.getJob(c.account, c.region, req.JobId);
    if (!job) throw apiError('ResourceNotFound.Task', { jobId: req.JobId, taskName: req.TaskName });
    const page = await this.d.store.instancePage(job.id, req.TaskName, states, offset, limit);
    if (!page) throw apiError('ResourceNotFound.Task', { jobId: req.JobId, taskName: req.TaskName });
    const t = page.task;
    return {
      JobId: job.id,
      TaskName: t.name,
      TaskState: t.state,
      CreateTime: isoOrEmpty(t.createTime),
      EndTime: isoOrEmpty(t.endTime),
      TaskInstanceTotalCount: page.total,
      TaskInstanceSet: page.items.map((i) => instanceView(t, i)),
      TaskInstanceMetrics: metricsView(t.counts),
    };
  }

  async describeTaskLogs(c: Caller, req: RequestOf<'DescribeTaskLogs'>): Promise<ResponseOf<'DescribeTaskLogs'>> {
    checkJobId(req.JobId);
    checkTaskName(req.TaskName, 'TaskName');
    const limit = req.Limit ?? 5;
    if (limit > 10) throw apiError('InvalidParameterValue', { param: 'Limit', problem: `must be between 0 and 10; got ${limit}` });
    if (req.TaskInstanceIndexes !== undefined && req.Offset !== undefined) {
      throw apiError('InvalidParameter.InvalidParameterCombination', { detail: 'TaskInstanceIndexes and Offset cannot be given together.' });
    }
    const job = await this.d.store.getJob(c.account, c.region, req.JobId);
    if (!job) throw apiError('ResourceNotFound.Job', { jobId: req.JobId });
    const task = await this.d.store.getTask(job.id, req.TaskName);
    if (!task) throw apiError('ResourceNotFound.Task', { jobId: job.id, taskName: req.TaskName });
    let indexes: number[];
    if (req.TaskInstanceIndexes !== undefined) {
      indexes = [...new Set(req.TaskInstanceIndexes)];
      for (const i of indexes) {
        if (i >= task.instanceNum) {
          throw apiError('ResourceNotFound.TaskInstance', { jobId: job.id, taskName: task.name, index: i, why: instancesOf(task) });
        }
      }
      indexes = indexes.slice(0, limit);
    } else {
      const from = req.Offset ?? 0;
      indexes = [];
      for (let i = from; i < Math.min(task.instanceNum, from + limit); i++) indexes.push(i);
    }
    const set: TaskInstanceLog[] = [];
    for (const index of indexes) {
      const inst = await this.d.store.getInstance(job.id, task.name, index);
      const rv = redirectView(task, index);
      let out: string | null = null, err: string | null = null;
      if (inst && inst.attempt > 0) {
        const id = { jobId: job.id, taskName: task.name, index, attempt: inst.attempt };
        out = dataUri(await this.d.logs.tail(id, 'stdout', LOG_TAIL_BYTES));
        err = dataUri(await this.d.logs.tail(id, 'stderr', LOG_TAIL_BYTES));
      }
      set.push({
        TaskInstanceIndex: index,
        StdoutLog: out,
        StderrLog: err,
        StdoutRedirectPath: rv.StdoutRedirectPath,
        StderrRedirectPath: rv.StderrRedirectPath,
        StdoutRedirectFileName: rv.StdoutRedirectFileName,
        StderrRedirectFileName: rv.StderrRedirectFileName,
      });
    }
    return { TotalCount: task.instanceNum, TaskInstanceLogSet: set };
  }

  async terminateJob(c: Caller, req: RequestOf<'TerminateJob'>): Promise<ResponseOf<'TerminateJob'>> {
    const { job } = await this.mustJob(c, req.JobId);
    if (job.state === 'SUBMITTED') {
      throw apiError('UnsupportedOperation', { detail: `Job ${job.id} is SUBMITTED: it cannot be terminated until the scheduler has accepted it; try again in a moment.` });
    }
    if (job.state === 'SUCCEED') return {};
    await this.d.commands.send({ kind: 'terminate-job', jobId: job.id });
    return {};
  }

  async terminateTaskInstance(c: Caller, req: RequestOf<'TerminateTaskInstance'>): Promise<ResponseOf<'TerminateTaskInstance'>> {
    const { job, tasks } = await this.mustJob(c, req.JobId);
    const task = tasks.find((t) => t.name === req.TaskName);
    if (!task) throw apiError('ResourceNotFound.TaskInstance', { jobId: job.id, taskName: req.TaskName, index: req.TaskInstanceIndex, why: 'the job has no task of that name' });
    const index = req.TaskInstanceIndex;
    if (index < 0 || index >= task.instanceNum) {
      throw apiError('ResourceNotFound.TaskInstance', { jobId: job.id, taskName: task.name, index, why: instancesOf(task) });
    }
    await this.d.commands.send({ kind: 'terminate-instance', jobId: job.id, taskName: task.name, index });
    return {};
  }

  async retryJobs(c: Caller, req: RequestOf<'RetryJobs'>): Promise<ResponseOf<'RetryJobs'>> {
    const ids = [...new Set(req.JobIds)];
    if (ids.length === 0) throw apiError('InvalidParameterValue', { param: 'JobIds', problem: 'must name at least one job' });
    if (ids.length > 100) throw apiError('InvalidParameterValue.LimitExceeded', { param: 'JobIds', problem: `has ${ids.length} entries; at most 100 are allowed` });
    ids.forEach((id, i) => checkJobId(id, `JobIds.${i}`));
    const jobs: JobRecord[] = [];
    for (const id of ids) {
      const job = await this.d.store.getJob(c.account, c.region, id);
      if (!job) throw apiError('ResourceNotFound.Job', { jobId: id });
      if (job.state !== 'FAILED') {
        throw apiError('UnsupportedOperation', { detail: `Job ${id} is ${job.state}: only FAILED jobs can be retried.` });
      }
      jobs.push(job);
    }
    for (const job of jobs) await this.d.commands.send({ kind: 'retry-job', jobId: job.id });
    return {};
  }

  async deleteJob(c: Caller, req: RequestOf<'DeleteJob'>): Promise<ResponseOf<'DeleteJob'>> {
    const { job, tasks } = await this.mustJob(c, req.JobId);
    const unfinished = tasks.filter((t) => t.counts.FAILED_INTERRUPTED > 0 || !isFinished(t.state));
    if (!isFinished(job.state) || job.state === 'FAILED_INTERRUPTED' || unfinished.length > 0 || job.nextAction !== '') {
      throw apiError('ResourceInUse.Job', {
        jobId: job.id,
        problem: `is ${job.state}${job.nextAction ? ` (${job.nextAction})` : ''}: only jobs whose every instance is SUCCEED or FAILED can be deleted; terminate it first`,
      });
    }
    // the scheduler deletes it with what its attempts left (logs, working directories); objects sent
    // to RedirectInfo targets stay
    const r = await this.d.commands.send({ kind: 'delete-job', jobId: job.id });
    if (!r.done) throw apiError('ResourceInUse.Job', { jobId: job.id, problem: 'is still being processed; try again in a moment' });
    return {};
  }
}

/** A log tail as a Base64 data URI (the shape of the published example), or null when there is none. */
function dataUri(b: Buffer | undefined): string | null {
  return b === undefined ? null : LOG_PREFIX + b.toString('base64');
}

/** Why an instance index is not one of a task's (ResourceNotFound.TaskInstance). */
export function instancesOf(task: TaskRecord): string {
  return task.instanceNum === 1 ? 'the task has 1 instance, 0' : `the task has ${task.instanceNum} instances, 0 to ${task.instanceNum - 1}`;
}
