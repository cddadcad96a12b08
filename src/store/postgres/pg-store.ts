// PostgreSQL implementation of the Store (node-postgres, one pool per store), for several server
// replicas sharing one database: jobs, tasks and instances here; the scheduler's batch writes in
// batch.ts; envs, templates, the lease, the command queue, the request limits and the registry of
// replicas in their own modules over the same pool. No record is cached: other processes write the same rows.
import type { EventDraft } from '../../domain/events.ts';
import type { State } from '../../domain/states.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import type { CommandRecord, CommandResult, Lease, NewCommand, ReplicaRecord } from '../coordination.ts';
import { pageInstances, type PageReader } from '../instance-page.ts';
import { toAttempt, toInstance, toJob, toSample, toTask } from '../sqlite/rows.ts';
import type {
  ActiveSnapshot, ActivityRecord, AttemptRecord, EnvBatch, EnvFilter, EnvRecord, InstancePage, InstanceRecord, JobFilter,
  JobRecord, NewJobRecord, NodeRecord, SampleRecord, Store, TaskRecord, TemplateFilter, TemplateRecord, WriteBatch, EventRow,
} from '../types.ts';
import { fencedRows, rowsOnly, upsertSamples, writeBatch } from './batch.ts';
import { PgCommands } from './commands.ts';
import { Db, passwordOf, type Queryable, type Row } from './db.ts';
import { PgEnvs } from './envs.ts';
import { guardStore, mapOpenError, safeUrl } from './errors.ts';
import { fence, PgLeadership } from './lease.ts';
import { PgLimits } from './limits.ts';
import { migrate } from './migrations.ts';
import { jobPage } from './job-page.ts';
import { ownedPage } from './owned-page.ts';
import { PgReplicas } from './replicas.ts';
import { PgEvents } from './events.ts';
import { insertTags, PgTemplates } from './templates.ts';

// loadActive reads the partial index jobs_active (migration 1): never the finished history
const ACTIVE = `(j.state IN ('SUBMITTED','PENDING','RUNNABLE','STARTING','RUNNING') OR j.next_action <> '')`;
export const ACTIVE_JOBS = `SELECT j.* FROM jobs j WHERE ${ACTIVE} ORDER BY j.seq`;
export const ACTIVE_TASKS = `SELECT t.* FROM jobs j JOIN tasks t ON t.job_id = j.id WHERE ${ACTIVE} ORDER BY j.seq, t.ord`;
// of an active job's instances, the rows in a live state below the cursor (instances_by_state) and the
// rows at or beyond it (a primary-key range), not every row it ever had: read per active task (LATERAL,
// OFFSET 0 keeps the planner from flattening it into a join it might start from instances)
export const ACTIVE_INSTANCES = `SELECT i.* FROM jobs j JOIN tasks t ON t.job_id = j.id CROSS JOIN LATERAL (
    SELECT * FROM instances x WHERE x.job_id = t.job_id AND x.task_name = t.name
      AND x.state IN ('SUBMITTED','PENDING','RUNNABLE','STARTING','RUNNING','FAILED_INTERRUPTED') AND x.idx < t.cursor
    UNION ALL
    SELECT * FROM instances x WHERE x.job_id = t.job_id AND x.task_name = t.name AND x.idx >= t.cursor
    OFFSET 0) i
  WHERE ${ACTIVE}`;
// the nodes an instance of an active job holds (TaskInstanceNumAvailable on a replica that does not lead)
export const BUSY_NODES = `SELECT DISTINCT x.node_id FROM jobs j JOIN tasks t ON t.job_id = j.id CROSS JOIN LATERAL (
    SELECT node_id FROM instances x WHERE x.job_id = t.job_id AND x.task_name = t.name AND x.state IN ('STARTING','RUNNING') OFFSET 0) x
  WHERE ${ACTIVE} AND x.node_id IS NOT NULL`;

// one statement, so one snapshot: the job row and its tasks aggregated in order
const JOB_WITH_TASKS = `SELECT j.*, (SELECT COALESCE(json_agg(t ORDER BY t.ord), '[]') FROM tasks t WHERE t.job_id = j.id) AS task_rows
  FROM jobs j WHERE j.id = $1 AND j.account = $2 AND j.region = $3`;

const INSERT_JOB = `INSERT INTO jobs (id, seq, account, region, name, description, priority, zone, state, state_reason, next_action,
    create_time, end_time, client_token, tags, spec)
  VALUES ($1, nextval('job_seq'), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
  ON CONFLICT (account, region, client_token) WHERE client_token IS NOT NULL DO NOTHING
  RETURNING seq`;

const INSERT_TASKS = `INSERT INTO tasks (job_id, name, ord, spec, instance_num, state, create_time, end_time, counts, cursor,
    wait_state, wait_reason, wait_detail, wait_end_time)
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::int8[], $8::int8[], $9::text[],
    $10::int[], $11::text[], $12::text[], $13::text[], $14::int8[])
  ON CONFLICT (job_id, name) DO UPDATE SET state = excluded.state, end_time = excluded.end_time, counts = excluded.counts,
    cursor = excluded.cursor, wait_state = excluded.wait_state, wait_reason = excluded.wait_reason,
    wait_detail = excluded.wait_detail, wait_end_time = excluded.wait_end_time`;

export interface PgStoreOptions {
  logger?: Logger;
  /** How many events are kept at least (default EVENTS_KEPT; tests make it small). */
  eventsKept?: number;
  /** Connections of the pool at most (default 10). */
  poolSize?: number;
}

export class PgStore implements Store {
  private readonly db: Db;
  private readonly lease: PgLeadership;
  private readonly commands: PgCommands;
  private readonly envs: PgEnvs;
  private readonly templates: PgTemplates;
  private readonly limits: PgLimits;
  private readonly replicas: PgReplicas;
  private readonly events: PgEvents;

  /**
   * Opens the store on a libpq URL (postgres://user:password@host:port/database?sslmode=…; missing parts
   * from the PG* environment variables) and brings its schema up to date. A server that cannot be
   * reached: StoreUnavailable('unreachable'); bad credentials, a missing database, a schema newer than
   * this code: StoreOpenError. No message carries the password.
   */
  static async open(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
    const secrets = [passwordOf(url), process.env.PGPASSWORD].filter((s): s is string => s !== undefined && s !== '');
    const s = new PgStore(url, opts, secrets);
    try {
      const c = await s.db.pool.connect();
      let broken: Error | undefined;
      const onError = (e: Error): void => {
        broken = e;
      };
      c.on('error', onError);
      try {
        await migrate(c);
      } catch (e) {
        broken ??= e as Error;
        throw e;
      } finally {
        c.removeListener('error', onError);
        // a client that failed is destroyed, not given back (its session's advisory lock goes with it)
        c.release(broken);
      }
    } catch (e) {
      await s.db.close().catch(() => undefined);
      throw mapOpenError(e, safeUrl(url), secrets);
    }
    return s;
  }

  private constructor(url: string, opts: PgStoreOptions, secrets: string[]) {
    const logger = opts.logger ?? silentLogger;
    this.db = new Db(url, opts.poolSize ?? 10, logger, secrets);
    this.lease = new PgLeadership(this.db);
    this.commands = new PgCommands(this.db, url, logger, secrets);
    this.templates = new PgTemplates(this.db);
    this.limits = new PgLimits(this.db);
    this.replicas = new PgReplicas(this.db);
    this.events = new PgEvents(this.db, opts.eventsKept);
    this.envs = new PgEnvs(this.db, this.events);
    // connection losses, a full disk, a read-only server, contention: StoreUnavailable from every method
    guardStore(this, secrets);
  }

  // ------------------------------------------------------------------ jobs and tasks

  async insertJob(job: NewJobRecord, tasks: TaskRecord[]): Promise<{ jobId: string; created: boolean }> {
    // a listener of this store hears this insert (its LISTEN is in place before the NOTIFY)
    await this.commands.listening();
    const existing = async (q: Queryable) => job.clientToken === null ? undefined
      : (await q.query<{ id: string }>('SELECT id FROM jobs WHERE account = $1 AND region = $2 AND client_token = $3',
        [job.account, job.region, job.clientToken])).rows[0]?.id;
    return this.db.write(async (c) => {
      const seen = await existing(c);
      if (seen !== undefined) return { jobId: seen, created: false };
      const inserted = await c.query({
        name: 'ob_insert_job', text: INSERT_JOB,
        values: [job.id, job.account, job.region, job.name, job.description, job.priority, job.zone, job.state, job.stateReason,
          job.nextAction, job.createTime, job.endTime, job.clientToken, JSON.stringify(job.tags), JSON.stringify(job.spec)],
      });
      if (inserted.rows.length === 0) {
        // a concurrent insert with the same token committed first (ON CONFLICT waited for it)
        const winner = await existing(c);
        if (winner === undefined) throw new Error(`insertJob: the client token of ${job.id} conflicts, yet no job holds it`);
        return { jobId: winner, created: false };
      }
      await insertTags(c, 'job_tags', 'job_id', job.id, job.tags);
      await this.insertTasks(c, tasks);
      await this.commands.insertIn(c, { kind: 'submitted', jobId: job.id, createdAt: job.createTime });
      return { jobId: job.id, created: true };
    });
  }

  private async insertTasks(c: Queryable, tasks: TaskRecord[]): Promise<void> {
    const ts = [...new Map(tasks.map((t) => [`${t.jobId}\u0000${t.name}`, t])).values()];
    if (ts.length === 0) return;
    await c.query({
      name: 'ob_insert_tasks', text: INSERT_TASKS,
      values: [ts.map((t) => t.jobId), ts.map((t) => t.name), ts.map((t) => t.ord), ts.map((t) => JSON.stringify(t.spec)), ts.map((t) => t.instanceNum),
        ts.map((t) => t.state), ts.map((t) => t.createTime), ts.map((t) => t.endTime), ts.map((t) => JSON.stringify(t.counts)), ts.map((t) => t.cursor),
        ts.map((t) => t.wait.state), ts.map((t) => t.wait.reason), ts.map((t) => t.wait.detail), ts.map((t) => t.wait.endTime)],
    });
  }

  async getJob(account: string, region: string, jobId: string): Promise<JobRecord | undefined> {
    const r = (await this.db.query({ name: 'ob_get_job', text: 'SELECT * FROM jobs WHERE id = $1 AND account = $2 AND region = $3', values: [jobId, account, region] })).rows[0];
    return r ? toJob(r) : undefined;
  }

  async getJobById(jobId: string): Promise<JobRecord | undefined> {
    const r = (await this.db.query({ name: 'ob_get_job_by_id', text: 'SELECT * FROM jobs WHERE id = $1', values: [jobId] })).rows[0];
    return r ? toJob(r) : undefined;
  }

  async getTasks(jobId: string): Promise<TaskRecord[]> {
    return (await this.db.query({ name: 'ob_get_tasks', text: 'SELECT * FROM tasks WHERE job_id = $1 ORDER BY ord', values: [jobId] })).rows.map(toTask);
  }

  async getTask(jobId: string, taskName: string): Promise<TaskRecord | undefined> {
    const r = (await this.taskRow(this.db, jobId, taskName));
    return r ? toTask(r) : undefined;
  }

  private async taskRow(q: Queryable, jobId: string, taskName: string): Promise<Row | undefined> {
    return (await q.query({ name: 'ob_get_task', text: 'SELECT * FROM tasks WHERE job_id = $1 AND name = $2', values: [jobId, taskName] })).rows[0];
  }

  async listJobs(account: string, region: string, q: JobFilter): Promise<{ total: number; jobs: JobRecord[] }> {
    // one snapshot: the kept counts and the page agree (job-page.ts: no read grows with history)
    return this.db.read((c) => jobPage(c, account, region, q));
  }

  async taskStatesOf(jobIds: string[]): Promise<Map<string, State[]>> {
    const m = new Map<string, State[]>(jobIds.map((id) => [id, []]));
    if (jobIds.length === 0) return m;
    const rows = (await this.db.query<{ job_id: string; state: State }>({
      name: 'ob_task_states', text: 'SELECT job_id, state FROM tasks WHERE job_id = ANY($1::text[]) ORDER BY ord', values: [jobIds],
    })).rows;
    for (const r of rows) m.get(r.job_id)?.push(r.state);
    return m;
  }

  async deleteJob(jobId: string, epoch?: number): Promise<void> {
    await this.db.write(async (c) => {
      await fence(c, epoch, 'deleteJob');
      await c.query({
        name: 'ob_delete_job',
        text: `WITH a AS (DELETE FROM attempts WHERE job_id = $1), s AS (DELETE FROM monitor_samples WHERE job_id = $1),
          i AS (DELETE FROM instances WHERE job_id = $1), t AS (DELETE FROM tasks WHERE job_id = $1),
          g AS (DELETE FROM job_tags WHERE job_id = $1)
          DELETE FROM jobs WHERE id = $1`,
        values: [jobId],
      });
    });
  }

  async jobWithTasks(account: string, region: string, jobId: string): Promise<{ job: JobRecord; tasks: TaskRecord[] } | undefined> {
    const r = (await this.db.query({ name: 'ob_job_with_tasks', text: JOB_WITH_TASKS, values: [jobId, account, region] })).rows[0];
    if (r === undefined) return undefined;
    const { task_rows: taskRows, ...job } = r;
    return { job: toJob(job), tasks: (taskRows as Row[]).map(toTask) };
  }

  // ------------------------------------------------------------------ instances

  async getInstance(jobId: string, taskName: string, index: number): Promise<InstanceRecord | undefined> {
    const r = (await this.db.query({ name: 'ob_get_instance', text: 'SELECT * FROM instances WHERE job_id = $1 AND task_name = $2 AND idx = $3', values: [jobId, taskName, index] })).rows[0];
    return r ? toInstance(r) : undefined;
  }

  async countInstanceRows(jobId: string, taskName: string, states: State[] | undefined, from: number, to: number): Promise<number> {
    return countRows(this.db, jobId, taskName, states, from, to);
  }

  async listInstanceRows(
    jobId: string, taskName: string, states: State[], from: number, to: number, offset: number, limit: number,
  ): Promise<InstanceRecord[]> {
    return listRows(this.db, jobId, taskName, states, from, to, offset, limit);
  }

  async attemptsOf(jobId: string, taskName: string, index: number): Promise<AttemptRecord[]> {
    return (await this.db.query({
      name: 'ob_attempts_of', text: 'SELECT * FROM attempts WHERE job_id = $1 AND task_name = $2 AND idx = $3 ORDER BY attempt', values: [jobId, taskName, index],
    })).rows.map(toAttempt);
  }

  async instancePage(jobId: string, taskName: string, states: State[] | undefined, offset: number, limit: number): Promise<InstancePage | undefined> {
    return this.db.read(async (c) => {
      const tr = await this.taskRow(c, jobId, taskName);
      if (!tr) return undefined;
      const reader: PageReader = {
        rowsIn: async (from, to) => (await c.query({
          name: 'ob_rows_in', text: 'SELECT * FROM instances WHERE job_id = $1 AND task_name = $2 AND idx >= $3 AND idx < $4 ORDER BY idx',
          values: [jobId, taskName, from, to],
        })).rows.map(toInstance),
        count: (st, from, to) => countRows(c, jobId, taskName, st, from, to),
        list: (st, from, to, off, lim) => listRows(c, jobId, taskName, st, from, to, off, lim),
      };
      return pageInstances(toTask(tr), reader, states, offset, limit);
    });
  }

  async loadActive(): Promise<ActiveSnapshot> {
    return this.db.read(async (c) => ({
      jobs: (await c.query(ACTIVE_JOBS)).rows.map(toJob),
      tasks: (await c.query(ACTIVE_TASKS)).rows.map(toTask),
      instances: (await c.query(ACTIVE_INSTANCES)).rows.map(toInstance),
    }));
  }

  // the scheduler always passes its lease's epoch; without one the write is unfenced (tests, tools)
  async applyBatch(b: WriteBatch, epoch?: number): Promise<void> {
    // the scheduler's usual batch (rows and events): one statement with its fence in it (batch.ts)
    if (rowsOnly(b, epoch)) return fencedRows(this.db, b, epoch, this.events.kept);
    await this.db.write(async (c) => {
      await fence(c, epoch, 'applyBatch');
      await writeBatch(c, b);
      if (b.events?.length) await this.events.write(c, b.events);
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
    await this.events.setCursor(name, seq);
  }

  // ------------------------------------------------------------------ monitoring samples

  // written by the monitor, not the scheduler: unfenced on purpose (a sample is right whoever leads)
  async insertSamples(samples: SampleRecord[]): Promise<void> {
    if (samples.length === 0) return;
    await upsertSamples(this.db, samples);
  }

  async samplesOf(jobId: string, taskName: string, index: number, from: number, to: number): Promise<SampleRecord[]> {
    return (await this.db.query({
      name: 'ob_samples_of',
      text: 'SELECT * FROM monitor_samples WHERE job_id = $1 AND task_name = $2 AND idx = $3 AND ts >= $4 AND ts <= $5 ORDER BY ts, attempt',
      values: [jobId, taskName, index, from, to],
    })).rows.map(toSample);
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
    await this.templates.update(t);
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
    return new Set((await this.db.query<{ node_id: string }>({ name: 'ob_busy_nodes', text: BUSY_NODES })).rows.map((r) => r.node_id));
  }
  async nodeByInstanceId(instanceId: string): Promise<NodeRecord | undefined> {
    return this.envs.nodeByInstanceId(instanceId);
  }
  async activitiesOf(envId: string, nodeIds: string[] | undefined, offset: number, limit: number): Promise<{ total: number; activities: ActivityRecord[] }> {
    return this.envs.activitiesOf(envId, nodeIds, offset, limit);
  }
  // the scheduler's node changes carry its epoch; the services' env writes carry none (unfenced, by design)
  async applyEnvBatch(b: EnvBatch, epoch?: number): Promise<void> {
    await this.envs.apply(b, epoch);
  }

  // ------------------------------------------------------------------ leadership (lease.ts)

  async acquireLease(holder: string, ttlMs: number, now: number): Promise<Lease | undefined> {
    return this.lease.acquire(holder, ttlMs, now);
  }
  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease | undefined> {
    return this.lease.renew(lease, ttlMs, now);
  }
  async releaseLease(lease: Lease): Promise<void> {
    await this.lease.release(lease);
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
    await this.db.write((c) => this.commands.complete(c, ids, epoch));
  }
  onCommand(listener: () => void): () => void {
    return this.commands.on(listener);
  }
  /** Resolves once this store's LISTEN connection (started by the first onCommand) listens. */
  async whenListening(): Promise<void> {
    await this.commands.listening();
  }
  async commandResults(ids: number[]): Promise<Map<number, CommandResult>> {
    return this.commands.results(ids);
  }

  // ------------------------------------------------------------------ request limits (limits.ts)

  async takeRateToken(key: string, perSecond: number, nowMs: number): Promise<boolean> {
    return this.limits.takeToken(key, perSecond, nowMs);
  }
  async firstUse(key: string, nowMs: number, windowMs: number): Promise<boolean> {
    return this.limits.firstUse(key, nowMs, windowMs);
  }

  // ------------------------------------------------------------------ the registry of replicas (replicas.ts)

  async registerReplica(r: ReplicaRecord): Promise<void> {
    await this.replicas.register(r);
  }
  async listReplicas(): Promise<ReplicaRecord[]> {
    return this.replicas.list();
  }
  async forgetReplicas(beforeMs: number): Promise<number> {
    return this.replicas.forget(beforeMs);
  }

  /** Ends the LISTEN connection and the pool; idempotent. */
  async close(): Promise<void> {
    await this.commands.close();
    await this.db.close();
  }
}

async function countRows(q: Queryable, jobId: string, taskName: string, states: State[] | undefined, from: number, to: number): Promise<number> {
  if (states !== undefined && states.length === 0) return 0;
  const r = states === undefined
    ? await q.query<{ n: number }>({ name: 'ob_count_rows', text: 'SELECT COUNT(*) AS n FROM instances WHERE job_id = $1 AND task_name = $2 AND idx >= $3 AND idx < $4', values: [jobId, taskName, from, to] })
    : await q.query<{ n: number }>({
      name: 'ob_count_rows_in', text: 'SELECT COUNT(*) AS n FROM instances WHERE job_id = $1 AND task_name = $2 AND state = ANY($3::text[]) AND idx >= $4 AND idx < $5',
      values: [jobId, taskName, states, from, to],
    });
  return r.rows[0]!.n;
}

async function listRows(
  q: Queryable, jobId: string, taskName: string, states: State[], from: number, to: number, offset: number, limit: number,
): Promise<InstanceRecord[]> {
  if (states.length === 0 || limit <= 0) return [];
  const r = await q.query({
    name: 'ob_list_rows',
    text: `SELECT * FROM instances WHERE job_id = $1 AND task_name = $2 AND state = ANY($3::text[]) AND idx >= $4 AND idx < $5
      ORDER BY idx LIMIT $6 OFFSET $7`,
    values: [jobId, taskName, states, from, to, limit, offset],
  });
  return r.rows.map(toInstance);
}
