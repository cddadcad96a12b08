// The scheduler's write path on PostgreSQL (applyBatch) and the monitor's samples: each table's rows of
// a batch in one sub-statement (INSERT … SELECT FROM unnest(arrays) ON CONFLICT … DO UPDATE, or UPDATE …
// FROM unnest), and the four tables of a batch in ONE statement (one round trip), as named statements
// prepared once per connection. A batch of rows and events alone (the scheduler's usual one) is that
// statement with its fence and its events' numbering (events.ts) in it, run on its own (no BEGIN,
// fence, COMMIT round trips): see fencedRows. A batch that names one row twice keeps the last (as
// writing them one after the other would). The columns go as array literals (arrays.ts).
import { arrayLiteral } from './arrays.ts';
import { eventStatements, eventValues } from './events.ts';
import type { AttemptRecord, InstanceRecord, JobRecord, SampleRecord, TaskRecord, WriteBatch } from '../types.ts';
import { FencedError } from '../errors.ts';
import type { Queryable } from './db.ts';
import { deleteIn, refuseIn } from './commands.ts';

/** The column `f` of every row, as an array literal. */
function col<T>(rows: T[], f: (x: T) => string | number | null): string {
  return arrayLiteral(rows.map(f));
}

function lastBy<T>(xs: T[], key: (x: T) => string): T[] {
  if (xs.length < 2) return xs;
  return [...new Map(xs.map((x) => [key(x), x])).values()];
}

const rowKey = (x: { jobId: string; taskName: string; index: number }): string => `${x.jobId}\u0000${x.taskName}\u0000${x.index}`;

const UPSERT_INSTANCES = `INSERT INTO instances (job_id, task_name, idx, state, attempt, retry_base, exit_code, state_reason,
    state_detail, node_id, create_time, launch_time, running_time, end_time, handle)
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::int[], $7::int[], $8::text[], $9::text[],
    $10::text[], $11::int8[], $12::int8[], $13::int8[], $14::int8[], $15::text[])
  ON CONFLICT (job_id, task_name, idx) DO UPDATE SET state = excluded.state, attempt = excluded.attempt,
    retry_base = excluded.retry_base, exit_code = excluded.exit_code, state_reason = excluded.state_reason,
    state_detail = excluded.state_detail, node_id = excluded.node_id, launch_time = excluded.launch_time,
    running_time = excluded.running_time, end_time = excluded.end_time, handle = excluded.handle`;

const UPSERT_ATTEMPTS = `INSERT INTO attempts (job_id, task_name, idx, attempt, launch_time, running_time, end_time, exit_code, signal, reason, node_id)
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int8[], $6::int8[], $7::int8[], $8::int[], $9::text[], $10::text[], $11::text[])
  ON CONFLICT (job_id, task_name, idx, attempt) DO UPDATE SET running_time = excluded.running_time, end_time = excluded.end_time,
    exit_code = excluded.exit_code, signal = excluded.signal, reason = excluded.reason, node_id = excluded.node_id`;

// the scheduler's writes change a task's progress only (its spec is written once, with the job); a task
// or job that no longer exists is not created again
const UPDATE_TASKS = `UPDATE tasks t SET state = u.state, end_time = u.end_time, counts = u.counts, cursor = u.cursor,
    wait_state = u.wait_state, wait_reason = u.wait_reason, wait_detail = u.wait_detail, wait_end_time = u.wait_end_time
  FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[], $10::int8[])
    AS u(job_id, name, state, end_time, counts, cursor, wait_state, wait_reason, wait_detail, wait_end_time)
  WHERE t.job_id = u.job_id AND t.name = u.name`;

const UPDATE_JOBS = `UPDATE jobs j SET state = u.state, state_reason = u.state_reason, next_action = u.next_action, end_time = u.end_time
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) AS u(id, state, state_reason, next_action, end_time)
  WHERE j.id = u.id`;

const UPSERT_SAMPLES = `INSERT INTO monitor_samples (job_id, task_name, idx, attempt, ts, cpu, mem, disk)
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int8[], $6::float8[], $7::float8[], $8::float8[])
  ON CONFLICT (job_id, task_name, idx, ts, attempt) DO UPDATE SET cpu = excluded.cpu, mem = excluded.mem, disk = excluded.disk`;

const instanceColumns = (xs: InstanceRecord[]): string[] => [col(xs, (i) => i.jobId), col(xs, (i) => i.taskName), col(xs, (i) => i.index),
  col(xs, (i) => i.state), col(xs, (i) => i.attempt), col(xs, (i) => i.retryBase), col(xs, (i) => i.exitCode), col(xs, (i) => i.stateReason),
  col(xs, (i) => i.stateDetail), col(xs, (i) => i.nodeId), col(xs, (i) => i.createTime), col(xs, (i) => i.launchTime), col(xs, (i) => i.runningTime),
  col(xs, (i) => i.endTime), col(xs, (i) => (i.handle === null ? null : JSON.stringify(i.handle)))];

const attemptColumns = (xs: AttemptRecord[]): string[] => [col(xs, (a) => a.jobId), col(xs, (a) => a.taskName), col(xs, (a) => a.index),
  col(xs, (a) => a.attempt), col(xs, (a) => a.launchTime), col(xs, (a) => a.runningTime), col(xs, (a) => a.endTime), col(xs, (a) => a.exitCode),
  col(xs, (a) => a.signal), col(xs, (a) => a.reason), col(xs, (a) => a.nodeId)];

const taskColumns = (xs: TaskRecord[]): string[] => [col(xs, (t) => t.jobId), col(xs, (t) => t.name), col(xs, (t) => t.state), col(xs, (t) => t.endTime),
  col(xs, (t) => JSON.stringify(t.counts)), col(xs, (t) => t.cursor), col(xs, (t) => t.wait.state), col(xs, (t) => t.wait.reason),
  col(xs, (t) => t.wait.detail), col(xs, (t) => t.wait.endTime)];

const jobColumns = (xs: JobRecord[]): string[] => [col(xs, (j) => j.id), col(xs, (j) => j.state), col(xs, (j) => j.stateReason),
  col(xs, (j) => j.nextAction), col(xs, (j) => j.endTime)];

export async function upsertSamples(c: Queryable, rows: SampleRecord[]): Promise<void> {
  const xs = lastBy(rows, (s) => `${rowKey(s)}\u0000${s.ts}\u0000${s.attempt}`);
  if (xs.length === 0) return;
  await c.query({
    name: 'ob_upsert_samples', text: UPSERT_SAMPLES,
    values: [col(xs, (s) => s.jobId), col(xs, (s) => s.taskName), col(xs, (s) => s.index), col(xs, (s) => s.attempt), col(xs, (s) => s.ts),
      col(xs, (s) => s.cpu), col(xs, (s) => s.mem), col(xs, (s) => s.disk)],
  });
}

// instances, attempts, tasks and jobs of a batch in one statement (data-modifying CTEs, each table
// once): one round trip instead of four
const WRITE_BATCH = `WITH ${subStatements('')}
  SELECT 1`;

// the same, fenced within the statement: the lease row is read FOR SHARE (so no takeover can commit
// before this statement does; one that is in progress is waited for and its new epoch read), and
// every sub-statement writes only if that row has the batch's epoch ($42). The statement always
// returns the row, which says whether the writes happened. With events ($43–$50), they are numbered
// from event_seq within it too (its row lock is held until the statement commits, as in a transaction).
function fencedBatch(withEvents: boolean): string {
  const fenced = 'EXISTS (SELECT 1 FROM ok)';
  return `WITH f AS (SELECT holder, epoch FROM leadership WHERE id = 1 FOR SHARE),
  ok AS (SELECT 1 FROM f WHERE f.holder <> '' AND f.epoch = $42::bigint),
  ${subStatements(fenced)}${withEvents ? `,\n  ${eventStatements(42, fenced)}` : ''}
  SELECT holder, epoch FROM f`;
}
const FENCED_BATCH = fencedBatch(false);
const FENCED_BATCH_EVENTS = fencedBatch(true);

/** The four writes as CTEs i, a, t, j (parameters $1–$41), each only when `guard` holds. */
function subStatements(guard: string): string {
  const where = guard === '' ? '' : ` WHERE ${guard}`;
  const and = guard === '' ? '' : ` AND ${guard}`;
  const select = (sql: string) => sql.replace(/(SELECT \* FROM unnest\([^)]*\))/, `$1${where}`);
  return `i AS (${select(UPSERT_INSTANCES)}),
  a AS (${select(renumber(UPSERT_ATTEMPTS, 15))}),
  t AS (${renumber(UPDATE_TASKS, 26)}${and}),
  j AS (${renumber(UPDATE_JOBS, 36)}${and})`;
}

/** `sql` with its parameters $1… as $(1+by)…. */
function renumber(sql: string, by: number): string {
  return sql.replace(/\$(\d+)/g, (_m, n: string) => `$${Number(n) + by}`);
}

/** The parameters $1–$41 of the batch's rows (none: the batch has no rows). */
function rowValues(b: WriteBatch): { values: string[]; none: boolean } {
  const is = lastBy(b.instances, rowKey);
  const as = lastBy(b.attempts, (a) => `${rowKey(a)}\u0000${a.attempt}`);
  const ts = lastBy(b.tasks, (t) => `${t.jobId}\u0000${t.name}`);
  const js = lastBy(b.jobs, (j) => j.id);
  return {
    values: [...instanceColumns(is), ...attemptColumns(as), ...taskColumns(ts), ...jobColumns(js)],
    none: is.length + as.length + ts.length + js.length === 0,
  };
}

async function writeRows(c: Queryable, b: WriteBatch): Promise<void> {
  const { values, none } = rowValues(b);
  if (!none) await c.query({ name: 'ob_write_batch', text: WRITE_BATCH, values });
}

/** The batch has rows of jobs, tasks, instances and attempts and events only (no samples, no
 *  commands), and a fence when it has events: one statement writes it (fencedRows). */
export function rowsOnly(b: WriteBatch, epoch: number | undefined): boolean {
  return !b.samples?.length && !b.completedCommands?.length && !b.refusedCommands?.length && (epoch !== undefined || !b.events?.length);
}

/**
 * A batch of rows and events (rowsOnly) in one statement on its own (its own transaction), fenced by
 * `epoch` inside it as fence() would be inside a transaction: FencedError, and nothing written, unless
 * the lease row has that epoch when the statement holds it. No epoch (no events then): written unfenced.
 */
export async function fencedRows(q: Queryable, b: WriteBatch, epoch: number | undefined, eventsKept: number): Promise<void> {
  if (epoch === undefined) return writeRows(q, b);
  const events = b.events?.length ? b.events : undefined;
  const r = await q.query<{ holder: string; epoch: number }>(events
    ? { name: 'ob_fenced_batch_events', text: FENCED_BATCH_EVENTS, values: [...rowValues(b).values, epoch, ...eventValues(events, eventsKept)] }
    : { name: 'ob_fenced_batch', text: FENCED_BATCH, values: [...rowValues(b).values, epoch] });
  const row = r.rows[0];
  const current = row === undefined || row.holder === '' ? undefined : row;
  if (current?.epoch !== epoch) throw new FencedError('applyBatch', epoch, current?.epoch, current?.holder);
}

/** Everything of a batch but the fence, on the client of its (already fenced) transaction. */
export async function writeBatch(c: Queryable, b: WriteBatch): Promise<void> {
  await writeRows(c, b);
  if (b.samples?.length) await upsertSamples(c, b.samples);
  if (b.completedCommands?.length) await deleteIn(c, b.completedCommands);
  if (b.refusedCommands?.length) await refuseIn(c, b.refusedCommands);
}
