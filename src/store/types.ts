// Store contract: high-level operations on jobs, tasks and instances. Every backend (SQLite now,
// PostgreSQL next) implements this interface and passes the same contract suite. No transaction
// leaks out: each method is atomic on its own.
import type { Counts, State } from '../domain/states.ts';

export interface Tag {
  Key: string;
  Value: string;
}

export interface JobRecord {
  id: string;
  account: string;
  region: string;
  name: string;
  description: string;
  priority: number;
  zone: string;
  state: State;
  stateReason: string;
  nextAction: string;
  createTime: number;
  endTime: number | null;
  clientToken: string | null;
  tags: Tag[];
  /** Everything else that was submitted, as JSON-able data (placement, dependences, the Job echo …). */
  spec: JobSpecData;
}

export interface JobSpecData {
  placement: Record<string, unknown>;
  dependences: { StartTask: string; EndTask: string }[];
  dependOn: 'PRE_TASK_SUCCEED' | 'PRE_TASK_AT_LEAST_PARTLY_SUCCEED' | 'PRE_TASK_FINISHED';
  /** The Job as submitted, with defaults filled in (for DescribeJobSubmitInfo; secrets masked at the wire). */
  job: Record<string, unknown>;
}

/** The state shared by every instance of a task that has no row of its own yet (lazily materialised). */
export interface WaitInfo {
  state: State;
  reason: string;
  detail: string;
  /** End time for instances that ended without running (upstream failed, terminated). */
  endTime: number | null;
}

export interface TaskRecord {
  jobId: string;
  name: string;
  ord: number;
  /** The task as submitted with defaults filled in (wire shape). */
  spec: Record<string, unknown>;
  instanceNum: number;
  state: State;
  createTime: number;
  endTime: number | null;
  /** Instance counts per state, including the instances without a row. */
  counts: Counts;
  /** Every index below the cursor has an instance row. */
  cursor: number;
  wait: WaitInfo;
}

export interface InstanceRecord {
  jobId: string;
  taskName: string;
  index: number;
  state: State;
  /** Number of attempts launched so far (1-based number of the current/last attempt). */
  attempt: number;
  /** Attempt count at the last RetryJobs reset: retries left = MaxRetryCount - (attempt - retryBase - 1). */
  retryBase: number;
  exitCode: number | null;
  stateReason: string;
  stateDetail: string;
  nodeId: string | null;
  createTime: number;
  launchTime: number | null;
  runningTime: number | null;
  endTime: number | null;
  /** Executor handle of the current attempt while it runs (JSON). */
  handle: unknown | null;
}

/** A page of a task's instances (store/instance-page.ts builds it). */
export interface InstancePage {
  task: TaskRecord;
  /** Instances matching the filter, before paging. */
  total: number;
  items: InstanceRecord[];
}

export interface AttemptRecord {
  jobId: string;
  taskName: string;
  index: number;
  attempt: number;
  launchTime: number;
  runningTime: number | null;
  endTime: number | null;
  exitCode: number | null;
  signal: string | null;
  reason: string;
  nodeId: string | null;
}

export interface JobFilter {
  jobIds?: string[];
  /** ANDed; values ORed. Names already validated: job-id, job-name, job-state, zone, tag-key, tag-value, tag:<key>. */
  filters?: { name: string; values: string[] }[];
  offset: number;
  limit: number;
}

export interface TemplateRecord {
  id: string;
  account: string;
  region: string;
  name: string;
  description: string;
  /** The Task, as validated with defaults filled in (wire shape). */
  info: Record<string, unknown>;
  createTime: number;
  tags: Tag[];
}

export interface TemplateFilter {
  ids?: string[];
  /** Names already validated: task-template-name, tag-key, tag-value, tag:<key>. */
  filters?: { name: string; values: string[] }[];
  offset: number;
  limit: number;
}

/** One resource sample of a running attempt (DescribeJobMonitorData). */
export interface SampleRecord {
  jobId: string;
  taskName: string;
  index: number;
  attempt: number;
  /** Unix seconds. */
  ts: number;
  /** Percent of the instance's vCPUs. */
  cpu: number;
  /** Percent of the instance's memory. */
  mem: number;
  /** Percent used of the filesystem that holds the attempt's working directory. */
  disk: number;
}

export interface EnvRecord {
  id: string;
  account: string;
  region: string;
  name: string;
  description: string;
  zone: string;
  /** The NamedComputeEnv and Placement as created, with defaults (wire shape). */
  info: { ComputeEnv: Record<string, unknown>; Placement: Record<string, unknown> };
  /** DesiredComputeNodeCount: nodes created by Batch the env should have. */
  desired: number;
  nextAction: string;
  createTime: number;
  tags: Tag[];
}

export type NodeOrigin = 'BATCH_CREATED' | 'USER_ATTACHED';

export interface NodeRecord {
  id: string;
  envId: string;
  instanceId: string;
  instanceType: string;
  state: string;
  cpu: number;
  mem: number;
  origin: NodeOrigin;
  createdTime: number;
}

export interface ActivityRecord {
  id: string;
  envId: string;
  nodeId: string;
  type: 'CREATE_COMPUTE_NODE' | 'TERMINATE_COMPUTE_NODE';
  cause: string;
  state: 'SUBMITTED' | 'PROCESSING' | 'SUCCEED' | 'FAILED';
  reason: string;
  startTime: number;
  endTime: number | null;
  instanceId: string | null;
}

export interface EnvFilter {
  ids?: string[];
  /** Names already validated: zone, env-id, env-name, resource-type, tag-key, tag-value, tag:<key>. */
  filters?: { name: string; values: string[] }[];
  offset: number;
  limit: number;
}

/** Changes to compute environments, written together. */
export interface EnvBatch {
  envs?: EnvRecord[];
  deleteEnvs?: string[];
  nodes?: NodeRecord[];
  deleteNodes?: string[];
  activities?: ActivityRecord[];
}

export interface WriteBatch {
  jobs: JobRecord[];
  tasks: TaskRecord[];
  instances: InstanceRecord[];
  attempts: AttemptRecord[];
}

export interface ActiveSnapshot {
  jobs: JobRecord[];
  tasks: TaskRecord[];
  /** Instance rows of active jobs that are not finished, plus every row at or beyond its task's cursor. */
  instances: InstanceRecord[];
}

export interface Store {
  /** Insert a job with its tasks. With a client token already used by this account and region,
   *  nothing is inserted and the existing job id is returned with created=false. */
  insertJob(job: JobRecord, tasks: TaskRecord[]): Promise<{ jobId: string; created: boolean }>;
  getJob(account: string, region: string, jobId: string): Promise<JobRecord | undefined>;
  /** Internal lookup without the owner check (scheduler only). */
  getJobById(jobId: string): Promise<JobRecord | undefined>;
  getTasks(jobId: string): Promise<TaskRecord[]>;
  getTask(jobId: string, taskName: string): Promise<TaskRecord | undefined>;
  listJobs(account: string, region: string, q: JobFilter): Promise<{ total: number; jobs: JobRecord[] }>;
  /** Task states of several jobs at once (for JobView.TaskMetrics). */
  taskStatesOf(jobIds: string[]): Promise<Map<string, State[]>>;
  deleteJob(jobId: string): Promise<void>;

  getInstance(jobId: string, taskName: string, index: number): Promise<InstanceRecord | undefined>;
  /** Count rows whose state is in `states` (all states when undefined) with index in [from, to). */
  countInstanceRows(jobId: string, taskName: string, states: State[] | undefined, from: number, to: number): Promise<number>;
  /** Rows whose state is in `states`, index in [from, to), ordered by index, paged. */
  listInstanceRows(
    jobId: string, taskName: string, states: State[], from: number, to: number, offset: number, limit: number,
  ): Promise<InstanceRecord[]>;
  attemptsOf(jobId: string, taskName: string, index: number): Promise<AttemptRecord[]>;
  /** A job and its tasks read together (one snapshot). The records may be shared with other readers
   *  (the SQLite store caches them, frozen): read them, never change them. */
  jobWithTasks(account: string, region: string, jobId: string): Promise<{ job: JobRecord; tasks: TaskRecord[] } | undefined>;
  /** A page of a task's instances (rows and not-yet-materialised ones), filtered by state; one snapshot. */
  instancePage(
    jobId: string, taskName: string, states: State[] | undefined, offset: number, limit: number,
  ): Promise<InstancePage | undefined>;

  /** Everything the scheduler needs after a restart. */
  loadActive(): Promise<ActiveSnapshot>;
  /** Write the given records in one transaction: instance and attempt rows are upserted; jobs and
   *  tasks (created by insertJob) get their progress (state, times, counts, wait), and one that no
   *  longer exists is not created again. */
  applyBatch(batch: WriteBatch): Promise<void>;

  /** Insert a template unless the owner already has `quota` templates (returns false then). */
  insertTemplate(t: TemplateRecord, quota: number): Promise<boolean>;
  /** Templates of the owner with these ids (those that exist). */
  getTemplates(account: string, region: string, ids: string[]): Promise<TemplateRecord[]>;
  listTemplates(account: string, region: string, q: TemplateFilter): Promise<{ total: number; templates: TemplateRecord[] }>;
  /** Replace name, description and info of a template (tags stay). */
  updateTemplate(t: TemplateRecord): Promise<void>;
  /** Delete templates of the owner by id, all or none: returns the ids that do not exist (then nothing is deleted). */
  deleteTemplates(account: string, region: string, ids: string[]): Promise<string[]>;

  /** Insert an env unless the owner already has `quota` envs (returns false then). */
  insertEnv(e: EnvRecord, quota: number): Promise<boolean>;
  getEnv(account: string, region: string, envId: string): Promise<EnvRecord | undefined>;
  getEnvById(envId: string): Promise<EnvRecord | undefined>;
  listEnvs(account: string, region: string, q: EnvFilter): Promise<{ total: number; envs: EnvRecord[] }>;
  /** Every env (scheduler start). */
  allEnvs(): Promise<EnvRecord[]>;
  nodesOf(envId: string): Promise<NodeRecord[]>;
  nodeByInstanceId(instanceId: string): Promise<NodeRecord | undefined>;
  activitiesOf(envId: string, nodeIds: string[] | undefined, offset: number, limit: number): Promise<{ total: number; activities: ActivityRecord[] }>;
  applyEnvBatch(b: EnvBatch): Promise<void>;

  insertSamples(samples: SampleRecord[]): Promise<void>;
  /** Samples of one instance (all attempts) with ts in [from, to], ordered by time. */
  samplesOf(jobId: string, taskName: string, index: number, from: number, to: number): Promise<SampleRecord[]>;

  close(): Promise<void>;
}
