// DescribeJobMonitorData: real resource samples of task instances. A sampler asks the executor, every
// `intervalSec`, for the CPU time and memory of each running attempt and the fullness of the file
// system of its working directory (the executor's usage capability; without it the metrics answer
// UnsupportedOperation), and stores them; an attempt also gets a sample soon after it starts (the
// scheduler's onStarted) and one as it ends, from what the executor measured then (onEnded), so even
// a short one has data. Percentages are of the task's instance type when known, else of this host.
import { apiError } from '../domain/errors.ts';
import { checkJobId } from '../domain/ids.ts';
import type { Clock, Timer } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { HOST_CPUS, HOST_MEMORY_BYTES } from '../lib/proc-stats.ts';
import type { Executor, ExitInfo, RunningAttempt } from '../executors/types.ts';
import type { SchedulerView } from '../scheduler/ports.ts';
import type { SampleRecord, Store } from '../store/types.ts';
import { instancesOf } from './jobs.ts';
import type { Caller } from './types.ts';
import { checkTaskName } from './validate.ts';
import type { RequestOf, ResponseOf } from '../api/models.ts';

export const MEASURED_METRICS = ['CpuUsage', 'MemUsage', 'MaxDiskUsage'] as const;
const ALL_METRICS = ['CpuUsage', 'MemUsage', 'LanOuttraffic', 'LanIntraffic', 'MaxDiskUsage', 'TargetDiskUsage'];
const ISO_Z = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/;
const MAX_GAP_NULLS = 10;
/** A started attempt is sampled between START_MIN_MS and START_DELAY_MS after its start: the starts
 *  of that window share one reading of the executor's counters (a scan of /proc), however many. */
const START_DELAY_MS = 750;
const START_MIN_MS = 500;
/** An end this close to the previous sample measures CPU over the attempt's whole life instead (a
 *  span of a few clock ticks says little). */
const MIN_END_SPAN_MS = 500;

export interface MonitorDeps {
  store: Store;
  scheduler: Pick<SchedulerView, 'runningAttempts'>;
  clock: Clock;
  logger: Logger;
  /** Seconds between samples; 0 turns sampling off. */
  intervalSec: number;
  /** vCPUs and memory (GiB) of an instance type, when known. */
  capacityOf: (instanceType: string) => { cpu: number; memGiB: number } | undefined;
  /** Reads running attempts' counters (its optional usage capability). */
  executor: Pick<Executor, 'usage'>;
  /** The engine queue of a task's EnvId (undefined: no EnvId), whose nodes OpenBatch does not sample. */
  queueOf?: (envId: string | undefined) => string | undefined;
}

/** The last sample of a running attempt: where the next one measures CPU from. */
interface Prev {
  cpuSeconds: number;
  at: number;
  memoryBytes: number;
  disk: number | undefined;
}

export class MonitorService {
  private timer: NodeJS.Timeout | null = null;
  private on = false;
  /** By attempt key. */
  private readonly prev = new Map<string, Prev>();
  /** Started attempts waiting for their first sample, in the order they started. */
  private readonly awaiting = new Map<string, { r: RunningAttempt; at: number }>();
  private startTimer: Timer | null = null;
  /** The last fullness of the attempts' file system seen (for ends that do not say it). */
  private lastDisk: number | undefined;
  /** End samples of this turn, stored together. */

  constructor(private readonly d: MonitorDeps) {}

  start(): void {
    if (this.d.intervalSec <= 0 || !this.d.executor.usage || this.on) return;
    this.on = true;
    this.timer = setInterval(() => void this.sample().catch((e: unknown) => this.d.logger.warn({ err: e }, 'monitor sample failed')), this.d.intervalSec * 1000);
    this.timer.unref();
  }

  stop(): void {
    this.on = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.startTimer?.cancel();
    this.startTimer = null;
    this.awaiting.clear();
  }

  /** Take one sample of every running attempt. */
  async sample(): Promise<number> {
    const runs = this.d.scheduler.runningAttempts();
    for (const r of runs) this.awaiting.delete(r.key);
    return this.take(runs, true);
  }

  /** The scheduler's onStarted: these attempts have started; each is sampled within about a second. */
  attemptsStarted(list: readonly RunningAttempt[]): void {
    if (!this.on || list.length === 0) return;
    const now = this.d.clock.now();
    for (const r of list) this.awaiting.set(r.key, { r, at: now });
    if (!this.startTimer) this.startTimer = this.d.clock.setTimer(START_DELAY_MS, () => this.sampleStarted());
  }

  /** The scheduler's onEnded: the attempt's last sample, from what the executor measured as it ended —
   *  CPU since the previous sample, its memory peak (else the last sampled memory), the last disk
   *  fullness — for the scheduler to write with the attempt's end (no write of its own). Without a
   *  measurement there is none. */
  attemptEnded(r: RunningAttempt, exit: ExitInfo, endTime: number): SampleRecord | undefined {
    this.awaiting.delete(r.key);
    const p = this.prev.get(r.key);
    this.prev.delete(r.key);
    const u = exit.usage;
    if (!this.on || !u) return undefined;
    let since = p?.at, cpuBefore = p?.cpuSeconds ?? 0;
    if ((since === undefined || endTime - since < MIN_END_SPAN_MS) && r.startTime !== undefined) {
      since = r.startTime;
      cpuBefore = 0;
    }
    if (since === undefined) return undefined; // no span to measure CPU over
    const cap = this.capOf(r);
    const wall = (endTime - since) / 1000;
    const cpu = wall > 0 ? Math.max(0, ((u.cpuSeconds - cpuBefore) / wall / cap.cpu) * 100) : 0;
    const memoryBytes = u.maxMemoryBytes ?? p?.memoryBytes ?? 0;
    const disk = u.diskPercent ?? p?.disk ?? this.lastDisk ?? 0;
    return {
      jobId: r.jobId, taskName: r.taskName, index: r.index, attempt: r.attempt, ts: Math.floor(endTime / 1000),
      cpu: round2(Math.min(cpu, 100)), mem: round2((memoryBytes / (cap.memGiB * 2 ** 30)) * 100), disk: round2(disk),
    };
  }

  /** The start-sample timer: sample the attempts that started at least START_MIN_MS ago, and wait for
   *  the others. */
  private sampleStarted(): void {
    this.startTimer = null;
    if (!this.on) return;
    const now = this.d.clock.now();
    const runs: RunningAttempt[] = [];
    for (const [key, w] of this.awaiting) {
      if (now - w.at < START_MIN_MS) break; // the rest started later
      runs.push(w.r);
      this.awaiting.delete(key);
    }
    const next = this.awaiting.values().next();
    if (!next.done) this.startTimer = this.d.clock.setTimer(Math.max(0, next.value.at + START_DELAY_MS - now), () => this.sampleStarted());
    if (runs.length > 0) void this.take(runs, false).catch((e: unknown) => this.d.logger.warn({ err: e }, 'monitor sample failed'));
  }

  private capOf(r: RunningAttempt): { cpu: number; memGiB: number } {
    return (r.instanceType && this.d.capacityOf(r.instanceType)) || { cpu: HOST_CPUS, memGiB: HOST_MEMORY_BYTES / 2 ** 30 };
  }

  /** Sample these running attempts; `all`: they are every running attempt (forget the others). */
  private async take(runs: readonly RunningAttempt[], all: boolean): Promise<number> {
    const usageOf = this.d.executor.usage?.bind(this.d.executor);
    if (!usageOf || runs.length === 0) return 0;
    const usage = await usageOf(runs);
    const now = this.d.clock.now();
    const ts = Math.floor(now / 1000);
    const out: SampleRecord[] = [];
    const seen = new Set<string>();
    for (const r of runs) {
      const got = usage.get(r.key);
      if (!got) continue;
      seen.add(r.key);
      const cap = this.capOf(r);
      const p = this.prev.get(r.key);
      // CPU: since the previous sample, or since the attempt started for the first one
      const cpuSec = p ? got.cpuSeconds - p.cpuSeconds : got.cpuSeconds;
      const wall = p ? (now - p.at) / 1000 : (got.ageSeconds ?? this.d.intervalSec);
      this.prev.set(r.key, { cpuSeconds: got.cpuSeconds, at: now, memoryBytes: got.memoryBytes, disk: got.diskPercent });
      if (got.diskPercent !== undefined) this.lastDisk = got.diskPercent;
      const cpu = wall > 0 ? Math.max(0, (cpuSec / wall / cap.cpu) * 100) : 0;
      const mem = (got.memoryBytes / (cap.memGiB * 2 ** 30)) * 100;
      out.push({
        jobId: r.jobId, taskName: r.taskName, index: r.index, attempt: r.attempt, ts,
        cpu: round2(Math.min(cpu, 100)), mem: round2(mem), disk: round2(got.diskPercent ?? 0),
      });
    }
    if (all) for (const k of this.prev.keys()) if (!seen.has(k)) this.prev.delete(k);
    await this.d.store.insertSamples(out);
    return out.length;
  }

  async describe(c: Caller, req: RequestOf<'DescribeJobMonitorData'>): Promise<ResponseOf<'DescribeJobMonitorData'>> {
    checkJobId(req.JobId);
    checkTaskName(req.TaskName, 'TaskName');
    if (!ALL_METRICS.includes(req.MetricName)) {
      throw apiError('InvalidParameterValue', { param: 'MetricName', problem: `"${req.MetricName}" is not a metric (${ALL_METRICS.join(', ')})` });
    }
    if (!(MEASURED_METRICS as readonly string[]).includes(req.MetricName)) {
      throw apiError('UnsupportedOperation', { detail: `MetricName ${req.MetricName} is not measured by OpenBatch: local task instances have no network or disk device of their own (measured: ${MEASURED_METRICS.join(', ')}).` });
    }
    if (!this.d.executor.usage) {
      throw apiError('UnsupportedOperation', { detail: 'The executor of this OpenBatch does not measure the resource use of attempts: there is no monitor data.' });
    }
    if (req.Dimensions !== undefined) {
      throw apiError('InvalidParameterValue', { param: 'Dimensions', problem: 'apply only to TargetDiskUsage' });
    }
    const job = await this.d.store.getJob(c.account, c.region, req.JobId);
    if (!job) throw apiError('ResourceNotFound.Job', { jobId: req.JobId });
    const task = await this.d.store.getTask(job.id, req.TaskName);
    if (!task) throw apiError('ResourceNotFound.Task', { jobId: job.id, taskName: req.TaskName });
    const queue = this.d.queueOf?.(typeof task.spec.EnvId === 'string' ? task.spec.EnvId : undefined);
    if (queue !== undefined) {
      // COMPAT: instances on a Slurm queue run on the cluster's nodes, which OpenBatch does not sample
      throw apiError('UnsupportedOperation', { detail: `Task ${task.name} of ${job.id} runs on the Slurm queue ${queue}, whose nodes OpenBatch does not sample: there is no monitor data (Slurm's own accounting, sacct, has what the cluster measured).` });
    }
    const index = req.TaskInstanceIndex;
    if (index < 0 || index >= task.instanceNum) {
      throw apiError('ResourceNotFound.TaskInstance', { jobId: job.id, taskName: task.name, index, why: instancesOf(task) });
    }
    const inst = await this.d.store.getInstance(job.id, task.name, index);
    const nowSec = Math.floor(this.d.clock.now() / 1000);
    // clamp the range to the instance's lifetime
    const life0 = Math.floor((inst?.createTime ?? task.createTime) / 1000);
    const life1 = inst?.endTime ? Math.floor(inst.endTime / 1000) : nowSec;
    let from = req.StartTime !== undefined ? parseIso(req.StartTime, 'StartTime') : life0;
    let to = req.EndTime !== undefined ? parseIso(req.EndTime, 'EndTime') : life1;
    if (from > to) throw apiError('InvalidParameterValue', { param: 'StartTime', problem: `${req.StartTime} is after EndTime ${req.EndTime}` });
    from = Math.max(from, life0);
    to = Math.min(to, life1);
    const samples = to >= from ? await this.d.store.samplesOf(job.id, task.name, index, from, to) : [];
    const period = Math.max(1, this.d.intervalSec);
    const field = req.MetricName === 'CpuUsage' ? 'cpu' : req.MetricName === 'MemUsage' ? 'mem' : 'disk';
    const Timestamps: number[] = [];
    const Values: (number | null)[] = [];
    let lastAttempt: number | undefined;
    for (const s of samples) {
      if (lastAttempt !== undefined && s.attempt !== lastAttempt && Timestamps.length > 0) {
        // a retry leaves a gap: show it with nulls, at most MAX_GAP_NULLS of them
        const last = Timestamps[Timestamps.length - 1]!;
        const missing = Math.min(MAX_GAP_NULLS, Math.max(0, Math.floor((s.ts - last) / period) - 1));
        for (let i = 1; i <= missing; i++) {
          Timestamps.push(last + i * period);
          Values.push(null);
        }
      }
      lastAttempt = s.attempt;
      Timestamps.push(s.ts);
      Values.push(s[field]);
    }
    return { Period: period, DataPoints: { Timestamps, Values } };
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function parseIso(v: string, param: string): number {
  const m = ISO_Z.exec(v);
  const ms = m ? Date.parse(v) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw apiError('InvalidParameterValue', { param: param, problem: `"${v}" must be an ISO 8601 UTC time like 2018-02-07T09:29:09Z` });
  }
  return Math.floor(ms / 1000);
}
