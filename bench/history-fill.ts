// The history of the `history` benchmark: N jobs as SubmitJob would have stored them (their specs come
// from a real JobService.submitJob), of several accounts and regions, mostly finished (SUCCEED/FAILED),
// a fixed number still active (newest and scattered through history), recurring and one-off names,
// several zones, 0-3 tags, 1-3 tasks with their instance rows. Generated from the job's number alone
// (same N, same data), and written straight into a store's tables: SQLite rows through better-sqlite3,
// PostgreSQL rows through INSERT … SELECT FROM unnest — the tables and columns insertJob and applyBatch
// write, so whatever the schema derives from them (counts, indexes, triggers) is derived here too.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DEFAULT_LIMITS } from '../src/config/config.ts';
import { zeroCounts, type State } from '../src/domain/states.ts';
import { LocalLayout, LocalLogs } from '../src/executors/local/layout.ts';
import { JobService } from '../src/services/jobs.ts';
import type { InstanceRecord, JobRecord, NewJobRecord, Store, TaskRecord } from '../src/store/types.ts';
import { PgStore } from '../src/store/postgres/pg-store.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { tempDir } from './lib.ts';

/** The owner every query of the benchmark asks for (the largest account, ~55% of all jobs). */
export const OWNER = { account: 'acc-main', region: 'ap-guangzhou' };
/** Jobs that are not finished, whatever N (the active set does not grow with history). */
export const ACTIVE_JOBS = 100;
/** A recurring name (about 11% of the owner's jobs), a tag and its common value (about 30%). */
export const COMMON_NAME = 'etl-daily-0';
export const TEAM = { key: 'team', value: 'ml' };

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ID_SPACE = 36 ** 8;

/** Job i's id: i scrambled bijectively over the 8-character id space (2654435761 is prime to 36). */
export function jobIdOf(i: number): string {
  // in BigInt: i * 2654435761 exceeds a double's exact integers from i ≈ 3.4 million
  let x = Number((BigInt(i) * 2654435761n + 97_531n) % BigInt(ID_SPACE));
  let s = '';
  for (let k = 0; k < 8; k++) {
    s = ALPHABET[x % 36] + s;
    x = Math.floor(x / 36);
  }
  return `job-${s}`;
}

/** A small deterministic generator (mulberry32) seeded by the job's number. */
function rng(seed: number): () => number {
  let a = (seed * 0x9e3779b1) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: number, xs: readonly (readonly [T, number])[]): T {
  let acc = 0;
  for (const [x, w] of xs) {
    acc += w;
    if (r < acc) return x;
  }
  return xs[xs.length - 1]![0];
}

/** A job and its tasks as JobService.submitJob hands them to the store (captured, never stored). */
async function submitted(): Promise<{ job: NewJobRecord; tasks: TaskRecord[] }> {
  let got: { job: NewJobRecord; tasks: TaskRecord[] } | undefined;
  const store = {
    async insertJob(job: NewJobRecord, tasks: TaskRecord[]) {
      got = { job, tasks };
      return { jobId: job.id, created: true };
    },
  } as unknown as Store;
  const dir = tempDir('openbatch-history-spec-');
  const jobs = new JobService({
    store, commands: { send: async () => { throw new Error('no scheduler'); } }, clock: { now: () => 1_700_000_000_000 } as never,
    limits: DEFAULT_LIMITS, logs: new LocalLogs(new LocalLayout(dir)), localRoot: path.join(dir, 'local'),
  });
  const taskOf = (name: string) => ({
    TaskName: name, TaskInstanceNum: 2, Application: { DeliveryForm: 'LOCAL', Command: 'python3 train.py --epochs 10 --data /data/in' },
    ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } }, RedirectInfo: { StdoutRedirectPath: 'cos://bucket-1250000000.cos.ap-guangzhou.myqcloud.com/logs/' },
    MaxRetryCount: 1, Timeout: 3600,
  });
  await jobs.submitJob({ account: OWNER.account, region: OWNER.region } as never, {
    Placement: { Zone: 'ap-guangzhou-2' },
    Job: {
      JobName: 'x', JobDescription: 'nightly pipeline', Priority: 1, Tasks: [taskOf('A'), taskOf('B'), taskOf('C')],
      Dependences: [{ StartTask: 'A', EndTask: 'B' }, { StartTask: 'B', EndTask: 'C' }], Tags: [{ Key: 'team', Value: 'ml' }],
    },
  } as never);
  return got!;
}

export interface HistoryJob {
  job: JobRecord;
  tasks: TaskRecord[];
  instances: InstanceRecord[];
}

const FINAL: readonly (readonly [State, number])[] = [['SUCCEED', 0.72], ['FAILED', 0.28]];
const ACTIVE: readonly (readonly [State, number])[] = [['RUNNING', 0.6], ['PENDING', 0.15], ['RUNNABLE', 0.1], ['SUBMITTED', 0.1], ['STARTING', 0.05]];
const OWNERS: readonly (readonly [[string, string], number])[] = [
  [['acc-main', 'ap-guangzhou'], 0.55], [['acc-main', 'ap-shanghai'], 0.1], [['acc-b', 'ap-guangzhou'], 0.2], [['acc-c', 'ap-guangzhou'], 0.1], [['acc-d', 'ap-beijing'], 0.05],
];
const TEAMS: readonly (readonly [string, number])[] = [['ml', 0.35], ['data', 0.25], ['web', 0.15], ['infra', 0.1], ['sec', 0.1], ['qa', 0.05]];

/** Makes the N jobs of a history; job i has seq i + 1 and was created 10 s after job i - 1. */
export class History {
  private constructor(readonly n: number, private readonly base: { job: NewJobRecord; tasks: TaskRecord[] }) {}

  static async of(n: number): Promise<History> {
    return new History(n, await submitted());
  }

  /** Whether job i is one of the ACTIVE_JOBS: the newest half of them, the rest spread evenly. */
  isActive(i: number): boolean {
    const half = ACTIVE_JOBS / 2;
    if (i >= this.n - half) return true;
    const step = Math.floor((this.n - half) / half);
    return step > 0 && i % step === step - 1 && i < step * half;
  }

  /** Job i of the owner's jobs that has a one-off name (the name filter that matches one old job). */
  uniqueNameOf(i: number): string {
    return `adhoc-${i}`;
  }

  job(i: number): HistoryJob {
    const r = rng(i + 1);
    const [account, region] = pick(r(), OWNERS);
    const active = this.isActive(i);
    const state = active ? pick(r(), ACTIVE) : pick(r(), FINAL);
    const recurring = r() < 0.5;
    const name = recurring ? `etl-daily-${Math.floor(20 * r() ** 2)}` : this.uniqueNameOf(i);
    const zones = region === 'ap-guangzhou' ? ['ap-guangzhou-2', 'ap-guangzhou-3', 'ap-guangzhou-4'] : region === 'ap-shanghai' ? ['ap-shanghai-2', 'ap-shanghai-3'] : ['ap-beijing-3'];
    const zone = zones[Math.min(zones.length - 1, Math.floor(zones.length * r() ** 1.5))]!;
    const tags: { Key: string; Value: string }[] = [];
    if (r() < 0.85) tags.push({ Key: TEAM.key, Value: pick(r(), TEAMS) });
    if (r() < 0.6) tags.push({ Key: 'env', Value: pick(r(), [['prod', 0.5], ['dev', 0.3], ['staging', 0.2]] as const) });
    if (r() < 0.2) tags.push({ Key: 'run', Value: `r-${i}` });
    const createTime = 1_600_000_000_000 + i * 10_000;
    const endTime = active ? null : createTime + 1000 + Math.floor(r() * 600_000);
    const id = jobIdOf(i);
    const b = this.base.job;
    const job: JobRecord = {
      ...b, id, seq: i + 1, account, region, name, zone, state, createTime, endTime, tags,
      stateReason: state === 'FAILED' ? 'task B failed' : '', nextAction: '',
      spec: { ...b.spec, placement: { ...b.spec.placement, Zone: zone }, job: { ...b.spec.job, JobName: name, Tags: tags } },
    };
    const nTasks = 1 + Math.floor(r() * 3);
    const tasks: TaskRecord[] = [];
    const instances: InstanceRecord[] = [];
    for (let t = 0; t < nTasks; t++) {
      const bt = this.base.tasks[t]!;
      const num = 1 + Math.floor(r() * 2);
      const ts: State = active ? (t === 0 ? state : 'SUBMITTED') : state === 'FAILED' && t === nTasks - 1 ? 'FAILED' : 'SUCCEED';
      const counts = zeroCounts();
      counts[ts] = num;
      const ran = !active || t === 0;
      tasks.push({
        ...bt, jobId: id, spec: { ...bt.spec, TaskInstanceNum: num }, instanceNum: num, state: ts, createTime,
        endTime: active ? null : endTime, counts, cursor: ran ? num : 0,
        wait: { ...bt.wait, state: ts, endTime: active ? null : endTime },
      });
      if (!ran) continue;
      for (let x = 0; x < num; x++) {
        const done = ts === 'SUCCEED' || ts === 'FAILED';
        instances.push({
          jobId: id, taskName: bt.name, index: x, state: ts, attempt: 1, retryBase: 0, exitCode: done ? (ts === 'SUCCEED' ? 0 : 1) : null,
          stateReason: '', stateDetail: '', nodeId: null, createTime, launchTime: createTime + 100, runningTime: createTime + 200,
          endTime: done ? endTime : null, handle: ts === 'RUNNING' ? { executor: 'local', pid: 100 + x } : null,
        });
      }
    }
    return { job, tasks, instances };
  }
}

const BATCH = 2000;

/** A SQLite store at `file` (migrated by SqliteStore) holding jobs 0..n-1 of `h`. */
export function fillSqlite(file: string, h: History): void {
  new SqliteStore(file).close().catch(() => undefined);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const job = db.prepare(`INSERT INTO jobs (id, seq, account, region, name, description, priority, zone, state, state_reason,
    next_action, create_time, end_time, client_token, tags, spec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const tag = db.prepare('INSERT INTO job_tags (job_id, key, value) VALUES (?, ?, ?)');
  const task = db.prepare(`INSERT INTO tasks (job_id, name, ord, spec, instance_num, state, create_time, end_time, counts, cursor,
    wait_state, wait_reason, wait_detail, wait_end_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const inst = db.prepare(`INSERT INTO instances (job_id, task_name, idx, state, attempt, retry_base, exit_code, state_reason,
    state_detail, node_id, create_time, launch_time, running_time, end_time, handle) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const { job: j, tasks, instances } = h.job(i);
      job.run(j.id, j.seq, j.account, j.region, j.name, j.description, j.priority, j.zone, j.state, j.stateReason, j.nextAction,
        j.createTime, j.endTime, j.clientToken, JSON.stringify(j.tags), JSON.stringify(j.spec));
      for (const t of j.tags) tag.run(j.id, t.Key, t.Value);
      for (const t of tasks) {
        task.run(t.jobId, t.name, t.ord, JSON.stringify(t.spec), t.instanceNum, t.state, t.createTime, t.endTime, JSON.stringify(t.counts),
          t.cursor, t.wait.state, t.wait.reason, t.wait.detail, t.wait.endTime);
      }
      for (const x of instances) {
        inst.run(x.jobId, x.taskName, x.index, x.state, x.attempt, x.retryBase, x.exitCode, x.stateReason, x.stateDetail, x.nodeId,
          x.createTime, x.launchTime, x.runningTime, x.endTime, x.handle === null ? null : JSON.stringify(x.handle));
      }
    }
  });
  for (let i = 0; i < h.n; i += BATCH) fill(i, Math.min(h.n, i + BATCH));
  db.prepare("UPDATE sequences SET value = ? WHERE name = 'jobs'").run(h.n);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  // written without syncs: flush the file to disk now, as the PostgreSQL fill CHECKPOINTs, so that the
  // kernel's write-back of gigabytes does not run under the first measurements (a store at rest)
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

type Col = (string | number | null)[];

async function insertColumns(c: pg.Client, table: string, columns: string, types: string[], cols: Col[]): Promise<void> {
  if (cols[0]!.length === 0) return;
  const args = types.map((t, k) => `$${k + 1}::${t}[]`).join(', ');
  await c.query(`INSERT INTO ${table} (${columns}) SELECT * FROM unnest(${args})`, cols);
}

/** A PostgreSQL store at `url` (migrated by PgStore) holding jobs 0..n-1 of `h`, then ANALYZEd (as
 *  autovacuum would have, long before a database holds that much history). */
export async function fillPostgres(url: string, h: History): Promise<void> {
  await (await PgStore.open(url)).close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('SET synchronous_commit = off');
    for (let i = 0; i < h.n; i += BATCH) {
      const J: Col[] = Array.from({ length: 15 }, () => []);
      const G: Col[] = [[], [], []];
      const T: Col[] = Array.from({ length: 14 }, () => []);
      const I: Col[] = Array.from({ length: 15 }, () => []);
      for (let k = i; k < Math.min(h.n, i + BATCH); k++) {
        const { job: j, tasks, instances } = h.job(k);
        [j.id, j.seq, j.account, j.region, j.name, j.description, j.priority, j.zone, j.state, j.stateReason, j.nextAction, j.createTime,
          j.endTime, JSON.stringify(j.tags), JSON.stringify(j.spec)].forEach((v, x) => J[x]!.push(v));
        for (const t of j.tags) [j.id, t.Key, t.Value].forEach((v, x) => G[x]!.push(v));
        for (const t of tasks) {
          [t.jobId, t.name, t.ord, JSON.stringify(t.spec), t.instanceNum, t.state, t.createTime, t.endTime, JSON.stringify(t.counts), t.cursor,
            t.wait.state, t.wait.reason, t.wait.detail, t.wait.endTime].forEach((v, x) => T[x]!.push(v));
        }
        for (const y of instances) {
          [y.jobId, y.taskName, y.index, y.state, y.attempt, y.retryBase, y.exitCode, y.stateReason, y.stateDetail, y.nodeId, y.createTime,
            y.launchTime, y.runningTime, y.endTime, y.handle === null ? null : JSON.stringify(y.handle)].forEach((v, x) => I[x]!.push(v));
        }
      }
      await c.query('BEGIN');
      await insertColumns(c, 'jobs', 'id, seq, account, region, name, description, priority, zone, state, state_reason, next_action, create_time, end_time, tags, spec',
        ['text', 'int8', 'text', 'text', 'text', 'text', 'int4', 'text', 'text', 'text', 'text', 'int8', 'int8', 'text', 'text'], J);
      await insertColumns(c, 'job_tags', 'job_id, key, value', ['text', 'text', 'text'], G);
      await insertColumns(c, 'tasks', 'job_id, name, ord, spec, instance_num, state, create_time, end_time, counts, cursor, wait_state, wait_reason, wait_detail, wait_end_time',
        ['text', 'text', 'int4', 'text', 'int4', 'text', 'int8', 'int8', 'text', 'int4', 'text', 'text', 'text', 'int8'], T);
      await insertColumns(c, 'instances', 'job_id, task_name, idx, state, attempt, retry_base, exit_code, state_reason, state_detail, node_id, create_time, launch_time, running_time, end_time, handle',
        ['text', 'text', 'int4', 'text', 'int4', 'int4', 'int4', 'text', 'text', 'text', 'int8', 'int8', 'int8', 'int8', 'text'], I);
      await c.query('COMMIT');
    }
    await c.query("SELECT setval('job_seq', $1)", [h.n]);
    await c.query('VACUUM ANALYZE');
    // the fill's dirty pages written out now, not by the checkpointer while the reads are timed
    await c.query('CHECKPOINT');
  } finally {
    await c.end();
  }
}
