// DescribeJobMonitorData: real resource samples of running task instances. A sampler reads, every
// `intervalSec`, the CPU time and memory of each running attempt — from its cgroups where it has them
// (every process of the attempt, as its limits count them), else of its process group from /proc —
// and the fullness of the filesystem of its working directory, and stores them. Percentages are of
// the task's instance type (vCPUs, memory) when the catalogue knows it, else of this host.
import fs from 'node:fs';
import { apiError } from '../domain/errors.ts';
import { checkJobId } from '../domain/ids.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { groupUsage, HOST_CPUS, HOST_MEMORY_BYTES } from '../lib/proc-stats.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { SampleRecord, Store } from '../store/types.ts';
import { instancesOf } from './jobs.ts';
import type { Caller } from './types.ts';
import { checkTaskName } from './validate.ts';

type Obj = Record<string, any>;

export const MEASURED_METRICS = ['CpuUsage', 'MemUsage', 'MaxDiskUsage'] as const;
const ALL_METRICS = ['CpuUsage', 'MemUsage', 'LanOuttraffic', 'LanIntraffic', 'MaxDiskUsage', 'TargetDiskUsage'];
const ISO_Z = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/;
const MAX_GAP_NULLS = 10;

export interface MonitorDeps {
  store: Store;
  scheduler: Scheduler;
  clock: Clock;
  logger: Logger;
  /** Seconds between samples; 0 turns sampling off. */
  intervalSec: number;
  /** vCPUs and memory (GiB) of an instance type, when known. */
  capacityOf: (instanceType: string) => { cpu: number; memGiB: number } | undefined;
  /** The counters of an attempt's cgroups (by their name), where attempts have them. */
  usageOf?: (cgroup: string) => { cpuSeconds: number | undefined; memoryBytes: number } | undefined;
}

export class MonitorService {
  private timer: NodeJS.Timeout | null = null;
  private readonly prev = new Map<string, { cpuSeconds: number; at: number }>();

  constructor(private readonly d: MonitorDeps) {}

  start(): void {
    if (this.d.intervalSec <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.sample().catch((e: unknown) => this.d.logger.warn({ err: e }, 'monitor sample failed')), this.d.intervalSec * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Take one sample of every running attempt. */
  async sample(): Promise<number> {
    const runs = this.d.scheduler.runningAttempts();
    const usage = groupUsage(new Set(runs.map((r) => r.pid)));
    const now = this.d.clock.now();
    const ts = Math.floor(now / 1000);
    const out: SampleRecord[] = [];
    const seen = new Set<string>();
    for (const r of runs) {
      const g = usage.get(r.pid);
      const cg = r.cgroup === undefined ? undefined : this.d.usageOf?.(r.cgroup);
      if (!g && !cg) continue;
      const u = { cpuSeconds: cg?.cpuSeconds ?? g?.cpuSeconds ?? 0, rssBytes: cg?.memoryBytes ?? g?.rssBytes ?? 0, ageSeconds: g?.ageSeconds };
      const key = `${r.jobId}/${r.taskName}/${r.index}/${r.attempt}`;
      seen.add(key);
      const cap = (r.instanceType && this.d.capacityOf(r.instanceType)) || { cpu: HOST_CPUS, memGiB: HOST_MEMORY_BYTES / 2 ** 30 };
      const p = this.prev.get(key);
      // CPU: since the previous sample, or since the attempt started for the first one
      const cpuSec = p ? u.cpuSeconds - p.cpuSeconds : u.cpuSeconds;
      const wall = p ? (now - p.at) / 1000 : (u.ageSeconds ?? this.d.intervalSec);
      this.prev.set(key, { cpuSeconds: u.cpuSeconds, at: now });
      const cpu = wall > 0 ? Math.max(0, (cpuSec / wall / cap.cpu) * 100) : 0;
      const mem = (u.rssBytes / (cap.memGiB * 2 ** 30)) * 100;
      out.push({
        jobId: r.jobId, taskName: r.taskName, index: r.index, attempt: r.attempt, ts,
        cpu: round2(Math.min(cpu, 100)), mem: round2(mem), disk: round2(diskUsage(r.cwd)),
      });
    }
    for (const k of this.prev.keys()) if (!seen.has(k)) this.prev.delete(k);
    await this.d.store.insertSamples(out);
    return out.length;
  }

  async describe(c: Caller, req: Obj): Promise<Obj> {
    checkJobId(req.JobId);
    checkTaskName(req.TaskName, 'TaskName');
    if (!ALL_METRICS.includes(req.MetricName)) {
      throw apiError('InvalidParameterValue', { param: 'MetricName', problem: `"${req.MetricName}" is not a metric (${ALL_METRICS.join(', ')})` });
    }
    if (!(MEASURED_METRICS as readonly string[]).includes(req.MetricName)) {
      throw apiError('UnsupportedOperation', { detail: `MetricName ${req.MetricName} is not measured by OpenBatch: local task instances have no network or disk device of their own (measured: ${MEASURED_METRICS.join(', ')}).` });
    }
    if (req.Dimensions !== undefined) {
      throw apiError('InvalidParameterValue', { param: 'Dimensions', problem: 'apply only to TargetDiskUsage' });
    }
    const job = await this.d.store.getJob(c.account, c.region, req.JobId);
    if (!job) throw apiError('ResourceNotFound.Job', { jobId: req.JobId });
    const task = await this.d.store.getTask(job.id, req.TaskName);
    if (!task) throw apiError('ResourceNotFound.Task', { jobId: job.id, taskName: req.TaskName });
    const index = req.TaskInstanceIndex as number;
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

function diskUsage(dir: string): number {
  try {
    const s = fs.statfsSync(dir);
    return s.blocks > 0 ? ((s.blocks - s.bfree) / s.blocks) * 100 : 0;
  } catch {
    return 0;
  }
}

function parseIso(v: string, param: string): number {
  const m = ISO_Z.exec(v);
  const ms = m ? Date.parse(v) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw apiError('InvalidParameterValue', { param: param, problem: `"${v}" must be an ISO 8601 UTC time like 2018-02-07T09:29:09Z` });
  }
  return Math.floor(ms / 1000);
}
