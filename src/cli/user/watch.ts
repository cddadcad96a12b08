// `openbatch watch JOB` (and submit --watch/--wait): the job's tasks in DAG order, each with its
// instance counts out of TaskInstanceNum and the reason its waiting instances wait — progress bars on
// a terminal (cli-progress), one line per change otherwise. Refreshed when the event stream says
// something of the job changed (coalesced), polling only where the endpoint has no stream. The exit
// code tells the outcome: 0 SUCCEED, 3 FAILED or FAILED_INTERRUPTED.
import cliProgress from 'cli-progress';
import type { Writable } from 'node:stream';
import { FINISHED_STATES } from '../../domain/states.ts';
import type { Api } from './connection.ts';
import { streamEvents } from './events.ts';

type Row = Record<string, any>;

export interface TaskProgress {
  name: string;
  total: number;
  state: string;
  succeed: number;
  failed: number;
  running: number;
  waiting: number;
  reason: string;
}

export interface JobProgress {
  jobId: string;
  state: string;
  reason: string;
  tasks: TaskProgress[];
}

const isFinal = (s: string) => (FINISHED_STATES as readonly string[]).includes(s);

/** Task names in DAG order: each after every task it depends on (ties in submission order). */
export function dagOrder(tasks: string[], deps: { StartTask: string; EndTask: string }[]): string[] {
  const level = new Map(tasks.map((t) => [t, 0]));
  for (let changed = true, guard = 0; changed && guard <= tasks.length; guard++) {
    changed = false;
    for (const d of deps) {
      const want = (level.get(d.StartTask) ?? 0) + 1;
      if ((level.get(d.EndTask) ?? 0) < want) {
        level.set(d.EndTask, want);
        changed = true;
      }
    }
  }
  return tasks.map((t, i) => ({ t, i })).sort((a, b) => level.get(a.t)! - level.get(b.t)! || a.i - b.i).map((x) => x.t);
}

/** What the job looks like now: one DescribeJob, and one or two DescribeTask per task not yet ended. */
async function snapshot(api: Api, jobId: string, order: string[], totals: Map<string, number>, done: Map<string, TaskProgress>): Promise<JobProgress> {
  const j = await api.call<Row>('DescribeJob', { JobId: jobId });
  const states = new Map<string, string>((j.TaskSet ?? []).map((t: Row) => [t.TaskName, t.TaskState]));
  const tasks = await Promise.all(order.map(async (name): Promise<TaskProgress> => {
    const kept = done.get(name);
    if (kept) return kept;
    const t = await api.call<Row>('DescribeTask', { JobId: jobId, TaskName: name, Limit: 1 });
    const m: Row = t.TaskInstanceMetrics ?? {};
    const waiting = (m.SubmittedCount ?? 0) + (m.PendingCount ?? 0) + (m.RunnableCount ?? 0);
    let reason = '';
    if (waiting > 0) {
      const w = await api.call<Row>('DescribeTask', { JobId: jobId, TaskName: name, Limit: 1, Filters: [{ Name: 'task-instance-state', Values: ['SUBMITTED', 'PENDING', 'RUNNABLE'] }] });
      const i = (w.TaskInstanceSet ?? [])[0];
      reason = i ? i.StateDetailedReason || i.StateReason || '' : '';
    }
    const p: TaskProgress = {
      name, total: totals.get(name) ?? t.TaskInstanceTotalCount ?? 0, state: t.TaskState ?? states.get(name) ?? '', reason, waiting,
      succeed: m.SucceedCount ?? 0, failed: (m.FailedCount ?? 0) + (m.FailedInterruptedCount ?? 0), running: (m.RunningCount ?? 0) + (m.StartingCount ?? 0),
    };
    if (isFinal(p.state)) done.set(name, p);
    return p;
  }));
  return { jobId, state: j.JobState, reason: j.StateReason ?? '', tasks };
}

export function taskLine(t: TaskProgress): string {
  const finished = t.succeed + t.failed;
  return `${t.name}: ${t.state} ${finished}/${t.total} (succeed ${t.succeed}, failed ${t.failed}, running ${t.running}, waiting ${t.waiting})` +
    (t.waiting > 0 && t.reason ? ` — waiting: ${t.reason}` : '');
}

interface View {
  show(p: JobProgress): void;
  end(p: JobProgress): void;
}

function plainView(out: Writable): View {
  const last = new Map<string, string>();
  let lastJob = '';
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const tasks = (p: JobProgress) => {
    for (const t of p.tasks) {
      const line = taskLine(t);
      if (last.get(t.name) !== line) out.write(`${now()}   ${line}\n`);
      last.set(t.name, line);
    }
  };
  return {
    show(p) {
      const job = `job ${p.jobId}: ${p.state}${p.reason ? ` (${p.reason})` : ''}`;
      if (job !== lastJob) out.write(`${now()} ${job}\n`);
      lastJob = job;
      tasks(p);
    },
    end(p) {
      // each task's final counts (also when the job had ended before the first look)
      tasks(p);
      out.write(`job ${p.jobId} ended ${p.state}${p.reason ? `: ${p.reason}` : ''}\n`);
    },
  };
}

function barView(out: Writable): View {
  const multi = new cliProgress.MultiBar({
    stream: out as NodeJS.WriteStream, clearOnComplete: false, hideCursor: true, forceRedraw: true, autopadding: true, barsize: 30,
    format: ' {task} {bar} {value}/{total} ✔{succeed} ✖{failed} ▶{running} …{waiting} {state}{reason}',
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, cliProgress.SingleBar>();
  let header: cliProgress.SingleBar | undefined;
  const pad = (s: string, n: number) => s.padEnd(n);
  const payload = (p: JobProgress) => ({ task: pad(`job ${p.jobId}`, 0), succeed: '', failed: '', running: '', waiting: '', state: p.state, reason: p.reason ? ` ${p.reason}` : '' });
  const update = (p: JobProgress) => {
    const w = Math.max(...p.tasks.map((t) => t.name.length), 4);
    const jobTotal = p.tasks.reduce((a, t) => a + t.total, 0);
    const jobDone = p.tasks.reduce((a, t) => a + t.succeed + t.failed, 0);
    if (!header) header = multi.create(jobTotal, jobDone, payload(p));
    header.setTotal(jobTotal);
    header.update(jobDone, payload(p));
    for (const t of p.tasks) {
      const data = { task: pad(t.name, w), succeed: t.succeed, failed: t.failed, running: t.running, waiting: t.waiting, state: t.state, reason: t.waiting > 0 && t.reason ? ` — ${t.reason}` : '' };
      let b = bars.get(t.name);
      if (!b) bars.set(t.name, (b = multi.create(t.total, t.succeed + t.failed, data)));
      b.setTotal(t.total);
      b.update(t.succeed + t.failed, data);
    }
  };
  return {
    show: update,
    end(p) {
      update(p);
      multi.stop();
      out.write(`job ${p.jobId} ended ${p.state}${p.reason ? `: ${p.reason}` : ''}\n`);
    },
  };
}

/** Follows the job until it ends, showing it; resolves with the exit code (0 SUCCEED, 3 otherwise). */
export async function watchJob(api: Api, jobId: string, o: { plain: boolean; out: Writable }): Promise<number> {
  const final = await follow(api, jobId, o.plain ? plainView(o.out) : barView(o.out));
  return final.state === 'SUCCEED' ? 0 : 3;
}

/** Waits for the job to end, showing nothing; resolves with its DescribeJob answer. */
export async function waitJob(api: Api, jobId: string): Promise<Row> {
  const abort = new AbortController();
  let wake = () => {};
  let streaming = false;
  void streamEvents(api, { jobId, signal: abort.signal, onConnected: () => (streaming = true), onEvent: (e) => { if (e.Kind === 'job') wake(); } })
    .then((end) => { if (end === 'unsupported') streaming = false; });
  try {
    for (;;) {
      const j = await api.call<Row>('DescribeJob', { JobId: jobId });
      if (isFinal(j.JobState)) return j;
      await new Promise<void>((r) => {
        const t = setTimeout(r, streaming ? 15_000 : 1_000);
        wake = () => { clearTimeout(t); r(); };
      });
    }
  } finally {
    abort.abort();
  }
}

async function follow(api: Api, jobId: string, view: View): Promise<JobProgress> {
  const info = await api.call<Row>('DescribeJobSubmitInfo', { JobId: jobId });
  const specs: Row[] = info.Tasks ?? [];
  const order = dagOrder(specs.map((t) => t.TaskName), info.Dependences ?? []);
  const totals = new Map(specs.map((t) => [t.TaskName as string, (t.TaskInstanceNum as number | undefined) ?? 1]));
  const done = new Map<string, TaskProgress>();
  const abort = new AbortController();
  let dirty = true;
  let streaming = false;
  let wake = () => {};
  const stream = streamEvents(api, {
    jobId, signal: abort.signal,
    onConnected: () => { streaming = true; },
    onEvent: () => { dirty = true; wake(); },
    onReset: () => { done.clear(); dirty = true; wake(); },
  }).then((end) => { if (end === 'unsupported') streaming = false; });
  try {
    for (;;) {
      dirty = false;
      const p = await snapshot(api, jobId, order, totals, done);
      if (isFinal(p.state)) {
        view.end(p);
        return p;
      }
      view.show(p);
      // coalesce: at most about four refreshes a second, however many events arrive
      await new Promise((r) => setTimeout(r, 250));
      if (!dirty) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, streaming ? 15_000 : 1_000);
          wake = () => { clearTimeout(t); r(); };
        });
      }
    }
  } finally {
    abort.abort();
    await stream;
  }
}
