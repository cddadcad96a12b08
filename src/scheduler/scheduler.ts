// The scheduler: the single writer of job, task and instance states once a job is submitted.
// Event-driven: submissions, exits, terminations and retries schedule one tick (setImmediate); a tick
// admits new jobs, fills free slots in priority order and writes every change of the tick in one
// store batch. A launch is made durable (STARTING, attempt n) before the process is spawned, so a
// crash can never make an attempt run twice unseen; exit statuses are kept on disk by the executor
// until the store holds them.
import fs from 'node:fs';
import path from 'node:path';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { checkDag, upstreamOf } from '../domain/dag.ts';
import {
  describeRule, isActive, isFinished, isWaiting, rollUp, upstreamSatisfies, zeroCounts, type State,
} from '../domain/states.ts';
import { newId } from '../domain/ids.ts';
import { runSpecOf } from '../domain/task-spec.ts';
import type { AttemptHandle, Executor, ExitInfo } from '../executors/types.ts';
import type { AttemptRecord, InstanceRecord, JobRecord, Store, TaskRecord, WriteBatch } from '../store/types.ts';
import type { LogLayout } from '../services/log-layout.ts';
import { gib, vcpus, type HostCapacity, type Resources } from './capacity.ts';
import { DeadlineHeap } from './deadlines.ts';
import type { EnvPools, NodeRt } from './env-pools.ts';
import { instKey, JobRt, moveWaiting, setState, TaskRt, type AttemptRt, type Dirty } from './runtime.ts';

export interface SchedulerOptions {
  store: Store;
  executor: Executor;
  clock: Clock;
  logger: Logger;
  dataDir: string;
  logs: LogLayout;
  /** Instances the local executor runs at once for tasks on anonymous compute environments. */
  slots: number;
  /** What the host may promise; anonymous instances start when their instance type's resources fit. */
  capacity: HostCapacity;
  /** vCPUs and memory of an instance type (undefined: unknown to the catalogue). */
  resourcesOf: (instanceType: string) => Resources | undefined;
  /** Nodes of named compute environments. */
  pools: EnvPools;
  /** Called after an attempt ended and before its end is recorded (ships logs to redirect targets). */
  afterAttempt?: (a: FinishedAttempt) => Promise<void>;
  /** Grace between SIGTERM and SIGKILL when an attempt is stopped. */
  killGraceMs?: number;
}

export interface FinishedAttempt {
  jobId: string;
  taskName: string;
  index: number;
  attempt: number;
  spec: TaskRt['spec'];
  stdoutFile: string;
  stderrFile: string;
}

export class SchedulerError extends Error {}

export interface RunningAttempt {
  /** The attempt's key for the executor (attemptKey). */
  key: string;
  /** Its cgroups' name (AttemptHandle.cgroup), when it has some. */
  cgroup: string | undefined;
  jobId: string;
  taskName: string;
  index: number;
  attempt: number;
  pid: number;
  /** The instance type of the task's compute environment, when it names one. */
  instanceType: string | undefined;
  cwd: string;
}

const FLUSH_RETRY_MS = 1000;
const TERMINATED = 'Terminated';
const BY_TERMINATE_JOB = 'terminated by TerminateJob';

export class Scheduler {
  private readonly o: SchedulerOptions;
  private readonly jobs = new Map<string, JobRt>();
  private readonly ready: TaskRt[] = [];
  private readonly byKey = new Map<string, AttemptRt>();
  private readonly deadlines = new DeadlineHeap<AttemptRt>();
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt = Infinity;
  private readonly dirty: Dirty = { jobs: new Set(), tasks: new Set(), instances: new Map() };
  private dirtyAttempts = new Map<string, AttemptRecord>();
  private toForget: AttemptHandle[] = [];
  private readonly toAdmit: string[] = [];
  /** Launches decided while the store could not be written: spawned once it can. */
  private readonly pendingLaunch: AttemptRt[] = [];
  /** Jobs with nothing left to do: dropped from memory once their last changes are written. */
  private readonly finishedJobs = new Set<JobRt>();
  /** Tasks of `ready` that run on a named environment (they can start while the local slots are full). */
  private readyEnv = 0;
  /** Ready tasks whose wait reason may have changed since the last tick (added, started or ended an
   *  attempt). The other ready tasks keep theirs unless `reasonsAll` or the local slots fill or free. */
  private readonly reasonCheck = new Set<TaskRt>();
  private reasonsAll = true;
  private lastCapacity = '';
  /** The last dispatch could not start every anonymous task that waits (no slot, or its resources). */
  private anonBlocked = false;
  private flushPromise: Promise<boolean> | null = null;
  private runningCount = 0;
  /** Attempts on the anonymous local pool (the ones `slots` limits). */
  private anonRunning = 0;
  private tickScheduled = false;
  private ticking = false;
  private tickAgain = false;
  private flushFailures = 0;
  private closed = false;
  private seqCounter = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly workDir: string;

  constructor(o: SchedulerOptions) {
    this.o = o;
    this.workDir = path.join(o.dataDir, 'work');
    o.executor.onExit((key, exit) => this.onExit(key, exit));
  }

  // ---------------------------------------------------------------- lifecycle

  /** Load every active job from the store, re-adopt running attempts, and start scheduling. */
  async start(): Promise<void> {
    await this.o.pools.load();
    const snap = await this.o.store.loadActive();
    const byJob = new Map<string, TaskRecord[]>();
    for (const t of snap.tasks) {
      const list = byJob.get(t.jobId) ?? [];
      list.push(t);
      byJob.set(t.jobId, list);
    }
    for (const j of snap.jobs) this.addJob(j, byJob.get(j.id) ?? []);
    const now = this.o.clock.now();
    for (const inst of snap.instances) {
      const job = this.jobs.get(inst.jobId);
      const task = job?.tasks.get(inst.taskName);
      if (!task) continue;
      if (inst.index >= task.rec.cursor) task.ahead.add(inst.index);
      if (isWaiting(inst.state)) task.waitingRows.push(inst);
      else if (inst.state === 'STARTING' || inst.state === 'RUNNING') this.readopt(task, inst, now);
    }
    for (const job of this.jobs.values()) {
      if (job.rec.state === 'SUBMITTED') this.toAdmit.push(job.id);
      for (const t of job.order) this.refreshReady(t);
    }
    this.log().info({ jobs: this.jobs.size, running: this.runningCount }, 'scheduler started');
    this.scheduleTick();
  }

  /** Stop scheduling and flush what is pending. Running attempts keep running (re-adopted on restart). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    for (let i = 0; i < 50 && this.ticking; i++) await new Promise((r) => setTimeout(r, 20));
    await this.flush().catch((e: unknown) => this.log().error({ err: e }, 'final flush failed'));
  }

  /** Resolves when nothing is dirty and no tick is pending (tests and graceful shutdown). */
  idle(): Promise<void> {
    if (!this.tickScheduled && !this.ticking && this.isClean()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** A compute environment changed in the store (created, scaled, nodes attached/terminated, deleted). */
  async envChanged(envId: string): Promise<void> {
    await this.o.pools.refresh(envId);
    this.reasonsAll = true;
    if (!this.o.pools.pool(envId)) {
      // the environment is gone: what still waits for it can never run
      const now = this.o.clock.now();
      for (const job of this.jobs.values()) {
        for (const task of job.order) {
          if (task.envId !== envId || !task.hasWaiting()) continue;
          moveWaiting(task, 'FAILED', 'ComputeEnvDeleted', `compute environment ${envId} was deleted before this instance could run`, now, this.dirty);
          this.unready(task);
          this.rollTask(task, now);
          this.rollJob(job, now);
        }
      }
    }
    this.scheduleTick();
    await this.flushSoon();
  }

  /** TerminateComputeNode(s): stop what runs on the node; its instance waits again for another node. */
  terminateNode(instanceId: string): void {
    const node = this.o.pools.node(instanceId);
    const a = node?.busy as AttemptRt | null | undefined;
    this.reasonsAll = true;
    if (a) this.stopAttempt(a, 'ComputeNodeTerminated', `compute node ${node!.rec.id} was terminated while the attempt ran; the instance runs again on another node`, false, true);
  }

  /** Is a node running an attempt now? (TaskInstanceNumAvailable) */
  nodeBusy(instanceId: string): boolean {
    return Boolean(this.o.pools.node(instanceId)?.busy);
  }

  /** DeleteJob: drop a finished job from memory. False when the job still has work in flight. */
  async release(jobId: string): Promise<boolean> {
    await this.flush();
    const job = this.jobs.get(jobId);
    if (!job) return true;
    if (!isFinished(job.rec.state) || job.order.some((t) => t.running.size > 0) || job.rec.nextAction !== '') return false;
    this.jobs.delete(jobId);
    this.finishedJobs.delete(job);
    for (const t of job.order) this.unready(t);
    return true;
  }

  /** What runs now (for the monitor): one entry per launched attempt. */
  runningAttempts(): RunningAttempt[] {
    const out: RunningAttempt[] = [];
    for (const a of this.byKey.values()) {
      if (!a.handle || a.inst.state !== 'RUNNING') continue;
      out.push({
        key: a.key, cgroup: a.handle.cgroup, jobId: a.inst.jobId, taskName: a.inst.taskName, index: a.inst.index, attempt: a.inst.attempt,
        pid: a.handle.pid, instanceType: a.node?.rec.instanceType ?? a.task.instanceType, cwd: this.workDirOf(a.inst),
      });
    }
    return out;
  }

  private workDirOf(inst: { jobId: string; taskName: string; index: number; attempt: number }): string {
    return path.join(this.workDir, inst.jobId, inst.taskName, `${inst.index}.${inst.attempt}`);
  }

  stats(): { activeJobs: number; running: number; slots: number; readyTasks: number } {
    return { activeJobs: this.jobs.size, running: this.runningCount, slots: this.o.slots, readyTasks: this.ready.length };
  }

  // ---------------------------------------------------------------- commands (from services)

  /** A job was inserted in the store: admit it on the next tick. */
  submitted(jobId: string): void {
    this.toAdmit.push(jobId);
    this.scheduleTick();
  }

  /** TerminateJob: waiting instances fail now, running ones are stopped and then fail. */
  async terminateJob(jobId: string): Promise<void> {
    await this.flush(); // rows read from the store below must be current
    const job = await this.ensureLoaded(jobId);
    if (!job) return;
    const now = this.o.clock.now();
    const reason = TERMINATED;
    const detail = BY_TERMINATE_JOB;
    if (job.order.some((t) => t.running.size > 0)) {
      job.rec.nextAction = 'TERMINATING';
      this.dirty.jobs.add(job);
    }
    // first end everything, then roll up (so downstream tasks say Terminated, not DependenceFailed)
    for (const task of job.order) {
      if (task.hasWaiting()) moveWaiting(task, 'FAILED', reason, detail, now, this.dirty);
      this.unready(task);
      for (const a of task.running.values()) this.stopAttempt(a, reason, detail, true);
      await this.failInterrupted(task, reason, detail);
    }
    for (const task of job.topo) this.rollTask(task, now);
    this.rollJob(job, now);
    this.scheduleTick();
    await this.flushSoon();
  }

  /** TerminateTaskInstance. Returns false when the instance is already finished (no-op). */
  async terminateInstance(jobId: string, taskName: string, index: number): Promise<void> {
    await this.flush();
    const job = await this.ensureLoaded(jobId);
    const task = job?.tasks.get(taskName);
    if (!job || !task) return;
    const now = this.o.clock.now();
    const reason = TERMINATED;
    const detail = 'terminated by TerminateTaskInstance';
    const running = task.running.get(index);
    if (running) {
      this.stopAttempt(running, reason, detail, true);
    } else {
      const row = task.waitingRows.find((r) => r.index === index);
      if (row) {
        task.waitingRows.splice(task.waitingRows.indexOf(row), 1);
        this.endWithoutRun(task, row, 'FAILED', reason, detail, now);
      } else if (index >= task.rec.cursor && !task.ahead.has(index) && isWaiting(task.rec.wait.state)) {
        // an instance without a row yet: materialise it as FAILED
        const inst = this.materialise(task, index);
        task.ahead.add(index);
        this.endWithoutRun(task, inst, 'FAILED', reason, detail, now);
      } else {
        const k = instKey(jobId, taskName, index);
        const row = this.dirty.instances.get(k) ?? (await this.o.store.getInstance(jobId, taskName, index));
        if (row && row.state === 'FAILED_INTERRUPTED' && !task.running.has(index)) {
          setState(task, row, 'FAILED', this.dirty);
          row.stateReason = reason;
          row.stateDetail = detail;
        }
      }
    }
    this.refreshReady(task);
    this.rollTask(task, now);
    this.rollJob(job, now);
    this.scheduleTick();
    await this.flushSoon();
  }

  /** RetryJobs on a FAILED job: failed instances wait again (in DAG order); attempts and logs are kept. */
  async retryJob(jobId: string): Promise<void> {
    await this.flush(); // rows read from the store below must be current
    const job = await this.ensureLoaded(jobId);
    if (!job) return;
    const now = this.o.clock.now();
    for (const task of job.order) {
      const failed = task.rec.counts.FAILED + task.rec.counts.FAILED_INTERRUPTED;
      if (failed === 0) continue;
      const n = task.rec.instanceNum;
      const stored = await this.o.store.listInstanceRows(jobId, task.name, ['FAILED', 'FAILED_INTERRUPTED'], 0, n, 0, n);
      const rows = stored.map((r) => this.dirty.instances.get(instKey(r.jobId, r.taskName, r.index)) ?? r)
        .filter((r) => r.state === 'FAILED' || r.state === 'FAILED_INTERRUPTED');
      // the instances without a row that failed (skipped or terminated before they ran)
      const implicitFailed = !isWaiting(task.rec.wait.state) && task.implicitCount > 0;
      const target: State = 'PENDING';
      if (implicitFailed) moveWaiting(task, target, '', '', now, this.dirty);
      else if (task.implicitCount === 0) task.rec.wait.state = target;
      for (const r of rows) {
        if (task.running.has(r.index)) continue;
        setState(task, r, target, this.dirty);
        r.retryBase = r.attempt;
        r.exitCode = null;
        r.stateReason = '';
        r.stateDetail = '';
        r.launchTime = null;
        r.runningTime = null;
        r.endTime = null;
        r.handle = null;
        task.waitingRows.push(r);
      }
      task.rec.wait.state = target;
      task.rec.endTime = null;
      this.dirty.tasks.add(task);
    }
    job.rec.endTime = null;
    job.rec.stateReason = '';
    // re-evaluate dependencies in DAG order: tasks whose upstream is satisfied become RUNNABLE
    for (const task of job.topo) this.evaluateTask(task, now);
    for (const task of job.order) this.rollTask(task, now);
    this.rollJob(job, now);
    this.scheduleTick();
    await this.flushSoon();
  }

  // ---------------------------------------------------------------- loading

  private addJob(rec: JobRecord, tasks: TaskRecord[]): JobRt {
    const job = new JobRt(rec, ++this.seqCounter);
    for (const t of [...tasks].sort((a, b) => a.ord - b.ord)) {
      const rt = new TaskRt(job, t, runSpecOf(t.spec));
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

  private async ensureLoaded(jobId: string): Promise<JobRt | undefined> {
    const have = this.jobs.get(jobId);
    if (have) return have;
    const got = await this.findJob(jobId);
    if (!got) return undefined;
    if (this.jobs.has(jobId)) return this.jobs.get(jobId);
    return this.addJob(got.job, got.tasks);
  }

  private readopt(task: TaskRt, inst: InstanceRecord, now: number): void {
    const key = attemptKey(inst);
    // a launch whose start was not written yet when the service died: the shim's pid file tells
    const handle = (inst.handle as AttemptHandle | null) ?? this.o.executor.recover?.(key) ?? null;
    const node = inst.nodeId ? this.o.pools.node(inst.nodeId) ?? null : null;
    const a: AttemptRt = {
      key, task, inst, handle, kill: null, hardKillAt: null, launched: true, node, held: node ? null : task.resources,
      deadline: (inst.runningTime ?? inst.launchTime ?? now) + task.spec.timeoutSec * 1000,
    };
    if (node) node.busy = a;
    task.running.set(inst.index, a);
    this.byKey.set(key, a);
    this.runningCount += 1;
    if (!node) this.anonRunning += 1;
    if (a.held) this.o.capacity.take(a.held);
    const result = handle ? this.o.executor.adopt(handle) : ({ kind: 'lost' } as const);
    // TerminateJob was stopping the job's attempts when the service stopped: that goes on
    const stop = task.job.rec.nextAction === 'TERMINATING' ? { reason: TERMINATED, detail: BY_TERMINATE_JOB, final: true } : null;
    if (result.kind === 'running') {
      this.deadlines.push(a.deadline, a);
      this.armDeadlines();
      if (stop) this.stopAttempt(a, stop.reason, stop.detail, stop.final);
    } else if (result.kind === 'exited') {
      a.kill = stop;
      queueMicrotask(() => this.onExit(key, result.exit));
    } else {
      a.kill = stop ?? {
        reason: 'ServiceRestarted',
        detail: 'the service restarted while this attempt was starting or running, and no trace of its outcome was found',
        final: false,
      };
      queueMicrotask(() => this.onExit(key, { exitCode: null, signal: null }));
    }
  }

  // ---------------------------------------------------------------- the tick

  private scheduleTick(): void {
    if (this.closed) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    if (this.tickScheduled) return;
    this.tickScheduled = true;
    setImmediate(() => void this.tick());
  }

  private async tick(): Promise<void> {
    this.tickScheduled = false;
    if (this.closed) return;
    this.ticking = true;
    try {
      const now = this.o.clock.now();
      await this.admitPending(now);
      const launches = this.dispatch(now);
      this.updateWaitReasons();
      if (launches.length > 0 || !this.isClean()) {
        const ok = await this.flush();
        if (ok) for (const a of launches) this.launch(a);
        else for (const a of launches) this.pendingLaunch.push(a);
      }
      if (this.pendingLaunch.length > 0 && this.isClean()) {
        const again = this.pendingLaunch.splice(0);
        for (const a of again) this.launch(a);
      }
    } catch (e) {
      this.log().error({ err: e }, 'scheduler tick failed');
    } finally {
      this.ticking = false;
      if (this.tickAgain) {
        this.tickAgain = false;
        this.scheduleTick();
      } else if (this.isClean() && this.pendingLaunch.length === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }

  private async admitPending(now: number): Promise<void> {
    while (this.toAdmit.length > 0) {
      const id = this.toAdmit.shift()!;
      let job = this.jobs.get(id);
      if (!job) {
        const rec = await this.findJob(id);
        if (!rec) continue;
        job = this.addJob(rec.job, rec.tasks);
      }
      if (job.rec.state !== 'SUBMITTED') continue;
      for (const task of job.topo) this.evaluateTask(task, now);
      for (const task of job.order) this.rollTask(task, now);
      this.rollJob(job, now);
    }
  }

  private async findJob(id: string): Promise<{ job: JobRecord; tasks: TaskRecord[] } | undefined> {
    const tasks = await this.o.store.getTasks(id);
    if (tasks.length === 0) return undefined;
    const job = await this.o.store.getJobById(id);
    return job ? { job, tasks } : undefined;
  }

  /** Decide PENDING / RUNNABLE / FAILED (upstream can never satisfy) for a task that still waits. */
  private evaluateTask(task: TaskRt, now: number): void {
    if (!task.hasWaiting()) return;
    const w = task.rec.wait.state;
    if (!isWaiting(w) && task.waitingRows.length === 0) return;
    const ups = task.job.upstream.get(task.name)!;
    const rule = task.job.rec.spec.dependOn;
    const unmet: string[] = [];
    for (const u of ups) {
      const finished = u.rec.counts && isFinished(rollUp(u.rec.counts));
      if (!finished) {
        unmet.push(u.name);
        continue;
      }
      if (!upstreamSatisfies(rule, u.rec.counts)) {
        const reason = 'DependenceFailed';
        const detail = `upstream task ${u.name} finished ${rollUp(u.rec.counts)} and ${rule} needs it ${describeRule(rule)}; this task will not run`;
        moveWaiting(task, 'FAILED', reason, detail, now, this.dirty);
        this.unready(task);
        return;
      }
    }
    if (unmet.length > 0) {
      const detail = `waiting for task${unmet.length > 1 ? 's' : ''} ${unmet.join(', ')} ${describeRule(rule)} (${rule})`;
      moveWaiting(task, 'PENDING', 'WaitingForDependence', detail, now, this.dirty);
      this.unready(task);
    } else {
      if (task.rec.wait.state !== 'RUNNABLE') {
        moveWaiting(task, 'RUNNABLE', 'WaitingForCapacity', 'waiting for a free slot', now, this.dirty);
      }
      this.refreshReady(task);
    }
  }

  private refreshReady(task: TaskRt): void {
    const want = task.rec.wait.state === 'RUNNABLE' && task.hasWaiting();
    if (want) this.reasonCheck.add(task);
    if (want && !task.inReady) {
      task.inReady = true;
      if (task.envId !== undefined) this.readyEnv += 1;
      // keep `ready` sorted: priority desc, then submission order, then task order
      let i = this.ready.length;
      while (i > 0 && readyBefore(task, this.ready[i - 1]!)) i--;
      this.ready.splice(i, 0, task);
    } else if (!want && task.inReady) {
      this.unready(task);
    }
  }

  private unready(task: TaskRt): void {
    if (!task.inReady) return;
    task.inReady = false;
    if (task.envId !== undefined) this.readyEnv -= 1;
    const i = this.ready.indexOf(task);
    if (i >= 0) this.ready.splice(i, 1);
  }

  private dispatch(now: number): AttemptRt[] {
    const launches: AttemptRt[] = [];
    let free = this.o.slots - this.anonRunning;
    // Anonymous tasks start in priority order: once one does not fit (no slot, or its instance type's
    // resources are not free), those after it wait too, so a large instance is never starved by a
    // stream of small ones. A type this host can never hold does not block the others.
    let blocked = free <= 0;
    for (let i = 0; i < this.ready.length; ) {
      const task = this.ready[i]!;
      if (task.envId === undefined && blocked) {
        // only tasks of named environments can still start (O(1) per tick however many tasks wait,
        // instead of a walk over all of them)
        if (this.readyEnv === 0) break;
        i++;
        continue;
      }
      const cap = task.spec.maxConcurrent;
      const before = launches.length;
      while (task.hasWaiting() && (cap === 0 || task.running.size < cap)) {
        if (task.envId !== undefined) {
          const node = this.o.pools.freeNode(task.envId);
          if (!node) break;
          launches.push(this.startAttempt(task, now, node));
        } else {
          const r = task.resources!;
          if (free <= 0 || !this.o.capacity.fits(r)) {
            blocked = this.o.capacity.everFits(r);
            break;
          }
          launches.push(this.startAttempt(task, now, null));
          free -= 1;
        }
      }
      if (!task.hasWaiting()) this.unready(task);
      else i++;
      if (launches.length > before) {
        this.rollTask(task, now);
        this.rollJob(task.job, now);
      }
    }
    this.anonBlocked = blocked;
    return launches;
  }

  private startAttempt(task: TaskRt, now: number, node: NodeRt | null): AttemptRt {
    let inst = task.waitingRows.shift();
    if (!inst) {
      let idx = task.rec.cursor;
      while (task.ahead.has(idx)) {
        task.ahead.delete(idx);
        idx++;
      }
      inst = this.materialise(task, idx);
      task.rec.cursor = idx + 1;
      while (task.ahead.has(task.rec.cursor)) {
        task.ahead.delete(task.rec.cursor);
        task.rec.cursor++;
      }
    }
    setState(task, inst, 'STARTING', this.dirty);
    inst.attempt += 1;
    inst.launchTime = now;
    inst.runningTime = null;
    inst.endTime = null;
    inst.exitCode = null;
    inst.stateReason = '';
    inst.stateDetail = 'starting';
    inst.handle = null;
    // an anonymous environment gets a node created for the task when it needs one more (COMPAT: the
    // node is released when its attempt ends, so a finished instance shows none, as in the seed)
    inst.nodeId = node ? node.rec.instanceId : (task.idleAnonNodes.pop() ?? newId('ins'));
    const key = attemptKey(inst);
    const a: AttemptRt = {
      key, task, inst, handle: null, kill: null, hardKillAt: null, launched: false, node, held: node ? null : task.resources,
      deadline: now + task.spec.timeoutSec * 1000,
    };
    if (node) node.busy = a;
    else this.anonRunning += 1;
    if (a.held) this.o.capacity.take(a.held);
    task.running.set(inst.index, a);
    this.reasonCheck.add(task);
    this.byKey.set(key, a);
    this.runningCount += 1;
    this.dirtyAttempts.set(key, {
      jobId: inst.jobId, taskName: inst.taskName, index: inst.index, attempt: inst.attempt,
      launchTime: now, runningTime: null, endTime: null, exitCode: null, signal: null, reason: '', nodeId: inst.nodeId,
    });
    return a;
  }

  /** Create the row of an instance that had none (it takes the task's shared wait state). */
  private materialise(task: TaskRt, index: number): InstanceRecord {
    const w = task.rec.wait;
    return {
      jobId: task.job.id, taskName: task.name, index, state: w.state, attempt: 0, retryBase: 0, exitCode: null,
      stateReason: w.reason, stateDetail: w.detail, nodeId: null, createTime: task.rec.createTime,
      launchTime: null, runningTime: null, endTime: w.endTime, handle: null,
    };
  }

  private launch(a: AttemptRt): void {
    if (a.kill) {
      // stopped before it started: never spawn
      queueMicrotask(() => this.onExit(a.key, { exitCode: null, signal: null }));
      return;
    }
    const { inst, task } = a;
    const logs = this.logPaths(inst);
    if (!task.logDirReady) {
      fs.mkdirSync(path.dirname(logs.stdout), { recursive: true });
      task.logDirReady = true;
    }
    const env: Record<string, string> = {};
    for (const v of task.spec.envVars) env[v.Name] = v.Value;
    // COMPAT: the BATCH_* variables of §i.1 win over task EnvVars of the same name.
    env.BATCH_JOB_ID = inst.jobId;
    env.BATCH_TASK_NAME = inst.taskName;
    env.BATCH_TASK_INSTANCE_NUM = String(task.rec.instanceNum);
    env.BATCH_TASK_INSTANCE_INDEX = String(inst.index);
    const r = a.node ? { cpus: a.node.rec.cpu, memGiB: a.node.rec.mem } : a.held;
    this.o.executor
      .launch({
        key: a.key,
        command: task.spec.command,
        env,
        account: task.job.rec.account,
        resources: r ? { cpus: r.cpus, memoryBytes: r.memGiB * 2 ** 30 } : undefined,
        cwd: this.workDirOf(inst),
        stdoutPath: logs.stdout,
        stderrPath: logs.stderr,
      })
      .then(
        (handle) => {
          a.handle = handle;
          a.launched = true;
          if (this.byKey.get(a.key) !== a) return; // already ended
          const now = this.o.clock.now();
          if (inst.state === 'STARTING') {
            setState(task, inst, 'RUNNING', this.dirty);
            inst.runningTime = now;
            inst.stateDetail = 'running';
          }
          inst.handle = handle;
          this.dirty.instances.set(instKey(inst.jobId, inst.taskName, inst.index), inst);
          const rec = this.attemptRecord(a);
          rec.runningTime = inst.runningTime;
          if (a.kill) {
            this.o.executor.kill(handle, 'SIGTERM');
            a.hardKillAt = now + (this.o.killGraceMs ?? 5000);
            this.deadlines.push(a.hardKillAt, a);
          } else {
            this.deadlines.push(a.deadline, a);
          }
          this.armDeadlines();
          this.rollTask(task, now);
          this.rollJob(task.job, now);
          this.scheduleTick();
        },
        (err: unknown) => {
          this.log().warn({ err, jobId: inst.jobId, taskName: inst.taskName, index: inst.index }, 'launch failed');
          a.kill = a.kill ?? {
            reason: 'LaunchFailed',
            detail: `the attempt could not be started: ${err instanceof Error ? err.message : String(err)}`,
            final: false,
          };
          this.onExit(a.key, { exitCode: null, signal: null });
        },
      );
  }

  private logPaths(inst: { jobId: string; taskName: string; index: number; attempt: number }): { stdout: string; stderr: string } {
    return this.o.logs.attemptFiles(inst.jobId, inst.taskName, inst.index, inst.attempt);
  }

  private attemptRecord(a: AttemptRt): AttemptRecord {
    let rec = this.dirtyAttempts.get(a.key);
    if (!rec) {
      const inst = a.inst;
      rec = {
        jobId: inst.jobId, taskName: inst.taskName, index: inst.index, attempt: inst.attempt,
        launchTime: inst.launchTime ?? this.o.clock.now(), runningTime: inst.runningTime, endTime: null,
        exitCode: null, signal: null, reason: '', nodeId: inst.nodeId,
      };
      this.dirtyAttempts.set(a.key, rec);
    }
    return rec;
  }

  // ---------------------------------------------------------------- exits

  private onExit(key: string, exit: ExitInfo): void {
    const a = this.byKey.get(key);
    if (!a) return;
    this.byKey.delete(key);
    const { task, inst } = a;
    this.reasonCheck.add(task);
    this.runningCount -= 1;
    if (a.node) {
      const node = a.node;
      void this.o.pools.release(node).then(
        () => this.scheduleTick(),
        (e: unknown) => this.log().error({ err: e }, 'releasing a compute node failed'),
      );
    } else {
      this.anonRunning -= 1;
      if (inst.nodeId) task.idleAnonNodes.push(inst.nodeId);
    }
    if (a.held) this.o.capacity.release(a.held);
    this.deadlines.remove(a);
    const finish = async () => {
      const logs = this.logPaths(inst);
      if (this.o.afterAttempt && a.launched) {
        try {
          await this.o.afterAttempt({
            jobId: inst.jobId, taskName: inst.taskName, index: inst.index, attempt: inst.attempt,
            spec: task.spec, stdoutFile: logs.stdout, stderrFile: logs.stderr,
          });
        } catch (e) {
          this.log().warn({ err: e, jobId: inst.jobId, taskName: inst.taskName, index: inst.index }, 'log redirect failed');
        }
      }
      this.recordExit(a, exit);
    };
    void finish().catch((e: unknown) => this.log().error({ err: e }, 'recording an exit failed'));
  }

  private recordExit(a: AttemptRt, exit: ExitInfo): void {
    const { task, inst } = a;
    // until now the instance showed STARTING/RUNNING: it was one of the task's running attempts (for
    // TerminateJob, TerminateTaskInstance, MaxConcurrentNum and NextAction), though its slot was free
    task.running.delete(inst.index);
    this.reasonCheck.add(task);
    const now = Math.max(this.o.clock.now(), inst.runningTime ?? 0, inst.launchTime ?? 0);
    if (inst.state === 'STARTING') {
      setState(task, inst, 'RUNNING', this.dirty);
      inst.runningTime = inst.runningTime ?? now;
    }
    const att = this.attemptRecord(a);
    att.runningTime = inst.runningTime;
    att.endTime = now;
    att.exitCode = exit.exitCode;
    att.signal = exit.signal;
    inst.exitCode = exit.exitCode;
    inst.endTime = now;
    inst.handle = null;
    if (!a.node) inst.nodeId = null; // the anonymous node is released
    if (a.handle) this.toForget.push(a.handle);
    const ok = exit.exitCode === 0 && !a.kill;
    if (a.kill?.requeue) {
      // its node was taken away: the instance waits again without using a retry
      setState(task, inst, 'RUNNABLE', this.dirty);
      inst.retryBase += 1;
      inst.stateReason = a.kill.reason;
      inst.stateDetail = a.kill.detail;
      inst.exitCode = null;
      inst.endTime = null;
      att.reason = a.kill.detail;
      task.waitingRows.push(inst);
      this.refreshReady(task);
    } else if (ok) {
      setState(task, inst, 'SUCCEED', this.dirty);
      inst.stateReason = '';
      inst.stateDetail = 'successful';
      att.reason = '';
    } else {
      const { reason, detail } = a.kill ?? describeExit(exit, a);
      att.reason = detail;
      const retriesUsed = inst.attempt - inst.retryBase - 1;
      const canRetry = !(a.kill?.final ?? false) && retriesUsed < task.spec.maxRetry && !task.job.rec.nextAction;
      if (canRetry) {
        setState(task, inst, 'RUNNABLE', this.dirty);
        inst.stateReason = reason;
        inst.stateDetail = `attempt ${inst.attempt} failed (${detail}); retry ${retriesUsed + 1} of ${task.spec.maxRetry} waits for a slot`;
        inst.exitCode = null;
        inst.endTime = null;
        task.waitingRows.push(inst);
        if (task.rec.wait.state !== 'RUNNABLE' && task.implicitCount === 0) task.rec.wait.state = 'RUNNABLE';
        this.refreshReady(task);
      } else {
        const interrupt = !a.kill && (task.spec.failedAction === 'INTERRUPT' || task.spec.failedAction === 'FAST_INTERRUPT');
        setState(task, inst, interrupt ? 'FAILED_INTERRUPTED' : 'FAILED', this.dirty);
        inst.stateReason = reason;
        inst.stateDetail = detail;
      }
    }
    this.dirty.instances.set(instKey(inst.jobId, inst.taskName, inst.index), inst);
    this.rollTask(task, now);
    this.rollJob(task.job, now);
    this.scheduleTick();
  }

  /** An instance that ends without running (terminated while waiting). */
  private endWithoutRun(task: TaskRt, inst: InstanceRecord, to: State, reason: string, detail: string, now: number): void {
    setState(task, inst, to, this.dirty);
    inst.stateReason = reason;
    inst.stateDetail = detail;
    inst.endTime = now;
    inst.exitCode = null;
  }

  private async failInterrupted(task: TaskRt, reason: string, detail: string): Promise<void> {
    if (task.rec.counts.FAILED_INTERRUPTED === 0) return;
    const rows = await this.o.store.listInstanceRows(
      task.job.id, task.name, ['FAILED_INTERRUPTED'], 0, task.rec.instanceNum, 0, task.rec.instanceNum,
    );
    for (const r of rows) {
      const k = instKey(r.jobId, r.taskName, r.index);
      const cur = this.dirty.instances.get(k) ?? r;
      if (cur.state !== 'FAILED_INTERRUPTED') continue;
      setState(task, cur, 'FAILED', this.dirty);
      cur.stateReason = reason;
      cur.stateDetail = detail;
    }
  }

  private stopAttempt(a: AttemptRt, reason: string, detail: string, final: boolean, requeue = false): void {
    // COMPAT: a final stop (TerminateJob, TerminateTaskInstance) replaces one that is not (Timeout, a
    // terminated node, a lost attempt): an instance that still shows STARTING/RUNNING says Terminated,
    // also when its attempt was already being killed or has exited with its end not recorded yet.
    if (a.kill && (a.kill.final || !final)) return;
    a.kill = { reason, detail, final, requeue };
    // signal it unless it has not started (launch does then), has exited, or is being stopped already
    if (a.handle && this.byKey.get(a.key) === a && a.hardKillAt === null) {
      this.o.executor.kill(a.handle, 'SIGTERM');
      a.hardKillAt = this.o.clock.now() + (this.o.killGraceMs ?? 5000);
      this.deadlines.remove(a);
      this.deadlines.push(a.hardKillAt, a);
      this.armDeadlines();
    }
  }

  // ---------------------------------------------------------------- deadlines (timeouts, hard kills)

  private armDeadlines(): void {
    const next = this.deadlines.peekTime();
    if (next === undefined) {
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
      this.deadlineTimer = null;
      this.deadlineAt = Infinity;
      return;
    }
    if (this.deadlineTimer && next >= this.deadlineAt) return;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineAt = next;
    const delay = Math.max(0, Math.min(next - this.o.clock.now(), 2_147_000_000));
    this.deadlineTimer = setTimeout(() => this.fireDeadlines(), delay);
    this.deadlineTimer.unref();
  }

  private fireDeadlines(): void {
    this.deadlineTimer = null;
    this.deadlineAt = Infinity;
    const now = this.o.clock.now();
    for (;;) {
      const t = this.deadlines.peekTime();
      if (t === undefined || t > now) break;
      const a = this.deadlines.pop()!;
      if (this.byKey.get(a.key) !== a || !a.handle) continue;
      if (a.hardKillAt !== null) {
        this.o.executor.kill(a.handle, 'SIGKILL');
      } else {
        const secs = a.task.spec.timeoutSec;
        a.kill = { reason: 'Timeout', detail: `the attempt ran longer than Timeout (${secs} s) and was killed`, final: false };
        this.o.executor.kill(a.handle, 'SIGKILL');
      }
    }
    this.armDeadlines();
  }

  // ---------------------------------------------------------------- roll-ups

  private rollTask(task: TaskRt, now: number): void {
    const state = rollUp(task.rec.counts);
    if (state !== task.rec.state) {
      const wasActive = isActive(task.rec.state);
      task.rec.state = state;
      this.dirty.tasks.add(task);
      if (isFinished(state)) {
        task.rec.endTime = now;
        this.unready(task);
        if (wasActive) {
          for (const d of task.job.downstream.get(task.name)!) {
            this.evaluateTask(d, now);
            this.rollTask(d, now);
          }
        }
      } else {
        task.rec.endTime = null;
      }
    }
  }

  private rollJob(job: JobRt, now: number): void {
    const c = zeroCounts();
    for (const t of job.order) c[t.rec.state] += 1;
    const state = job.rec.state === 'SUBMITTED' && job.order.every((t) => t.rec.state === 'SUBMITTED') ? 'SUBMITTED' : rollUp(c);
    const running = job.order.some((t) => t.running.size > 0);
    if (job.rec.nextAction === 'TERMINATING' && !running) {
      job.rec.nextAction = '';
      this.dirty.jobs.add(job);
    }
    if (state !== job.rec.state) {
      job.rec.state = state;
      this.dirty.jobs.add(job);
      if (isFinished(state)) {
        job.rec.endTime = now;
        const failedTasks = job.order.filter((t) => t.rec.state !== 'SUCCEED').map((t) => t.name);
        job.rec.stateReason = state === 'SUCCEED' ? '' : `task${failedTasks.length > 1 ? 's' : ''} ${failedTasks.join(', ')} did not succeed`;
      } else {
        job.rec.endTime = null;
      }
    }
    if (isFinished(job.rec.state) && !running && job.rec.nextAction === '') {
      // nothing left to do for this job: drop it from memory once its last changes are written
      this.finishedJobs.add(job);
    }
  }

  private updateWaitReasons(): void {
    const free = this.o.slots - this.anonRunning;
    // the texts carry no live figures: only a change of what blocks anonymous tasks means a walk over
    // every waiting task
    const state = `${free <= 0}|${this.anonBlocked}`;
    const all = this.reasonsAll || this.lastCapacity !== state;
    this.reasonsAll = false;
    this.lastCapacity = state;
    const tasks: Iterable<TaskRt> = all ? this.ready : this.reasonCheck;
    for (const task of tasks) {
      if (!task.inReady) continue;
      const cap = task.spec.maxConcurrent;
      let reason: string;
      let detail: string;
      if (cap > 0 && task.running.size >= cap) {
        reason = 'MaxConcurrentNumReached';
        detail = `MaxConcurrentNum is ${cap} and ${task.running.size} instances of this task are starting or running`;
      } else if (task.envId !== undefined) {
        reason = 'WaitingForComputeNode';
        detail = this.o.pools.waitReason(task.envId);
      } else if (free <= 0) {
        reason = 'WaitingForCapacity';
        detail = `no free capacity: all ${this.o.slots} local slots are busy`;
      } else if (this.anonBlocked || !this.o.capacity.everFits(task.resources!)) {
        const r = task.resources!;
        const c = this.o.capacity;
        const type = task.instanceType ?? 'its instance type';
        reason = 'WaitingForCapacity';
        if (!c.everFits(r)) detail = `${type} needs ${vcpus(r.cpus)} and ${gib(r.memGiB)}: more than this host can promise (${c.describeTotal()}); it runs once --overcommit allows it`;
        else if (!c.fits(r)) detail = `no free capacity: ${type} needs ${vcpus(r.cpus)} and ${gib(r.memGiB)}, and this host's ${c.describeTotal()} are held by compute nodes and running instances`;
        else detail = 'no free capacity: instances submitted earlier or with a higher priority wait for the host\'s vCPUs and memory first';
      } else {
        continue;
      }
      const w = task.rec.wait;
      if (w.reason !== reason || w.detail !== detail) {
        w.reason = reason;
        w.detail = detail;
        this.dirty.tasks.add(task);
      }
    }
    this.reasonCheck.clear();
  }

  // ---------------------------------------------------------------- persistence

  private isClean(): boolean {
    return (
      this.dirty.jobs.size === 0 && this.dirty.tasks.size === 0 && this.dirty.instances.size === 0 &&
      this.dirtyAttempts.size === 0
    );
  }

  /** Write every pending change in one batch. Returns false (and keeps the changes) if the store failed. */
  private async flush(): Promise<boolean> {
    while (this.flushPromise) await this.flushPromise;
    if (this.isClean()) return true;
    const batch: WriteBatch = {
      jobs: [...this.dirty.jobs].map((j) => ({ ...j.rec })),
      tasks: [...this.dirty.tasks].map((t) => ({ ...t.rec, counts: { ...t.rec.counts }, wait: { ...t.rec.wait } })),
      instances: [...this.dirty.instances.values()].map((i) => ({ ...i })),
      attempts: [...this.dirtyAttempts.values()].map((a) => ({ ...a })),
    };
    const forget = this.toForget;
    const dirtyJobs = new Set(this.dirty.jobs);
    const dirtyTasks = new Set(this.dirty.tasks);
    const dirtyInst = new Map(this.dirty.instances);
    const dirtyAtt = this.dirtyAttempts;
    this.dirty.jobs.clear();
    this.dirty.tasks.clear();
    this.dirty.instances.clear();
    this.dirtyAttempts = new Map();
    this.toForget = [];
    const p = this.o.store.applyBatch(batch).then(
      () => {
        this.flushFailures = 0;
        for (const h of forget) this.forgetHandle(h);
        for (const job of this.finishedJobs) {
          if (this.dirty.jobs.has(job) || job.order.some((t) => this.dirty.tasks.has(t) || t.running.size > 0)) continue;
          if (!isFinished(job.rec.state) || job.rec.nextAction !== '') continue;
          this.jobs.delete(job.id);
        }
        this.finishedJobs.clear();
        return true;
      },
      (err: unknown) => {
        // keep everything for the next try: nothing is lost, the store catches up when it recovers
        this.flushFailures += 1;
        this.log().error({ err, failures: this.flushFailures }, 'store write failed; will retry');
        for (const j of dirtyJobs) this.dirty.jobs.add(j);
        for (const t of dirtyTasks) this.dirty.tasks.add(t);
        for (const [k, v] of dirtyInst) if (!this.dirty.instances.has(k)) this.dirty.instances.set(k, v);
        for (const [k, v] of dirtyAtt) if (!this.dirtyAttempts.has(k)) this.dirtyAttempts.set(k, v);
        this.toForget.push(...forget);
        setTimeout(() => this.scheduleTick(), FLUSH_RETRY_MS).unref();
        return false;
      },
    );
    this.flushPromise = p;
    try {
      return await p;
    } finally {
      this.flushPromise = null;
    }
  }

  /** For commands: make their changes durable before the API answers. */
  private async flushSoon(): Promise<void> {
    const ok = await this.flush();
    if (!ok) throw new SchedulerError('the store is not writable right now; the change will be written when it recovers');
  }

  private forgetHandle(h: AttemptHandle): void {
    const ex = this.o.executor as Executor & { forget?: (h: AttemptHandle) => void };
    try {
      ex.forget?.(h);
    } catch (e) {
      this.log().warn({ err: e }, 'forget failed');
    }
  }

  private log(): Logger {
    return this.o.logger;
  }
}

function readyBefore(a: TaskRt, b: TaskRt): boolean {
  const pa = a.job.rec.priority, pb = b.job.rec.priority;
  if (pa !== pb) return pa > pb;
  if (a.job.seq !== b.job.seq) return a.job.seq < b.job.seq;
  return a.rec.ord < b.rec.ord;
}

export function attemptKey(i: { jobId: string; taskName: string; index: number; attempt: number }): string {
  return `${i.jobId}.${i.taskName}.${i.index}.${i.attempt}`;
}

function describeExit(exit: ExitInfo, a: AttemptRt): { reason: string; detail: string } {
  if (exit.oom) {
    const type = a.node?.rec.instanceType ?? a.task.instanceType;
    const mem = a.node?.rec.mem ?? a.held?.memGiB;
    const limit = mem === undefined ? 'its memory limit' : `the ${gib(mem)} of memory of its instance type${type ? ` ${type}` : ''}`;
    return { reason: 'OutOfMemory', detail: `the attempt needed more than ${limit} and was killed for memory (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`})` };
  }
  if (exit.signal) return { reason: `Killed by signal ${exit.signal}`, detail: `the application was killed by signal ${exit.signal}` };
  if (exit.exitCode === null) return { reason: 'Lost', detail: 'the attempt ended without an exit status' };
  return { reason: `Exit code ${exit.exitCode}`, detail: `the application exited with code ${exit.exitCode}` };
}
