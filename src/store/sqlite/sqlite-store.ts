// SQLite implementation of the Store (better-sqlite3, WAL): jobs, tasks, instances and samples here;
// envs, templates, the lease, the command queue and the registry of replicas in their own modules
// over the same connection.
// Durability: WAL + synchronous=NORMAL survives a kill -9 of the service (every commit is in the WAL
// before the call returns); only an OS crash may lose the last commits.
import type { EventDraft } from '../../domain/events.ts';
import type { State } from '../../domain/states.ts';
import type { CommandRecord, CommandResult, Lease, NewCommand, ReplicaRecord } from '../coordination.ts';
import { MemoryLimits } from '../memory-limits.ts';
import { pageInstancesSync, type SyncPageReader } from '../instance-page.ts';
import type {
  ActiveSnapshot, ActivityRecord, AttemptRecord, EnvBatch, EnvFilter, EnvRecord, InstancePage, InstanceRecord, JobFilter,
  JobRecord, NewJobRecord, NodeRecord, SampleRecord, Store, TaskRecord, TemplateFilter, TemplateRecord, WriteBatch, EventRow,
} from '../types.ts';
import { SqliteCommands } from './commands.ts';
import { guardStore, openGuarded } from './errors.ts';
import { Conn, marks, type Row } from './connection.ts';
import { SqliteEnvs } from './envs.ts';
import { SqliteLeadership } from './lease.ts';
import { JobCache } from './job-cache.ts';
import { jobPage } from './job-page.ts';
import {
  deepFreeze, INSTANCE_COLUMNS, instanceFromRaw, instanceParams, jobParams, taskParams, taskProgressParams, toAttempt,
  toInstance, toJob, toSample, toTask,
} from './rows.ts';
import { SqliteReplicas } from './replicas.ts';
import { SqliteTemplates } from './templates.ts';
import { SqliteEvents } from './events.ts';

// loadActive reads the partial index jobs_active (migration 11): never the finished history. Of an
// active job's instances, the rows in an active state (instances_by_state) and those at or beyond its
// task's cursor (a primary-key range), not every row it ever had.
const ACTIVE_SQL = `('SUBMITTED','PENDING','RUNNABLE','STARTING','RUNNING')`;
const ACTIVE_JOB = `(j.state IN ${ACTIVE_SQL} OR j.next_action <> '')`;
export const ACTIVE_JOBS = `SELECT j.* FROM jobs j INDEXED BY jobs_active WHERE ${ACTIVE_JOB} ORDER BY j.seq`;
export const ACTIVE_TASKS = `SELECT t.* FROM jobs j INDEXED BY jobs_active CROSS JOIN tasks t ON t.job_id = j.id
  WHERE ${ACTIVE_JOB} ORDER BY j.seq, t.ord`;
export const ACTIVE_INSTANCES = `SELECT i.* FROM jobs j INDEXED BY jobs_active CROSS JOIN tasks t ON t.job_id = j.id
    CROSS JOIN instances i INDEXED BY instances_by_state ON i.job_id = t.job_id AND i.task_name = t.name
  WHERE ${ACTIVE_JOB} AND i.state IN ('SUBMITTED','PENDING','RUNNABLE','STARTING','RUNNING','FAILED_INTERRUPTED') AND i.idx < t.cursor
  UNION ALL
  SELECT i.* FROM jobs j INDEXED BY jobs_active CROSS JOIN tasks t ON t.job_id = j.id
    CROSS JOIN instances i ON i.job_id = t.job_id AND i.task_name = t.name AND i.idx >= t.cursor
  WHERE ${ACTIVE_JOB}`;
// the nodes an instance of an active job holds (TaskInstanceNumAvailable on a replica that does not lead)
export const BUSY_NODES = `SELECT DISTINCT i.node_id FROM jobs j INDEXED BY jobs_active CROSS JOIN tasks t ON t.job_id = j.id
    CROSS JOIN instances i INDEXED BY instances_by_state ON i.job_id = t.job_id AND i.task_name = t.name
  WHERE ${ACTIVE_JOB} AND i.state IN ('STARTING','RUNNING') AND i.node_id IS NOT NULL`;
const ROWS_IN = `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE job_id=? AND task_name=? AND idx>=? AND idx<? ORDER BY idx`;

/** How many records (a job and each of its tasks) jobWithTasks keeps: 2,000 jobs of one task. */
const RECORDS_CACHED = 4000;

export interface SqliteStoreOptions {
  /**
   * Keep the (frozen) records of recently read jobs for jobWithTasks (DescribeJob's read). Every write
   * of a job or task row through this store drops its job's entry in the same synchronous call, which
   * is right only while this process is the database's only writer (one server per data dir, as the
   * data-dir lock ensures). A store shared by several processes must disable it, or validate entries
   * by a row version. Default true (the single-process server).
   */
  cacheJobRecords?: boolean;
  /** How many events are kept at least (default EVENTS_KEPT; tests make it small). */
  eventsKept?: number;
}

const INSERT_SAMPLE = `INSERT OR REPLACE INTO monitor_samples (job_id, task_name, idx, attempt, ts, cpu, mem, disk)
  VALUES (@jobId, @taskName, @index, @attempt, @ts, @cpu, @mem, @disk)`;

export class SqliteStore implements Store {
  private readonly c: Conn;
  private readonly lease: SqliteLeadership;
  private readonly commands: SqliteCommands;
  private readonly envs: SqliteEnvs;
  private readonly templates: SqliteTemplates;
  private readonly replicas: SqliteReplicas;
  private readonly events: SqliteEvents;
  /** One process per database (the data-dir lock): request limits are counted in its memory. */
  private readonly limits = new MemoryLimits();
  /** See SqliteStoreOptions.cacheJobRecords; undefined when disabled. */
  private readonly jobRecords: JobCache | undefined;

  /** Opens the store; SQLite's refusals become StoreUnavailable or StoreOpenError (./errors.ts). */
  static open(file: string, opts: SqliteStoreOptions = {}): SqliteStore {
    return openGuarded(file, () => new SqliteStore(file, opts));
  }

  constructor(file: string, opts: SqliteStoreOptions = {}) {
    this.c = new Conn(file);
    this.lease = new SqliteLeadership(this.c);
    this.commands = new SqliteCommands(this.c, this.lease);
    this.events = new SqliteEvents(this.c, opts.eventsKept);
    this.envs = new SqliteEnvs(this.c, this.lease, this.events);
    this.templates = new SqliteTemplates(this.c);
    this.replicas = new SqliteReplicas(this.c);
    this.jobRecords = (opts.cacheJobRecords ?? true) ? new JobCache(RECORDS_CACHED) : undefined;
    // SQLite's full, read-only, I/O and busy errors leave every public method as StoreUnavailable
    guardStore(this, file);
  }

  // ------------------------------------------------------------------ jobs and tasks

  async insertJob(job: NewJobRecord, tasks: TaskRecord[]): Promise<{ jobId: string; created: boolean }> {
    const r = this.c.write(() => {
      if (job.clientToken !== null) {
        const existing = this.c.sql('SELECT id FROM jobs WHERE account=? AND region=? AND client_token=?')
          .get(job.account, job.region, job.clientToken) as { id: string } | undefined;
        if (existing) return { jobId: existing.id, created: false };
      }
      // the seq from the database, in this transaction (PostgreSQL: a sequence / identity column)
      const seq = this.c.sql("UPDATE sequences SET value = value + 1 WHERE name = 'jobs' RETURNING value").pluck().get() as number | undefined;
      if (seq === undefined) throw new Error("the database has no 'jobs' sequence (migration 7 missing)");
      this.jobRecords?.delete(job.id);
      this.c.sql(`INSERT INTO jobs (id, seq, account, region, name, description, priority, zone, state, state_reason,
        next_action, create_time, end_time, client_token, tags, spec)
        VALUES (@id, @seq, @account, @region, @name, @description, @priority, @zone, @state, @stateReason,
        @nextAction, @createTime, @endTime, @clientToken, @tags, @spec)`).run(jobParams(job, seq));
      const tag = this.c.sql('INSERT INTO job_tags (job_id, key, value) VALUES (?, ?, ?)');
      for (const t of job.tags) tag.run(job.id, t.Key, t.Value);
      const insertTask = this.c.sql(`INSERT INTO tasks (job_id, name, ord, spec, instance_num, state, create_time, end_time,
        counts, cursor, wait_state, wait_reason, wait_detail, wait_end_time)
        VALUES (@jobId, @name, @ord, @spec, @instanceNum, @state, @createTime, @endTime, @counts, @cursor,
        @waitState, @waitReason, @waitDetail, @waitEndTime)
        ON CONFLICT (job_id, name) DO UPDATE SET state=excluded.state, end_time=excluded.end_time,
        counts=excluded.counts, cursor=excluded.cursor, wait_state=excluded.wait_state,
        wait_reason=excluded.wait_reason, wait_detail=excluded.wait_detail, wait_end_time=excluded.wait_end_time`);
      for (const t of tasks) insertTask.run(taskParams(t));
      this.commands.insertIn({ kind: 'submitted', jobId: job.id, createdAt: job.createTime });
      return { jobId: job.id, created: true };
    });
    if (r.created) this.commands.wake();
    return r;
  }

  async getJob(account: string, region: string, jobId: string): Promise<JobRecord | undefined> {
    const r = this.c.sql('SELECT * FROM jobs WHERE id=? AND account=? AND region=?').get(jobId, account, region) as Row | undefined;
    return r ? toJob(r) : undefined;
  }

  async getJobById(jobId: string): Promise<JobRecord | undefined> {
    const r = this.jobRow(jobId);
    return r ? toJob(r) : undefined;
  }

  async getTasks(jobId: string): Promise<TaskRecord[]> {
    return this.taskRows(jobId).map(toTask);
  }

  async getTask(jobId: string, taskName: string): Promise<TaskRecord | undefined> {
    const r = this.taskRow(jobId, taskName);
    return r ? toTask(r) : undefined;
  }

  async listJobs(account: string, region: string, q: JobFilter): Promise<{ total: number; jobs: JobRecord[] }> {
    // one snapshot: the kept counts and the page agree (job-page.ts: no read grows with history)
    return this.c.read(() => jobPage(this.c, account, region, q));
  }

  async taskStatesOf(jobIds: string[]): Promise<Map<string, State[]>> {
    const m = new Map<string, State[]>(jobIds.map((id) => [id, []]));
    if (jobIds.length === 0) return m;
    const rows = this.c.dyn(`SELECT job_id, state FROM tasks WHERE job_id IN (${marks(jobIds.length)}) ORDER BY ord`)
      .all(...jobIds) as { job_id: string; state: State }[];
    for (const r of rows) m.get(r.job_id)!.push(r.state);
    return m;
  }

  async deleteJob(jobId: string, epoch?: number): Promise<void> {
    this.c.write(() => {
      this.lease.fence(epoch, 'deleteJob');
      this.jobRecords?.delete(jobId);
      for (const table of ['attempts', 'monitor_samples', 'instances', 'tasks', 'job_tags']) {
        this.c.sql(`DELETE FROM ${table} WHERE job_id=?`).run(jobId);
      }
      this.c.sql('DELETE FROM jobs WHERE id=?').run(jobId);
    });
  }

  async jobWithTasks(account: string, region: string, jobId: string): Promise<{ job: JobRecord; tasks: TaskRecord[] } | undefined> {
    let got = this.jobRecords?.get(jobId);
    if (got === undefined) {
      const rows = this.c.read(() => {
        const job = this.jobRow(jobId);
        return job && { job, tasks: this.taskRows(jobId) };
      });
      if (rows === undefined) return undefined;
      // mapped once and frozen: every reader gets the same records until a write of the job drops them
      got = deepFreeze({ job: toJob(rows.job), tasks: rows.tasks.map(toTask) });
      this.jobRecords?.set(jobId, got);
    }
    if (got.job.account !== account || got.job.region !== region) return undefined;
    return got;
  }

  private jobRow(jobId: string): Row | undefined {
    return this.c.sql('SELECT * FROM jobs WHERE id=?').get(jobId) as Row | undefined;
  }

  private taskRows(jobId: string): Row[] {
    return this.c.sql('SELECT * FROM tasks WHERE job_id=? ORDER BY ord').all(jobId) as Row[];
  }

  private taskRow(jobId: string, taskName: string): Row | undefined {
    return this.c.sql('SELECT * FROM tasks WHERE job_id=? AND name=?').get(jobId, taskName) as Row | undefined;
  }

  // ------------------------------------------------------------------ instances

  async getInstance(jobId: string, taskName: string, index: number): Promise<InstanceRecord | undefined> {
    const r = this.c.sql('SELECT * FROM instances WHERE job_id=? AND task_name=? AND idx=?').get(jobId, taskName, index) as Row | undefined;
    return r ? toInstance(r) : undefined;
  }

  async countInstanceRows(jobId: string, taskName: string, states: State[] | undefined, from: number, to: number): Promise<number> {
    return this.countRows(jobId, taskName, states, from, to);
  }

  private countRows(jobId: string, taskName: string, states: State[] | undefined, from: number, to: number): number {
    if (states === undefined) {
      return (this.c.sql('SELECT COUNT(*) AS n FROM instances WHERE job_id=? AND task_name=? AND idx>=? AND idx<?')
        .get(jobId, taskName, from, to) as { n: number }).n;
    }
    if (states.length === 0) return 0;
    const sql = `SELECT COUNT(*) AS n FROM instances WHERE job_id=? AND task_name=? AND state IN (${marks(states.length)}) AND idx>=? AND idx<?`;
    return (this.c.dyn(sql).get(jobId, taskName, ...states, from, to) as { n: number }).n;
  }

  async listInstanceRows(
    jobId: string, taskName: string, states: State[], from: number, to: number, offset: number, limit: number,
  ): Promise<InstanceRecord[]> {
    return this.listRows(jobId, taskName, states, from, to, offset, limit);
  }

  private listRows(jobId: string, taskName: string, states: State[], from: number, to: number, offset: number, limit: number): InstanceRecord[] {
    if (states.length === 0 || limit <= 0) return [];
    const inStates = `state IN (${marks(states.length)})`;
    let start = from;
    if (offset > 0) {
      // skip `offset` matches on the (job, task, state, idx) index alone, then read only the page
      const first = this.c.dyn(`SELECT idx FROM instances WHERE job_id=? AND task_name=? AND ${inStates} AND idx>=? AND idx<?
        ORDER BY idx LIMIT 1 OFFSET ?`).pluck().get(jobId, taskName, ...states, from, to, offset) as number | undefined;
      if (first === undefined) return [];
      start = first;
    }
    const sql = `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE job_id=? AND task_name=? AND ${inStates} AND idx>=? AND idx<?
      ORDER BY idx LIMIT ?`;
    return (this.c.dyn(sql).raw(true).all(jobId, taskName, ...states, start, to, limit) as unknown[][]).map(instanceFromRaw);
  }

  async attemptsOf(jobId: string, taskName: string, index: number): Promise<AttemptRecord[]> {
    return (this.c.sql('SELECT * FROM attempts WHERE job_id=? AND task_name=? AND idx=? ORDER BY attempt').all(jobId, taskName, index) as Row[]).map(toAttempt);
  }

  async instancePage(jobId: string, taskName: string, states: State[] | undefined, offset: number, limit: number): Promise<InstancePage | undefined> {
    // better-sqlite3 is synchronous: every read of the page runs inside one transaction, then resolves
    return this.c.read(() => {
      const tr = this.taskRow(jobId, taskName);
      if (!tr) return undefined;
      const rowsIn = this.c.sql(ROWS_IN).raw(true);
      const reader: SyncPageReader = {
        rowsIn: (from, to) => (rowsIn.all(jobId, taskName, from, to) as unknown[][]).map(instanceFromRaw),
        count: (st, from, to) => this.countRows(jobId, taskName, st, from, to),
        list: (st, from, to, off, lim) => this.listRows(jobId, taskName, st, from, to, off, lim),
      };
      return pageInstancesSync(toTask(tr), reader, states, offset, limit);
    });
  }

  async loadActive(): Promise<ActiveSnapshot> {
    return this.c.read(() => ({
      jobs: (this.c.sql(ACTIVE_JOBS).all() as Row[]).map(toJob),
      tasks: (this.c.sql(ACTIVE_TASKS).all() as Row[]).map(toTask),
      instances: (this.c.sql(ACTIVE_INSTANCES).all() as Row[]).map(toInstance),
    }));
  }

  // the scheduler always passes its lease's epoch; without one the write is unfenced (tests, tools)
  async applyBatch(b: WriteBatch, epoch?: number): Promise<void> {
    this.c.write(() => {
      this.lease.fence(epoch, 'applyBatch');
      const upsertInstance = this.c.sql(`INSERT INTO instances (job_id, task_name, idx, state, attempt, retry_base, exit_code,
        state_reason, state_detail, node_id, create_time, launch_time, running_time, end_time, handle)
        VALUES (@jobId, @taskName, @index, @state, @attempt, @retryBase, @exitCode, @stateReason, @stateDetail,
        @nodeId, @createTime, @launchTime, @runningTime, @endTime, @handle)
        ON CONFLICT (job_id, task_name, idx) DO UPDATE SET state=excluded.state, attempt=excluded.attempt,
        retry_base=excluded.retry_base, exit_code=excluded.exit_code, state_reason=excluded.state_reason,
        state_detail=excluded.state_detail, node_id=excluded.node_id, launch_time=excluded.launch_time,
        running_time=excluded.running_time, end_time=excluded.end_time, handle=excluded.handle`);
      const upsertAttempt = this.c.sql(`INSERT INTO attempts (job_id, task_name, idx, attempt, launch_time, running_time, end_time,
        exit_code, signal, reason, node_id)
        VALUES (@jobId, @taskName, @index, @attempt, @launchTime, @runningTime, @endTime, @exitCode, @signal, @reason, @nodeId)
        ON CONFLICT (job_id, task_name, idx, attempt) DO UPDATE SET running_time=excluded.running_time,
        end_time=excluded.end_time, exit_code=excluded.exit_code, signal=excluded.signal, reason=excluded.reason,
        node_id=excluded.node_id`);
      // the scheduler's writes change a task's progress only (its spec is written once, with the job)
      const updateTask = this.c.sql(`UPDATE tasks SET state=@state, end_time=@endTime, counts=@counts, cursor=@cursor,
        wait_state=@waitState, wait_reason=@waitReason, wait_detail=@waitDetail, wait_end_time=@waitEndTime
        WHERE job_id=@jobId AND name=@name`);
      const updateJob = this.c.sql(`UPDATE jobs SET state=@state, state_reason=@stateReason, next_action=@nextAction,
        end_time=@endTime WHERE id=@id`);
      for (const i of b.instances) upsertInstance.run(instanceParams(i));
      for (const a of b.attempts) upsertAttempt.run(a);
      for (const t of b.tasks) {
        this.jobRecords?.delete(t.jobId);
        updateTask.run(taskProgressParams(t));
      }
      for (const j of b.jobs) {
        this.jobRecords?.delete(j.id);
        updateJob.run(j);
      }
      if (b.samples?.length) {
        const insert = this.c.sql(INSERT_SAMPLE);
        for (const x of b.samples) insert.run(x);
      }
      if (b.completedCommands?.length) {
        this.c.sql('DELETE FROM commands WHERE id IN (SELECT value FROM json_each(?))').run(JSON.stringify(b.completedCommands));
      }
      if (b.refusedCommands?.length) this.commands.refuseIn(b.refusedCommands);
      if (b.events?.length) this.events.write(b.events);
    });
  }

  // ------------------------------------------------------------------ events (events.ts)

  async eventsAfter(after: number, limit: number): Promise<EventRow[]> {
    return this.events.after(after, limit);
  }
  async eventBounds(): Promise<{ first: number; last: number }> {
    return this.events.bounds();
  }
  async eventCursor(name: string): Promise<number> {
    return this.events.cursor(name);
  }
  async setEventCursor(name: string, seq: number): Promise<void> {
    this.events.setCursor(name, seq);
  }

  // ------------------------------------------------------------------ monitoring samples

  // written by the monitor, not the scheduler: unfenced on purpose (a sample is right whoever leads)
  async insertSamples(samples: SampleRecord[]): Promise<void> {
    if (samples.length === 0) return;
    const insert = this.c.sql(INSERT_SAMPLE);
    this.c.write(() => {
      for (const x of samples) insert.run(x);
    });
  }

  async samplesOf(jobId: string, taskName: string, index: number, from: number, to: number): Promise<SampleRecord[]> {
    return (this.c.sql('SELECT * FROM monitor_samples WHERE job_id=? AND task_name=? AND idx=? AND ts>=? AND ts<=? ORDER BY ts, attempt')
      .all(jobId, taskName, index, from, to) as Row[]).map(toSample);
  }

  // ------------------------------------------------------------------ templates (templates.ts)

  async insertTemplate(t: TemplateRecord, quota: number): Promise<boolean> {
    return this.templates.insert(t, quota);
  }
  async getTemplates(account: string, region: string, ids: string[]): Promise<TemplateRecord[]> {
    return this.templates.get(account, region, ids);
  }
  async listTemplates(account: string, region: string, q: TemplateFilter): Promise<{ total: number; templates: TemplateRecord[] }> {
    return this.templates.list(account, region, q);
  }
  async updateTemplate(t: TemplateRecord): Promise<void> {
    this.templates.update(t);
  }
  async deleteTemplates(account: string, region: string, ids: string[]): Promise<string[]> {
    return this.templates.delete(account, region, ids);
  }

  // ------------------------------------------------------------------ compute environments (envs.ts)

  async insertEnvWithNodes(
    env: EnvRecord, nodes: NodeRecord[], activities: ActivityRecord[], quota: number, events: EventDraft[] = [],
  ): Promise<{ envId: string; created: boolean } | 'quota'> {
    return this.envs.insertWithNodes(env, nodes, activities, quota, events);
  }
  async getEnvByClientToken(account: string, region: string, clientToken: string): Promise<EnvRecord | undefined> {
    return this.envs.byToken(account, region, clientToken);
  }
  async getEnv(account: string, region: string, envId: string): Promise<EnvRecord | undefined> {
    return this.envs.get(account, region, envId);
  }
  async getEnvById(envId: string): Promise<EnvRecord | undefined> {
    return this.envs.getById(envId);
  }
  async listEnvs(account: string, region: string, q: EnvFilter): Promise<{ total: number; envs: EnvRecord[] }> {
    return this.envs.list(account, region, q);
  }
  async allEnvs(): Promise<EnvRecord[]> {
    return this.envs.all();
  }
  async nodesOf(envId: string): Promise<NodeRecord[]> {
    return this.envs.nodesOf(envId);
  }
  async busyNodes(): Promise<Set<string>> {
    return new Set(this.c.read(() => this.c.sql(BUSY_NODES).pluck().all() as string[]));
  }
  async nodeByInstanceId(instanceId: string): Promise<NodeRecord | undefined> {
    return this.envs.nodeByInstanceId(instanceId);
  }
  async activitiesOf(envId: string, nodeIds: string[] | undefined, offset: number, limit: number): Promise<{ total: number; activities: ActivityRecord[] }> {
    return this.envs.activitiesOf(envId, nodeIds, offset, limit);
  }
  // the scheduler's node changes carry its epoch; the services' env writes carry none (unfenced, by design)
  async applyEnvBatch(b: EnvBatch, epoch?: number): Promise<void> {
    this.envs.apply(b, epoch);
  }

  // ------------------------------------------------------------------ leadership (lease.ts)

  async acquireLease(holder: string, ttlMs: number, now: number): Promise<Lease | undefined> {
    return this.lease.acquire(holder, ttlMs, now);
  }
  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease | undefined> {
    return this.lease.renew(lease, ttlMs, now);
  }
  async releaseLease(lease: Lease): Promise<void> {
    this.lease.release(lease);
  }
  async currentLease(): Promise<Lease | undefined> {
    return this.lease.current();
  }

  // ------------------------------------------------------------------ commands (commands.ts)

  async insertCommand(cmd: NewCommand): Promise<CommandRecord> {
    return this.commands.insert(cmd);
  }
  async pendingCommands(afterId: number, limit: number): Promise<CommandRecord[]> {
    return this.commands.pending(afterId, limit);
  }
  async completeCommands(ids: number[], epoch: number): Promise<void> {
    this.commands.complete(ids, epoch);
  }
  onCommand(listener: () => void): () => void {
    return this.commands.on(listener);
  }
  async commandResults(ids: number[]): Promise<Map<number, CommandResult>> {
    return this.commands.results(ids);
  }

  // ------------------------------------------------------------------ request limits (memory-limits.ts)

  async takeRateToken(key: string, perSecond: number, nowMs: number): Promise<boolean> {
    return this.limits.takeToken(key, perSecond, nowMs);
  }
  async firstUse(key: string, nowMs: number, windowMs: number): Promise<boolean> {
    return this.limits.firstUse(key, nowMs, windowMs);
  }

  // ------------------------------------------------------------------ the registry of replicas (replicas.ts)

  async registerReplica(r: ReplicaRecord): Promise<void> {
    this.replicas.register(r);
  }
  async listReplicas(): Promise<ReplicaRecord[]> {
    return this.replicas.list();
  }
  async forgetReplicas(beforeMs: number): Promise<number> {
    return this.replicas.forget(beforeMs);
  }

  async close(): Promise<void> {
    this.commands.close();
    this.c.close();
  }
}
