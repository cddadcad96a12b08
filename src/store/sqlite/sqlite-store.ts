// SQLite implementation of the Store (better-sqlite3, WAL). One connection; statements prepared once.
// Durability: WAL + synchronous=NORMAL survives a kill -9 of the service (every commit is in the WAL
// before the call returns); only an OS crash may lose the last commits.
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import type { Counts, State } from '../../domain/states.ts';
import type {
  ActiveSnapshot, ActivityRecord, AttemptRecord, EnvBatch, EnvFilter, EnvRecord, InstanceRecord, JobFilter, JobRecord,
  NodeRecord, SampleRecord, Store, TaskRecord, TemplateFilter, TemplateRecord, WriteBatch,
} from '../types.ts';
import { guardStore, openGuarded } from './errors.ts';
import { MIGRATIONS } from './migrations.ts';
import { pageInstances, type InstancePage, type PageReader } from '../instance-page.ts';

type Row = Record<string, unknown>;

const ACTIVE_SQL = `('SUBMITTED','PENDING','RUNNABLE','STARTING','RUNNING')`;

/** How many jobs' records jobWithTasks keeps (oldest read first out). */
const JOBS_CACHED = 2000;

export class SqliteStore implements Store {
  private readonly db: Db;
  private readonly st: Record<string, Statement>;
  private seq: number;

  /** Opens the store; SQLite's refusals become StoreUnavailable or StoreOpenError (./errors.ts). */
  static open(file: string): SqliteStore {
    return openGuarded(file, () => new SqliteStore(file));
  }

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = OFF');
    this.migrate();
    this.seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM jobs').get() as { m: number }).m;
    const p = (sql: string) => this.db.prepare(sql);
    this.st = {
      insertJob: p(`INSERT INTO jobs (id, seq, account, region, name, description, priority, zone, state, state_reason,
        next_action, create_time, end_time, client_token, tags, spec)
        VALUES (@id, @seq, @account, @region, @name, @description, @priority, @zone, @state, @stateReason,
        @nextAction, @createTime, @endTime, @clientToken, @tags, @spec)`),
      updateJob: p(`UPDATE jobs SET state=@state, state_reason=@stateReason, next_action=@nextAction,
        end_time=@endTime WHERE id=@id`),
      insertTag: p('INSERT INTO job_tags (job_id, key, value) VALUES (?, ?, ?)'),
      byToken: p('SELECT id FROM jobs WHERE account=? AND region=? AND client_token=?'),
      getJob: p('SELECT * FROM jobs WHERE id=? AND account=? AND region=?'),
      getJobById: p('SELECT * FROM jobs WHERE id=?'),
      jobCounts: p('SELECT state, n FROM job_counts WHERE account=? AND region=?'),
      upsertTask: p(`INSERT INTO tasks (job_id, name, ord, spec, instance_num, state, create_time, end_time, counts,
        cursor, wait_state, wait_reason, wait_detail, wait_end_time)
        VALUES (@jobId, @name, @ord, @spec, @instanceNum, @state, @createTime, @endTime, @counts, @cursor,
        @waitState, @waitReason, @waitDetail, @waitEndTime)
        ON CONFLICT (job_id, name) DO UPDATE SET state=excluded.state, end_time=excluded.end_time,
        counts=excluded.counts, cursor=excluded.cursor, wait_state=excluded.wait_state,
        wait_reason=excluded.wait_reason, wait_detail=excluded.wait_detail, wait_end_time=excluded.wait_end_time`),
      // the scheduler's writes change a task's progress only (its spec is written once, with the job)
      updateTask: p(`UPDATE tasks SET state=@state, end_time=@endTime, counts=@counts, cursor=@cursor,
        wait_state=@waitState, wait_reason=@waitReason, wait_detail=@waitDetail, wait_end_time=@waitEndTime
        WHERE job_id=@jobId AND name=@name`),
      getTasks: p('SELECT * FROM tasks WHERE job_id=? ORDER BY ord'),
      getTask: p('SELECT * FROM tasks WHERE job_id=? AND name=?'),
      upsertInstance: p(`INSERT INTO instances (job_id, task_name, idx, state, attempt, retry_base, exit_code,
        state_reason, state_detail, node_id, create_time, launch_time, running_time, end_time, handle)
        VALUES (@jobId, @taskName, @index, @state, @attempt, @retryBase, @exitCode, @stateReason, @stateDetail,
        @nodeId, @createTime, @launchTime, @runningTime, @endTime, @handle)
        ON CONFLICT (job_id, task_name, idx) DO UPDATE SET state=excluded.state, attempt=excluded.attempt,
        retry_base=excluded.retry_base, exit_code=excluded.exit_code, state_reason=excluded.state_reason,
        state_detail=excluded.state_detail, node_id=excluded.node_id, launch_time=excluded.launch_time,
        running_time=excluded.running_time, end_time=excluded.end_time, handle=excluded.handle`),
      upsertAttempt: p(`INSERT INTO attempts (job_id, task_name, idx, attempt, launch_time, running_time, end_time,
        exit_code, signal, reason, node_id)
        VALUES (@jobId, @taskName, @index, @attempt, @launchTime, @runningTime, @endTime, @exitCode, @signal,
        @reason, @nodeId)
        ON CONFLICT (job_id, task_name, idx, attempt) DO UPDATE SET running_time=excluded.running_time,
        end_time=excluded.end_time, exit_code=excluded.exit_code, signal=excluded.signal, reason=excluded.reason,
        node_id=excluded.node_id`),
      getInstance: p('SELECT * FROM instances WHERE job_id=? AND task_name=? AND idx=?'),
      rowsIn: p(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE job_id=? AND task_name=? AND idx>=? AND idx<? ORDER BY idx`).raw(true),
      countAll: p('SELECT COUNT(*) AS n FROM instances WHERE job_id=? AND task_name=? AND idx>=? AND idx<?'),
      attemptsOf: p('SELECT * FROM attempts WHERE job_id=? AND task_name=? AND idx=? ORDER BY attempt'),
      activeJobs: p(`SELECT * FROM jobs WHERE state IN ${ACTIVE_SQL} OR next_action<>'' ORDER BY seq`),
      activeTasks: p(`SELECT t.* FROM tasks t JOIN jobs j ON j.id=t.job_id
        WHERE j.state IN ${ACTIVE_SQL} OR j.next_action<>'' ORDER BY j.seq, t.ord`),
      activeInstances: p(`SELECT i.* FROM instances i JOIN jobs j ON j.id=i.job_id
        JOIN tasks t ON t.job_id=i.job_id AND t.name=i.task_name
        WHERE (j.state IN ${ACTIVE_SQL} OR j.next_action<>'')
          AND (i.state IN ${ACTIVE_SQL} OR i.state='FAILED_INTERRUPTED' OR i.idx >= t.cursor)`),
      delJob: p('DELETE FROM jobs WHERE id=?'),
      delTags: p('DELETE FROM job_tags WHERE job_id=?'),
      delTasks: p('DELETE FROM tasks WHERE job_id=?'),
      delInstances: p('DELETE FROM instances WHERE job_id=?'),
      delAttempts: p('DELETE FROM attempts WHERE job_id=?'),
      delSamples: p('DELETE FROM monitor_samples WHERE job_id=?'),
      insertSample: p(`INSERT OR REPLACE INTO monitor_samples (job_id, task_name, idx, attempt, ts, cpu, mem, disk)
        VALUES (@jobId, @taskName, @index, @attempt, @ts, @cpu, @mem, @disk)`),
      samplesOf: p(`SELECT * FROM monitor_samples WHERE job_id=? AND task_name=? AND idx=? AND ts>=? AND ts<=? ORDER BY ts, attempt`),
    };
    // SQLite's full, read-only, I/O and busy errors leave every public method as StoreUnavailable
    guardStore(this, file);
  }

  private readonly stmtCache = new Map<string, Statement>();
  /** The (frozen) records of recently read jobs and their tasks, by job id (DescribeJob's read). Every
   *  write of a job or task row in this store drops its job's entry, in the same synchronous call as the
   *  write; this process is the database's only writer (one server per data dir). */
  private readonly jobRecords = new Map<string, { job: JobRecord; tasks: TaskRecord[] }>();
  private txRunner: ((fn: () => unknown) => unknown) | undefined;

  /** Run fn in a transaction. One transaction function is made once and reused: better-sqlite3 builds
   *  four wrappers per db.transaction() call, which showed in the DescribeJob profile (4.5%). */
  private inTx<T>(fn: () => T): T {
    this.txRunner ??= this.db.transaction((f: () => unknown) => f());
    return this.txRunner(fn) as T;
  }

  /**
   * One page of an owner's resources (newest first) with the Describe filters of §g: filters on
   * plain columns (`columns`: filter name → SQL expression over alias x) and the tag filters; the
   * total is the full match count.
   */
  private ownedPage(o: {
    table: string; tags: string; account: string; region: string; ids: string[] | undefined;
    filters: { name: string; values: string[] }[] | undefined; columns: Record<string, string>; offset: number; limit: number;
    /** The match count when the caller knows it without a COUNT over the rows. */
    total?: number;
  }): { total: number; rows: Row[] } {
    const where = ['x.account = ?', 'x.region = ?'];
    const args: unknown[] = [o.account, o.region];
    if (o.ids) {
      where.push(`x.id IN (${o.ids.map(() => '?').join(',')})`);
      args.push(...o.ids);
    }
    for (const f of o.filters ?? []) {
      const col = o.columns[f.name];
      if (col) {
        where.push(`${col} IN (${f.values.map(() => '?').join(',')})`);
        args.push(...f.values);
      } else {
        tagFilter(o.tags, f, where, args);
      }
    }
    const w = where.join(' AND ');
    const total = o.total ?? (this.cached(`SELECT COUNT(*) AS n FROM ${o.table} x WHERE ${w}`).get(...args) as { n: number }).n;
    const rows = (o.total === 0 ? [] : this.cached(`SELECT x.* FROM ${o.table} x WHERE ${w} ORDER BY x.seq DESC LIMIT ? OFFSET ?`)
      .all(...args, o.limit, o.offset)) as Row[];
    return { total, rows };
  }

  /** Statements of queries built at run time (their shape depends on how many states are asked). */
  private cached(sql: string): Statement {
    let st = this.stmtCache.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      if (this.stmtCache.size > 200) this.stmtCache.clear();
      this.stmtCache.set(sql, st);
    }
    return st;
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.inTx(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      });
    }
  }

  async insertJob(job: JobRecord, tasks: TaskRecord[]): Promise<{ jobId: string; created: boolean }> {
    return this.inTx(() => {
      if (job.clientToken !== null) {
        const existing = this.st.byToken!.get(job.account, job.region, job.clientToken) as { id: string } | undefined;
        if (existing) return { jobId: existing.id, created: false };
      }
      this.seq += 1;
      this.jobRecords.delete(job.id);
      this.st.insertJob!.run(jobParams(job, this.seq));
      for (const t of job.tags) this.st.insertTag!.run(job.id, t.Key, t.Value);
      for (const t of tasks) this.st.upsertTask!.run(taskParams(t));
      return { jobId: job.id, created: true };
    });
  }

  async getJob(account: string, region: string, jobId: string): Promise<JobRecord | undefined> {
    const r = this.st.getJob!.get(jobId, account, region) as Row | undefined;
    return r ? toJob(r) : undefined;
  }

  async getJobById(jobId: string): Promise<JobRecord | undefined> {
    const r = this.st.getJobById!.get(jobId) as Row | undefined;
    return r ? toJob(r) : undefined;
  }

  async getTasks(jobId: string): Promise<TaskRecord[]> {
    return (this.st.getTasks!.all(jobId) as Row[]).map(toTask);
  }

  async getTask(jobId: string, taskName: string): Promise<TaskRecord | undefined> {
    const r = this.st.getTask!.get(jobId, taskName) as Row | undefined;
    return r ? toTask(r) : undefined;
  }

  async listJobs(account: string, region: string, q: JobFilter): Promise<{ total: number; jobs: JobRecord[] }> {
    const { total, rows } = this.ownedPage({
      table: 'jobs', tags: 'job_tags g WHERE g.job_id=x.id', account, region, ids: q.jobIds, filters: q.filters,
      columns: { 'job-id': 'x.id', 'job-name': 'x.name', 'job-state': 'x.state', zone: 'x.zone' }, offset: q.offset, limit: q.limit,
      total: this.countedJobs(account, region, q),
    });
    return { total, jobs: rows.map(toJob) };
  }

  /** The number of matching jobs from job_counts, when the query is only by state (or not filtered). */
  private countedJobs(account: string, region: string, q: JobFilter): number | undefined {
    if (q.jobIds) return undefined;
    let states: Set<string> | undefined;
    for (const f of q.filters ?? []) {
      if (f.name !== 'job-state') return undefined;
      states = new Set(f.values.filter((v) => !states || states.has(v)));
    }
    let n = 0;
    for (const r of this.st.jobCounts!.all(account, region) as { state: string; n: number }[]) {
      if (!states || states.has(r.state)) n += r.n;
    }
    return n;
  }


  async taskStatesOf(jobIds: string[]): Promise<Map<string, State[]>> {
    const m = new Map<string, State[]>(jobIds.map((id) => [id, []]));
    if (jobIds.length === 0) return m;
    const rows = this.db
      .prepare(`SELECT job_id, state FROM tasks WHERE job_id IN (${jobIds.map(() => '?').join(',')}) ORDER BY ord`)
      .all(...jobIds) as { job_id: string; state: State }[];
    for (const r of rows) m.get(r.job_id)!.push(r.state);
    return m;
  }

  async deleteJob(jobId: string): Promise<void> {
    this.jobRecords.delete(jobId);
    this.inTx(() => {
      this.st.delAttempts!.run(jobId);
      this.st.delSamples!.run(jobId);
      this.st.delInstances!.run(jobId);
      this.st.delTasks!.run(jobId);
      this.st.delTags!.run(jobId);
      this.st.delJob!.run(jobId);
    });
  }

  async getInstance(jobId: string, taskName: string, index: number): Promise<InstanceRecord | undefined> {
    const r = this.st.getInstance!.get(jobId, taskName, index) as Row | undefined;
    return r ? toInstance(r) : undefined;
  }

  async countInstanceRows(
    jobId: string, taskName: string, states: State[] | undefined, from: number, to: number,
  ): Promise<number> {
    return this.countSync(jobId, taskName, states, from, to);
  }

  private countSync(jobId: string, taskName: string, states: State[] | undefined, from: number, to: number): number {
    if (states === undefined) return (this.st.countAll!.get(jobId, taskName, from, to) as { n: number }).n;
    if (states.length === 0) return 0;
    const sql = `SELECT COUNT(*) AS n FROM instances WHERE job_id=? AND task_name=? AND state IN
      (${states.map(() => '?').join(',')}) AND idx>=? AND idx<?`;
    return (this.cached(sql).get(jobId, taskName, ...states, from, to) as { n: number }).n;
  }

  async listInstanceRows(
    jobId: string, taskName: string, states: State[], from: number, to: number, offset: number, limit: number,
  ): Promise<InstanceRecord[]> {
    return this.listSync(jobId, taskName, states, from, to, offset, limit);
  }

  private listSync(
    jobId: string, taskName: string, states: State[], from: number, to: number, offset: number, limit: number,
  ): InstanceRecord[] {
    if (states.length === 0 || limit <= 0) return [];
    const inStates = `state IN (${states.map(() => '?').join(',')})`;
    let start = from;
    if (offset > 0) {
      // skip `offset` matches on the (job, task, state, idx) index alone, then read only the page
      const first = this.cached(`SELECT idx FROM instances WHERE job_id=? AND task_name=? AND ${inStates} AND idx>=? AND idx<?
        ORDER BY idx LIMIT 1 OFFSET ?`).pluck().get(jobId, taskName, ...states, from, to, offset) as number | undefined;
      if (first === undefined) return [];
      start = first;
    }
    const sql = `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE job_id=? AND task_name=? AND ${inStates} AND idx>=? AND idx<?
      ORDER BY idx LIMIT ?`;
    return (this.cached(sql).raw(true).all(jobId, taskName, ...states, start, to, limit) as unknown[][]).map(instanceFromRaw);
  }

  async attemptsOf(jobId: string, taskName: string, index: number): Promise<AttemptRecord[]> {
    return (this.st.attemptsOf!.all(jobId, taskName, index) as Row[]).map(toAttempt);
  }

  async jobWithTasks(account: string, region: string, jobId: string): Promise<{ job: JobRecord; tasks: TaskRecord[] } | undefined> {
    let got = this.jobRecords.get(jobId);
    if (got === undefined) {
      const rows = this.inTx(() => {
        const job = this.st.getJobById!.get(jobId) as Row | undefined;
        return job && { job, tasks: this.st.getTasks!.all(jobId) as Row[] };
      });
      if (rows === undefined) return undefined;
      // mapped once and frozen: every reader gets the same records until a write of the job drops them
      got = deepFreeze({ job: toJob(rows.job), tasks: rows.tasks.map(toTask) });
      if (this.jobRecords.size >= JOBS_CACHED) this.jobRecords.delete(this.jobRecords.keys().next().value!);
      this.jobRecords.set(jobId, got);
    }
    if (got.job.account !== account || got.job.region !== region) return undefined;
    return got;
  }

  async instancePage(
    jobId: string, taskName: string, states: State[] | undefined, offset: number, limit: number,
  ): Promise<InstancePage | undefined> {
    return this.inTx(() => {
      const tr = this.st.getTask!.get(jobId, taskName) as Row | undefined;
      if (!tr) return undefined;
      const reader: PageReader = {
        rowsIn: (from, to) => (this.st.rowsIn!.all(jobId, taskName, from, to) as unknown[][]).map(instanceFromRaw),
        count: (st, from, to) => this.countSync(jobId, taskName, st, from, to),
        list: (st, from, to, off, lim) => this.listSync(jobId, taskName, st, from, to, off, lim),
      };
      return pageInstances(toTask(tr), reader, states, offset, limit);
    });
  }

  async loadActive(): Promise<ActiveSnapshot> {
    return this.inTx(() => ({
      jobs: (this.st.activeJobs!.all() as Row[]).map(toJob),
      tasks: (this.st.activeTasks!.all() as Row[]).map(toTask),
      instances: (this.st.activeInstances!.all() as Row[]).map(toInstance),
    }));
  }

  async applyBatch(b: WriteBatch): Promise<void> {
    this.applySync(b);
  }

  applySync(b: WriteBatch): void {
    this.inTx(() => {
      for (const i of b.instances) this.st.upsertInstance!.run(instanceParams(i));
      for (const a of b.attempts) this.st.upsertAttempt!.run(a);
      for (const t of b.tasks) {
        this.jobRecords.delete(t.jobId);
        this.st.updateTask!.run(taskProgressParams(t));
      }
      for (const j of b.jobs) {
        this.jobRecords.delete(j.id);
        this.st.updateJob!.run(j);
      }
    });
  }

  // ------------------------------------------------------------------ compute environments

  async insertEnv(e: EnvRecord, quota: number): Promise<boolean> {
    return this.inTx(() => {
      const n = (this.db.prepare('SELECT COUNT(*) AS n FROM compute_envs WHERE account=? AND region=?').get(e.account, e.region) as { n: number }).n;
      if (n >= quota) return false;
      const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM compute_envs').get() as { s: number }).s;
      this.db.prepare(`INSERT INTO compute_envs (id, seq, account, region, name, description, zone, info, desired, next_action, create_time, tags)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(e.id, seq, e.account, e.region, e.name, e.description, e.zone,
        JSON.stringify(e.info), e.desired, e.nextAction, e.createTime, JSON.stringify(e.tags));
      const tag = this.db.prepare('INSERT INTO compute_env_tags (env_id, key, value) VALUES (?, ?, ?)');
      for (const g of e.tags) tag.run(e.id, g.Key, g.Value);
      return true;
    });
  }

  async getEnv(account: string, region: string, envId: string): Promise<EnvRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM compute_envs WHERE id=? AND account=? AND region=?').get(envId, account, region) as Row | undefined;
    return r ? toEnv(r) : undefined;
  }

  async getEnvById(envId: string): Promise<EnvRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM compute_envs WHERE id=?').get(envId) as Row | undefined;
    return r ? toEnv(r) : undefined;
  }

  async listEnvs(account: string, region: string, q: EnvFilter): Promise<{ total: number; envs: EnvRecord[] }> {
    const { total, rows } = this.ownedPage({
      table: 'compute_envs', tags: 'compute_env_tags g WHERE g.env_id=x.id', account, region, ids: q.ids, filters: q.filters,
      columns: { zone: 'x.zone', 'env-id': 'x.id', 'env-name': 'x.name', 'resource-type': "'CVM'" }, offset: q.offset, limit: q.limit,
    });
    return { total, envs: rows.map(toEnv) };
  }


  async allEnvs(): Promise<EnvRecord[]> {
    return (this.db.prepare('SELECT * FROM compute_envs ORDER BY seq').all() as Row[]).map(toEnv);
  }

  async nodesOf(envId: string): Promise<NodeRecord[]> {
    return (this.db.prepare('SELECT * FROM compute_nodes WHERE env_id=? ORDER BY seq').all(envId) as Row[]).map(toNode);
  }

  async nodeByInstanceId(instanceId: string): Promise<NodeRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM compute_nodes WHERE instance_id=?').get(instanceId) as Row | undefined;
    return r ? toNode(r) : undefined;
  }

  async activitiesOf(envId: string, nodeIds: string[] | undefined, offset: number, limit: number): Promise<{ total: number; activities: ActivityRecord[] }> {
    const where = nodeIds ? `env_id=? AND node_id IN (${nodeIds.map(() => '?').join(',')})` : 'env_id=?';
    const args = [envId, ...(nodeIds ?? [])];
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM env_activities WHERE ${where}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM env_activities WHERE ${where} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...args, limit, offset) as Row[];
    return { total, activities: rows.map(toActivity) };
  }

  async applyEnvBatch(b: EnvBatch): Promise<void> {
    this.inTx(() => {
      for (const e of b.envs ?? []) {
        this.db.prepare('UPDATE compute_envs SET name=?, description=?, info=?, desired=?, next_action=? WHERE id=?')
          .run(e.name, e.description, JSON.stringify(e.info), e.desired, e.nextAction, e.id);
      }
      let seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM compute_nodes').get() as { s: number }).s;
      for (const n of b.nodes ?? []) {
        this.db.prepare(`INSERT INTO compute_nodes (id, env_id, instance_id, instance_type, state, cpu, mem, origin, created_time, seq)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state=excluded.state`)
          .run(n.id, n.envId, n.instanceId, n.instanceType, n.state, n.cpu, n.mem, n.origin, n.createdTime, ++seq);
      }
      for (const id of b.deleteNodes ?? []) this.db.prepare('DELETE FROM compute_nodes WHERE id=?').run(id);
      let aseq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM env_activities').get() as { s: number }).s;
      for (const a of b.activities ?? []) {
        this.db.prepare(`INSERT INTO env_activities (id, seq, env_id, node_id, type, cause, state, reason, start_time, end_time, instance_id)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state=excluded.state, reason=excluded.reason,
          end_time=excluded.end_time`).run(a.id, ++aseq, a.envId, a.nodeId, a.type, a.cause, a.state, a.reason, a.startTime, a.endTime, a.instanceId);
      }
      for (const id of b.deleteEnvs ?? []) {
        this.db.prepare('DELETE FROM compute_env_tags WHERE env_id=?').run(id);
        this.db.prepare('DELETE FROM compute_envs WHERE id=?').run(id);
        this.db.prepare('DELETE FROM compute_nodes WHERE env_id=?').run(id);
      }
    });
  }

  // ------------------------------------------------------------------ monitoring samples

  async insertSamples(samples: SampleRecord[]): Promise<void> {
    if (samples.length === 0) return;
    this.inTx(() => {
      for (const x of samples) this.st.insertSample!.run(x);
    });
  }

  async samplesOf(jobId: string, taskName: string, index: number, from: number, to: number): Promise<SampleRecord[]> {
    return (this.st.samplesOf!.all(jobId, taskName, index, from, to) as Row[]).map((r) => ({
      jobId: r.job_id as string, taskName: r.task_name as string, index: r.idx as number, attempt: r.attempt as number,
      ts: r.ts as number, cpu: r.cpu as number, mem: r.mem as number, disk: r.disk as number,
    }));
  }

  // ------------------------------------------------------------------ task templates

  async insertTemplate(t: TemplateRecord, quota: number): Promise<boolean> {
    return this.inTx(() => {
      const n = (this.db.prepare('SELECT COUNT(*) AS n FROM task_templates WHERE account=? AND region=?').get(t.account, t.region) as { n: number }).n;
      if (n >= quota) return false;
      const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM task_templates').get() as { s: number }).s;
      this.db.prepare(`INSERT INTO task_templates (id, seq, account, region, name, description, info, create_time, tags)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(t.id, seq, t.account, t.region, t.name, t.description, JSON.stringify(t.info), t.createTime, JSON.stringify(t.tags));
      const tag = this.db.prepare('INSERT INTO task_template_tags (template_id, key, value) VALUES (?, ?, ?)');
      for (const g of t.tags) tag.run(t.id, g.Key, g.Value);
      return true;
    });
  }

  async getTemplates(account: string, region: string, ids: string[]): Promise<TemplateRecord[]> {
    if (ids.length === 0) return [];
    const rows = this.db.prepare(`SELECT * FROM task_templates WHERE account=? AND region=? AND id IN (${ids.map(() => '?').join(',')}) ORDER BY seq`)
      .all(account, region, ...ids) as Row[];
    return rows.map(toTemplate);
  }

  async listTemplates(account: string, region: string, q: TemplateFilter): Promise<{ total: number; templates: TemplateRecord[] }> {
    const { total, rows } = this.ownedPage({
      table: 'task_templates', tags: 'task_template_tags g WHERE g.template_id=x.id', account, region, ids: q.ids,
      filters: q.filters, columns: { 'task-template-name': 'x.name' }, offset: q.offset, limit: q.limit,
    });
    return { total, templates: rows.map(toTemplate) };
  }


  async updateTemplate(t: TemplateRecord): Promise<void> {
    this.db.prepare('UPDATE task_templates SET name=?, description=?, info=? WHERE id=? AND account=? AND region=?')
      .run(t.name, t.description, JSON.stringify(t.info), t.id, t.account, t.region);
  }

  async deleteTemplates(account: string, region: string, ids: string[]): Promise<string[]> {
    return this.inTx(() => {
      const have = new Set((this.db.prepare(`SELECT id FROM task_templates WHERE account=? AND region=? AND id IN (${ids.map(() => '?').join(',')})`)
        .all(account, region, ...ids) as { id: string }[]).map((r) => r.id));
      const missing = ids.filter((id) => !have.has(id));
      if (missing.length > 0) return missing;
      for (const id of ids) {
        this.db.prepare('DELETE FROM task_template_tags WHERE template_id=?').run(id);
        this.db.prepare('DELETE FROM task_templates WHERE id=?').run(id);
      }
      return [];
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** The tag filters of §g (tag-key, tag-value, tag:<key>) as an EXISTS over a tag table. */
function tagFilter(from: string, f: { name: string; values: string[] }, where: string[], args: unknown[]): void {
  const ph = f.values.map(() => '?').join(',');
  if (f.name === 'tag-key') {
    where.push(`EXISTS (SELECT 1 FROM ${from} AND g.key IN (${ph}))`);
    args.push(...f.values);
  } else if (f.name === 'tag-value') {
    where.push(`EXISTS (SELECT 1 FROM ${from} AND g.value IN (${ph}))`);
    args.push(...f.values);
  } else {
    // tag:<key>
    where.push(`EXISTS (SELECT 1 FROM ${from} AND g.key = ? AND g.value IN (${ph}))`);
    args.push(f.name.slice(4), ...f.values);
  }
}

function toEnv(r: Row): EnvRecord {
  return {
    id: r.id as string, account: r.account as string, region: r.region as string, name: r.name as string,
    description: r.description as string, zone: r.zone as string, info: JSON.parse(r.info as string),
    desired: r.desired as number, nextAction: r.next_action as string, createTime: r.create_time as number,
    tags: JSON.parse(r.tags as string),
  };
}

function toNode(r: Row): NodeRecord {
  return {
    id: r.id as string, envId: r.env_id as string, instanceId: r.instance_id as string, instanceType: r.instance_type as string,
    state: r.state as string, cpu: r.cpu as number, mem: r.mem as number, origin: r.origin as NodeRecord['origin'],
    createdTime: r.created_time as number,
  };
}

function toActivity(r: Row): ActivityRecord {
  return {
    id: r.id as string, envId: r.env_id as string, nodeId: r.node_id as string, type: r.type as ActivityRecord['type'],
    cause: r.cause as string, state: r.state as ActivityRecord['state'], reason: r.reason as string,
    startTime: r.start_time as number, endTime: (r.end_time as number | null) ?? null, instanceId: (r.instance_id as string | null) ?? null,
  };
}

function toTemplate(r: Row): TemplateRecord {
  return {
    id: r.id as string,
    account: r.account as string,
    region: r.region as string,
    name: r.name as string,
    description: r.description as string,
    info: JSON.parse(r.info as string),
    createTime: r.create_time as number,
    tags: JSON.parse(r.tags as string),
  };
}

function jobParams(j: JobRecord, seq: number): Row {
  return {
    ...j,
    seq,
    tags: JSON.stringify(j.tags),
    spec: JSON.stringify(j.spec),
  };
}

function taskParams(t: TaskRecord): Row {
  return { ...taskProgressParams(t), ord: t.ord, spec: JSON.stringify(t.spec), instanceNum: t.instanceNum, createTime: t.createTime };
}

/** The columns the scheduler changes (updateTask); taskParams adds those written once, with the job. */
function taskProgressParams(t: TaskRecord): Row {
  return {
    jobId: t.jobId,
    name: t.name,
    state: t.state,
    endTime: t.endTime,
    counts: JSON.stringify(t.counts),
    cursor: t.cursor,
    waitState: t.wait.state,
    waitReason: t.wait.reason,
    waitDetail: t.wait.detail,
    waitEndTime: t.wait.endTime,
  };
}

function instanceParams(i: InstanceRecord): Row {
  return { ...i, handle: i.handle === null ? null : JSON.stringify(i.handle) };
}

function toJob(r: Row): JobRecord {
  return {
    id: r.id as string,
    account: r.account as string,
    region: r.region as string,
    name: r.name as string,
    description: r.description as string,
    priority: r.priority as number,
    zone: r.zone as string,
    state: r.state as State,
    stateReason: r.state_reason as string,
    nextAction: r.next_action as string,
    createTime: r.create_time as number,
    endTime: (r.end_time as number | null) ?? null,
    clientToken: (r.client_token as string | null) ?? null,
    tags: JSON.parse(r.tags as string),
    spec: JSON.parse(r.spec as string),
  };
}

function toTask(r: Row): TaskRecord {
  return {
    jobId: r.job_id as string,
    name: r.name as string,
    ord: r.ord as number,
    spec: JSON.parse(r.spec as string),
    instanceNum: r.instance_num as number,
    state: r.state as State,
    createTime: r.create_time as number,
    endTime: (r.end_time as number | null) ?? null,
    counts: JSON.parse(r.counts as string) as Counts,
    cursor: r.cursor as number,
    wait: {
      state: r.wait_state as State,
      reason: r.wait_reason as string,
      detail: r.wait_detail as string,
      endTime: (r.wait_end_time as number | null) ?? null,
    },
  };
}

const INSTANCE_COLUMN_NAMES = [
  'job_id', 'task_name', 'idx', 'state', 'attempt', 'retry_base', 'exit_code', 'state_reason', 'state_detail',
  'node_id', 'create_time', 'launch_time', 'running_time', 'end_time', 'handle',
] as const;
const INSTANCE_COLUMNS = INSTANCE_COLUMN_NAMES.join(', ');

/** An instance row read as an array of INSTANCE_COLUMNS (cheaper than objects for pages of 1000). */
function instanceFromRaw(r: unknown[]): InstanceRecord {
  return {
    jobId: r[0] as string,
    taskName: r[1] as string,
    index: r[2] as number,
    state: r[3] as State,
    attempt: r[4] as number,
    retryBase: r[5] as number,
    exitCode: (r[6] as number | null) ?? null,
    stateReason: r[7] as string,
    stateDetail: r[8] as string,
    nodeId: (r[9] as string | null) ?? null,
    createTime: r[10] as number,
    launchTime: (r[11] as number | null) ?? null,
    runningTime: (r[12] as number | null) ?? null,
    endTime: (r[13] as number | null) ?? null,
    handle: r[14] === null || r[14] === undefined ? null : JSON.parse(r[14] as string),
  };
}

function toInstance(r: Row): InstanceRecord {
  return instanceFromRaw(INSTANCE_COLUMN_NAMES.map((c) => r[c]));
}

function toAttempt(r: Row): AttemptRecord {
  return {
    jobId: r.job_id as string,
    taskName: r.task_name as string,
    index: r.idx as number,
    attempt: r.attempt as number,
    launchTime: r.launch_time as number,
    runningTime: (r.running_time as number | null) ?? null,
    endTime: (r.end_time as number | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    signal: (r.signal as string | null) ?? null,
    reason: r.reason as string,
    nodeId: (r.node_id as string | null) ?? null,
  };
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
