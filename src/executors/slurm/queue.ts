// What Slurm says about job arrays: one `squeue -r -t all` call for many arrays (by id, or by job
// name to find an element whose launch was never recorded), parsed into element records and the
// arrays' remaining meta-records; Slurm's job states sorted into waiting / active / ended; its pending
// reasons worded for StateDetailedReason; MaxArraySize from `scontrol show config`.
import { SlurmCommandError, type SlurmCli } from './cli.ts';

/** One line of squeue: an element (task set) or an array's meta-record (task undefined: the elements
 *  of the array that have no line of their own, e.g. an array cancelled while pending). */
export interface QueueRecord {
  job: string;
  task: number | undefined;
  state: string;
  reason: string;
  node: string;
  /** Start time (ms) of a running element, when Slurm says. */
  start: number | undefined;
  name: string;
  /** The script it runs (its file name carries the attempt: see SlurmExecutor). */
  script: string;
}

export interface QueueView {
  /** `<job>_<task>` → its record. */
  elements: Map<string, QueueRecord>;
  /** Array job id → its meta-record (elements without a line of their own). */
  meta: Map<string, QueueRecord>;
  /** Array job ids Slurm still knows (any line). */
  known: Set<string>;
  /** The array job ids asked about; undefined: asked by name, or about every job. */
  asked?: Set<string>;
}

const FORMAT = '%F|%K|%T|%r|%N|%S|%j|%o';

/** One squeue call: the elements of the given arrays, or of the given job names. Slurm answers
 *  "Invalid job id" when it knows none of the ids: that is an empty view. */
export async function queryQueue(cli: SlurmCli, by: { jobs?: string[]; names?: string[] }, retryForMs?: number): Promise<QueueView> {
  const args = ['-h', '-r', '-t', 'all', '-o', FORMAT];
  if (by.jobs) args.push(`--jobs=${by.jobs.join(',')}`);
  if (by.names) args.push(`--name=${by.names.join(',')}`);
  let out: string;
  try {
    out = await cli.run('squeue', args, { timeoutMs: 20_000, ...(retryForMs !== undefined ? { retryForMs } : {}) });
  } catch (e) {
    if (e instanceof SlurmCommandError && /invalid job id/i.test(e.stderr)) out = '';
    else throw e;
  }
  const view = parseQueue(out);
  if (by.jobs) view.asked = new Set(by.jobs);
  return view;
}

export function parseQueue(out: string): QueueView {
  const view: QueueView = { elements: new Map(), meta: new Map(), known: new Set() };
  for (const line of out.split('\n')) {
    const f = line.split('|');
    if (f.length < 8) continue;
    const [job, task, state, reason, node, start, name] = f as [string, string, string, string, string, string, string];
    if (!/^\d+$/.test(job)) continue;
    const startMs = /^\d{4}-\d\d-\d\dT/.test(start) ? new Date(start).getTime() : NaN;
    const rec: QueueRecord = {
      job, task: /^\d+$/.test(task) ? Number(task) : undefined, state: state.replace(/\+$/, ''), reason, node,
      start: Number.isFinite(startMs) ? startMs : undefined, name, script: f.slice(7).join('|'),
    };
    view.known.add(job);
    if (rec.task === undefined) view.meta.set(job, rec);
    else view.elements.set(`${job}_${rec.task}`, rec);
  }
  return view;
}

/** The record that speaks for an element: its own line, else its array's meta-record. */
export function recordOf(view: QueueView, job: string, task: number): QueueRecord | undefined {
  return view.elements.get(`${job}_${task}`) ?? view.meta.get(job);
}

const WAITING = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);
const ENDED = new Set([
  'COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL',
  'DEADLINE', 'REVOKED', 'SPECIAL_EXIT',
]);

/** waiting: in the queue; active: allocated (running, completing, suspended …); ended: done. */
export function phaseOf(state: string): 'waiting' | 'active' | 'ended' {
  if (WAITING.has(state)) return 'waiting';
  if (ENDED.has(state)) return 'ended';
  return 'active';
}

/** Ends that are the infrastructure's, not the attempt's: it runs again without using a retry. */
export const INFRASTRUCTURE = new Set(['NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL']);

/** StateDetailedReason for a pending reason of Slurm's. */
export function waitDetail(reason: string, where: string): string {
  const r = reason.split(',')[0]!.trim();
  switch (r) {
    case 'Resources': return `waiting in Slurm for free resources (CPUs, memory, nodes) in ${where}`;
    case 'Priority': return `waiting in Slurm behind jobs of higher priority in ${where}`;
    case 'JobArrayTaskLimit': return 'waiting in Slurm: the task\'s MaxConcurrentNum (the array\'s %N limit) is reached';
    case 'JobHeldUser': case 'JobHeldAdmin': return `held in Slurm (${r}): it waits until it is released (scontrol release)`;
    case 'Dependency': return 'waiting in Slurm for a job it depends on';
    case 'BeginTime': return 'waiting in Slurm for its begin time';
    case 'PartitionConfig': return `waiting: it asks for more than the nodes of ${where} have (CPUs, memory) or than its limits allow`;
    case 'PartitionDown': case 'PartitionInactive': return `waiting: the Slurm partition of ${where} is down or inactive`;
    case 'ReqNodeNotAvail': return `waiting: Slurm has no node available for it in ${where} (down, drained or reserved)`;
    case 'Reservation': return 'waiting in Slurm for its reservation';
    case 'SlurmUnavailable': return 'Slurm is not answering: its state is not known';
    default:
      if (/Limit$/.test(r)) return `waiting in Slurm: a limit of its account or QOS is reached (${reason})`;
      return `waiting in Slurm (${reason})`;
  }
}

/** MaxArraySize of the cluster (Slurm's default, 1001, when the configuration cannot be read). */
export async function readMaxArraySize(cli: SlurmCli): Promise<number> {
  try {
    const out = await cli.run('scontrol', ['show', 'config'], { retryForMs: 10_000 });
    const m = /^MaxArraySize\s*=\s*(\d+)/m.exec(out);
    if (m) return Number(m[1]);
  } catch {
    // the default below
  }
  return 1001;
}
