// The scheduler's shared state, owned by the facade (scheduler.ts) and used by its parts: the active
// jobs in memory, the write-behind changes, the ready queue, the anonymous capacity, and loading a
// job from the store into memory.
import { checkDag, upstreamOf } from '../domain/dag.ts';
import { runSpecOf, type FinishedAttempt } from '../domain/task-spec.ts';
import { wantsNodeEventsOf } from '../domain/events.ts';
import { isActive } from '../domain/states.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Executor, ExitInfo, RunningAttempt } from '../executors/types.ts';
import type { InstanceRecord, JobRecord, SampleRecord, Store, TaskRecord } from '../store/types.ts';
import type { HostCapacity, Resources } from '../domain/capacity.ts';
import { AnonSlots } from './capacity.ts';
import type { EnvPools } from './env-pools.ts';
import { ReadyQueue } from './ready-queue.ts';
import { JobRt, TaskRt } from './runtime.ts';
import type { WriteBehind } from './write-behind.ts';
import type { SchedulerMetrics } from './ports.ts';

export interface SchedulerOptions {
  store: Store;
  executor: Executor;
  clock: Clock;
  logger: Logger;
  /** What the host may promise; anonymous instances start when their instance type's resources fit
   *  (applies to an executor of local slots; a queue takes everything). */
  capacity: HostCapacity;
  /** vCPUs and memory of an instance type (undefined: unknown to the catalogue). */
  resourcesOf: (instanceType: string) => Resources | undefined;
  /** Nodes of named compute environments. */
  pools: EnvPools;
  /** The engine queue a task's instances go to: the queue of a THPC_QUEUE environment (its EnvId), or
   *  the anonymous queue for a task without EnvId; undefined: local slots or nodes. */
  queueOf?: (envId: string | undefined) => string | undefined;
  /** Called after an attempt of a task with RedirectInfo or RedirectLocalInfo ended, before its end is
   *  recorded (ships its logs there). */
  afterAttempt?: (a: FinishedAttempt) => Promise<void>;
  /** Who this scheduler is in the store's leadership record (default `openbatch`). */
  holder?: string;
  /** Told once when this scheduler lost its lease and stopped: taken over by another holder
   *  (takenOver), or run out while the store could not be reached. */
  onLost?: (why: string, takenOver: boolean) => void;
  /** Grace between asking an attempt to stop and forcing it. */
  killGraceMs?: number;
  /** Told of attempts that have started (RUNNING), once per batch of starts (the monitor samples them
   *  soon after, so even a short attempt has a data point). */
  onStarted?: (attempts: RunningAttempt[]) => void;
  /** Told of the end of an attempt that ran, with how it ended (and what it used, when the executor
   *  measured it) and when its end was seen (ms). */
  onEnded?: (attempt: RunningAttempt, exit: ExitInfo, endTime: number) => SampleRecord | undefined;
  /** Told of ticks, store writes and attempt starts and ends (Prometheus metrics), if given. */
  metrics?: SchedulerMetrics;
}

export class Core {
  readonly jobs = new Map<string, JobRt>();
  /** Jobs with nothing left to do: dropped from memory once their last changes are written. */
  readonly finishedJobs = new Set<JobRt>();
  readonly ready = new ReadyQueue();
  readonly anon: AnonSlots;
  /** The host's capacity, where the executor runs attempts on this host (local slots). */
  readonly host: HostCapacity | null;

  constructor(
    readonly o: SchedulerOptions,
    readonly wb: WriteBehind,
    readonly scheduleTick: () => void,
  ) {
    const cap = o.executor.capacity();
    this.anon = new AnonSlots(cap);
    this.host = cap.kind === 'slots' ? o.capacity : null;
  }

  /** The active jobs that asked for the events of the nodes of `envId` (wantsNodeEventsOf). */
  nodeWatchers(envId: string): string[] {
    const out: string[] = [];
    for (const j of this.jobs.values()) if (isActive(j.rec.state) && wantsNodeEventsOf(j.rec.spec.job, envId)) out.push(j.id);
    return out;
  }

  get log(): Logger {
    return this.o.logger;
  }

  now(): number {
    return this.o.clock.now();
  }

  addJob(rec: JobRecord, tasks: TaskRecord[]): JobRt {
    const job = new JobRt(rec);
    for (const t of [...tasks].sort((a, b) => a.ord - b.ord)) {
      const rt = new TaskRt(job, t, runSpecOf(t.spec));
      rt.queue = this.o.queueOf?.(rt.envId);
      // COMPAT: a type the catalogue does not know (validation refuses them) counts as 1 vCPU, 1 GiB
      if (rt.envId === undefined) rt.resources = (rt.instanceType && this.o.resourcesOf(rt.instanceType)) || { cpus: 1, memGiB: 1 };
      job.tasks.set(t.name, rt);
      job.order.push(rt);
    }
    const names = job.order.map((t) => t.name);
    const ups = upstreamOf(names, rec.spec.dependences);
    for (const t of job.order) {
      job.upstream.set(t.name, (ups.get(t.name) ?? []).map((n) => job.tasks.get(n)!));
      job.downstream.set(t.name, []);
    }
    for (const t of job.order) for (const u of job.upstream.get(t.name)!) job.downstream.get(u.name)!.push(t);
    job.topo = checkDag(names, rec.spec.dependences).map((n) => job.tasks.get(n)!);
    this.jobs.set(rec.id, job);
    return job;
  }

  async ensureLoaded(jobId: string): Promise<JobRt | undefined> {
    const have = this.jobs.get(jobId);
    if (have) return have;
    const got = await this.findJob(jobId);
    if (!got) return undefined;
    if (this.jobs.has(jobId)) return this.jobs.get(jobId);
    return this.addJob(got.job, got.tasks);
  }

  async findJob(id: string): Promise<{ job: JobRecord; tasks: TaskRecord[] } | undefined> {
    const tasks = await this.o.store.getTasks(id);
    if (tasks.length === 0) return undefined;
    const job = await this.o.store.getJobById(id);
    return job ? { job, tasks } : undefined;
  }

  /** Create the row of an instance that had none (it takes the task's shared wait state). */
  materialise(task: TaskRt, index: number): InstanceRecord {
    const w = task.rec.wait;
    return {
      jobId: task.job.id, taskName: task.name, index, state: w.state, attempt: 0, retryBase: 0, exitCode: null,
      stateReason: w.reason, stateDetail: w.detail, nodeId: null, createTime: task.rec.createTime,
      launchTime: null, runningTime: null, endTime: w.endTime, handle: null,
    };
  }
}
