// Store contract: high-level operations on jobs, tasks, instances, environments, templates, the
// leadership lease, the command queue and the registry of replicas. Every backend (SQLite now, PostgreSQL next, shared by several
// server replicas) implements this interface and passes the same contract suite
// (test/contract/store.contract.ts). No transaction leaks out: each method is atomic on its own.
import type { EventDraft } from '../domain/events.ts';
import type { Counts, State } from '../domain/states.ts';
import type { CommandRecord, CommandResult, Lease, NewCommand, RefusedCommand, ReplicaRecord } from './coordination.ts';

export type { Command, CommandKind, CommandRecord, CommandResult, Lease, NewCommand, RefusedCommand, ReplicaRecord } from './coordination.ts';
export { FencedError } from './errors.ts';

export interface Tag {
  Key: string;
  Value: string;
}

export interface JobRecord {
  id: string;
  /** Submission order, from the database (assigned by insertJob, never reused): the scheduler orders jobs by it. */
  seq: number;
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

/** A job as SubmitJob hands it to insertJob: the store assigns its seq. */
export type NewJobRecord = Omit<JobRecord, 'seq'>;

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
  /** CreateComputeEnv's ClientToken (unique per account and region), or null. */
  clientToken: string | null;
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
  /** Events of these changes (env-events.ts), numbered and kept by the same transaction. */
  events?: EventDraft[];
}

export interface WriteBatch {
  jobs: JobRecord[];
  tasks: TaskRecord[];
  instances: InstanceRecord[];
  attempts: AttemptRecord[];
  /** Monitor samples taken as attempts ended, written with their ends (replacing one of the same
   *  instance, attempt and second). */
  samples?: SampleRecord[];
  /** Commands this batch's changes carry out: completed (deleted) in the same transaction. */
  completedCommands?: number[];
  /** Of those, the ones refused or failed: their reasons are kept (commandResults) for REFUSALS_KEPT_MS;
   *  older kept reasons may be dropped by the same write. */
  refusedCommands?: RefusedCommand[];
  /** State-change events of these changes, in order: numbered (Seq) and kept by the same transaction. */
  events?: EventDraft[];
}

/** Consecutive events of one account (and job, or none) as the store keeps them: Seqs first … first + n - 1. */
export interface EventRow {
  first: number;
  account: string;
  region: string;
  jobId: string | null;
  events: EventDraft[];
}

/** How many events the store keeps at least (older ones go as newer ones are written). */
export const EVENTS_KEPT = 500_000;

/** A page of a task's instances (rows and not-yet-materialised ones); see instance-page.ts. */
export interface InstancePage {
  task: TaskRecord;
  /** Instances matching the filter, before paging. */
  total: number;
  items: InstanceRecord[];
}

export interface ActiveSnapshot {
  jobs: JobRecord[];
  tasks: TaskRecord[];
  /** Instance rows of active jobs that are not finished, plus every row at or beyond its task's cursor. */
  instances: InstanceRecord[];
}

/**
 * Fencing. The scheduler's writes carry the epoch of its lease (acquireLease); the backend compares it
 * with the current lease's epoch inside the write's own transaction and rejects a stale one with
 * FencedError, writing nothing. So a former leader that was paused past its lease cannot overwrite
 * what a newer leader wrote. Epochs are compared, not clocks: a lease that lapsed but was not taken
 * over still fences nothing. Services' writes (SubmitJob, the env changes users ask for, samples of
 * the monitor) carry no epoch: they are not the scheduler's and are right whoever leads.
 */
export interface Store {
  /** Insert a job with its tasks, and a `submitted` command for the scheduler, in one transaction (its
   *  seq comes from the database). With a client token already used by this account and region,
   *  nothing is inserted and the existing job id is returned with created=false. */
  insertJob(job: NewJobRecord, tasks: TaskRecord[]): Promise<{ jobId: string; created: boolean }>;
  getJob(account: string, region: string, jobId: string): Promise<JobRecord | undefined>;
  /** Internal lookup without the owner check (scheduler only). */
  getJobById(jobId: string): Promise<JobRecord | undefined>;
  getTasks(jobId: string): Promise<TaskRecord[]>;
  getTask(jobId: string, taskName: string): Promise<TaskRecord | undefined>;
  listJobs(account: string, region: string, q: JobFilter): Promise<{ total: number; jobs: JobRecord[] }>;
  /** Task states of several jobs at once (for JobView.TaskMetrics). */
  taskStatesOf(jobIds: string[]): Promise<Map<string, State[]>>;
  /** Delete a job whole. The leader carrying out a delete-job command passes its epoch (fenced);
   *  DeleteJob calls it without one until it goes through that command. */
  deleteJob(jobId: string, epoch?: number): Promise<void>;

  getInstance(jobId: string, taskName: string, index: number): Promise<InstanceRecord | undefined>;
  /** Count rows whose state is in `states` (all states when undefined) with index in [from, to). */
  countInstanceRows(jobId: string, taskName: string, states: State[] | undefined, from: number, to: number): Promise<number>;
  /** Rows whose state is in `states`, index in [from, to), ordered by index, paged. */
  listInstanceRows(
    jobId: string, taskName: string, states: State[], from: number, to: number, offset: number, limit: number,
  ): Promise<InstanceRecord[]>;
  attemptsOf(jobId: string, taskName: string, index: number): Promise<AttemptRecord[]>;
  /** A job and its tasks read together (one snapshot). The records may be shared with other readers
   *  (the SQLite store can cache them, frozen): read them, never change them. */
  jobWithTasks(account: string, region: string, jobId: string): Promise<{ job: JobRecord; tasks: TaskRecord[] } | undefined>;
  /** A page of a task's instances (rows and not-yet-materialised ones), filtered by state; one snapshot. */
  instancePage(
    jobId: string, taskName: string, states: State[] | undefined, offset: number, limit: number,
  ): Promise<InstancePage | undefined>;

  /** Everything the scheduler needs after a restart (jobs in seq order). */
  loadActive(): Promise<ActiveSnapshot>;
  /** Write the given records in one transaction: instance and attempt rows are upserted; jobs and
   *  tasks (created by insertJob) get their progress (state, times, counts, wait), and one that no
   *  longer exists is not created again. Fenced by `epoch` (FencedError when stale); without one, unchecked. */
  // the scheduler always passes its lease's epoch; without one the write is unfenced (tests, tools)
  applyBatch(batch: WriteBatch, epoch?: number): Promise<void>;

  /** Stored events after Seq `after` (rows whose last Seq is above it), in Seq order, at most `limit` rows. */
  eventsAfter(after: number, limit: number): Promise<EventRow[]>;
  /** The first Seq still kept and the last Seq written (0, 0 before any). */
  eventBounds(): Promise<{ first: number; last: number }>;
  /** The durable position of a named reader (a webhook topic), 0 when it has none yet. */
  eventCursor(name: string): Promise<number>;
  setEventCursor(name: string, seq: number): Promise<void>;

  /** Insert a template unless the owner already has `quota` templates (returns false then). */
  insertTemplate(t: TemplateRecord, quota: number): Promise<boolean>;
  /** Templates of the owner with these ids (those that exist). */
  getTemplates(account: string, region: string, ids: string[]): Promise<TemplateRecord[]>;
  listTemplates(account: string, region: string, q: TemplateFilter): Promise<{ total: number; templates: TemplateRecord[] }>;
  /** Replace name, description and info of a template (tags stay). */
  updateTemplate(t: TemplateRecord): Promise<void>;
  /** Delete templates of the owner by id, all or none: returns the ids that do not exist (then nothing is deleted). */
  deleteTemplates(account: string, region: string, ids: string[]): Promise<string[]>;

  /**
   * CreateComputeEnv in one transaction: the env, its first nodes and their activities. With a client
   * token this account and region already used, nothing is written and the existing env's id is
   * returned with created=false (a unique index backs this up against concurrent creates); 'quota'
   * when the owner already has `quota` envs. Every node and activity must belong to `env`. `events`
   * (the env's and its nodes') are written with them, and only when the env is created.
   */
  insertEnvWithNodes(
    env: EnvRecord, nodes: NodeRecord[], activities: ActivityRecord[], quota: number, events?: EventDraft[],
  ): Promise<{ envId: string; created: boolean } | 'quota'>;
  /** The owner's env created with this ClientToken (an index lookup). */
  getEnvByClientToken(account: string, region: string, clientToken: string): Promise<EnvRecord | undefined>;
  getEnv(account: string, region: string, envId: string): Promise<EnvRecord | undefined>;
  getEnvById(envId: string): Promise<EnvRecord | undefined>;
  listEnvs(account: string, region: string, q: EnvFilter): Promise<{ total: number; envs: EnvRecord[] }>;
  /** Every env (scheduler start). */
  allEnvs(): Promise<EnvRecord[]>;
  nodesOf(envId: string): Promise<NodeRecord[]>;
  /** The compute nodes (instance ids) an instance of an active job is STARTING or RUNNING on: what a
   *  replica that does not lead answers TaskInstanceNumAvailable from. Reads active work only. */
  busyNodes(): Promise<Set<string>>;
  nodeByInstanceId(instanceId: string): Promise<NodeRecord | undefined>;
  activitiesOf(envId: string, nodeIds: string[] | undefined, offset: number, limit: number): Promise<{ total: number; activities: ActivityRecord[] }>;
  /** Write env changes in one transaction. The scheduler passes its epoch (fenced); the env services
   *  write what users ask without one (optional for them for good). */
  // the scheduler's node changes carry its epoch; the services' env writes carry none (unfenced, by design)
  applyEnvBatch(b: EnvBatch, epoch?: number): Promise<void>;

  /** Written by the monitor, not the scheduler: unfenced (a sample is right whoever leads). */
  insertSamples(samples: SampleRecord[]): Promise<void>;
  /** Samples of one instance (all attempts) with ts in [from, to], ordered by time. */
  samplesOf(jobId: string, taskName: string, index: number, from: number, to: number): Promise<SampleRecord[]>;

  /**
   * Take the leadership lease for `ttlMs` from `now` (the caller's clock, ms; a backend shared by several
   * hosts may use its own clock instead, e.g. PostgreSQL's now(), so that skewed hosts agree). Granted
   * when no lease is held, when the holder's lease expired, or when `holder` already holds it (then it
   * is renewed and keeps its epoch); a new holder gets the previous epoch + 1. Undefined when another
   * holder's lease is still running. Holders must be unique per process (e.g. host:pid:random).
   */
  acquireLease(holder: string, ttlMs: number, now: number): Promise<Lease | undefined>;
  /** Extend a lease still held (same holder and epoch, even if it lapsed, as long as no one took it
   *  over); undefined when it was lost: stop writing and acquire again. */
  renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease | undefined>;
  /** Give the lease up (no-op when it is no longer held). The epoch is kept: the next holder gets epoch + 1. */
  releaseLease(lease: Lease): Promise<void>;
  /** The lease as stored, if someone holds it (it may have expired: compare expiresAt). */
  currentLease(): Promise<Lease | undefined>;

  /** Queue a command for the scheduler; its id comes from the database. Wakes the onCommand listeners. */
  insertCommand(cmd: NewCommand): Promise<CommandRecord>;
  /**
   * Commands not completed yet with id > afterId, oldest first, at most `limit`. Completed commands are
   * gone, so pendingCommands(0, n) is everything still to do. With a backend whose ids may commit out
   * of order (PostgreSQL sequences under concurrent inserts), a drainer must not assume that every id
   * below the highest it saw is visible: start again from 0 after each wake-up.
   */
  pendingCommands(afterId: number, limit: number): Promise<CommandRecord[]>;
  /** Mark commands done (they are deleted); fenced by the leader's epoch. Unknown ids are ignored. */
  completeCommands(ids: number[], epoch: number): Promise<void>;
  /**
   * Call `listener` after commands were inserted (coalesced: many inserts close together make one call).
   * It carries no data: the listener reads pendingCommands. SQLite: fires in this process only, after
   * insertCommand and insertJob. A backend shared by several processes maps it to LISTEN/NOTIFY
   * (PostgreSQL: NOTIFY in the inserting transaction, LISTEN on a dedicated connection), so the leader
   * hears inserts made by any replica; the leader should still poll now and then (a notification is
   * lost while its connection is down). Returns the unsubscribe function.
   */
  onCommand(listener: () => void): () => void;
  /**
   * How these commands went, for a sender on any replica: an id still pending is absent from the map;
   * a completed one is { done: true }, or { done: false, reason } when it was completed as refused
   * (WriteBatch.refusedCommands, kept for REFUSALS_KEPT_MS). An id never given reads as done.
   */
  commandResults(ids: number[]): Promise<Map<number, CommandResult>>;

  /**
   * Request limits that hold for the deployment as a whole (every replica sharing this store).
   * takeRateToken: a token bucket per key (burst = perSecond, refilled continuously at perSecond per
   * second); true when a token was taken, false when the bucket is empty. firstUse: true the first
   * time `key` is used within `windowMs` (the use is recorded), false when it was already used (v1
   * replay protection). `nowMs` is the caller's clock; a shared backend may use its own. SQLite (one
   * process per database, as the data-dir lock ensures) keeps them in memory; PostgreSQL in tables.
   */
  takeRateToken(key: string, perSecond: number, nowMs: number): Promise<boolean>;
  firstUse(key: string, nowMs: number, windowMs: number): Promise<boolean>;

  /**
   * The registry of the replicas sharing this store: each records where the others reach it and
   * refreshes `lastSeen` every few seconds (its own clock, as the lease's times). registerReplica
   * inserts or replaces the replica's row (its URL may change across restarts); listReplicas answers
   * every row, ordered by id; forgetReplicas deletes the rows last seen before `beforeMs` and says
   * how many. Nothing here is fenced: each replica writes only its own row.
   */
  registerReplica(r: ReplicaRecord): Promise<void>;
  listReplicas(): Promise<ReplicaRecord[]>;
  forgetReplicas(beforeMs: number): Promise<number>;

  close(): Promise<void>;
}
