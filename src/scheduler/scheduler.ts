// The scheduler: the single writer of job, task and instance states once a job is submitted. A facade
// over its parts — core.ts (state, loading), ready-queue.ts (order, wait reasons), attempts.ts (the
// executor), rollup.ts, commands.ts, write-behind.ts (persistence). Event-driven: submissions, exits
// and commands schedule one tick; a tick admits new jobs, fills free capacity in priority order and
// writes every change of the tick in one store batch. A launch is made durable (STARTING, attempt n)
// before the executor is asked, so a crash can never make an attempt run twice unseen. It schedules
// only while it holds the store's leadership lease, and every write carries the lease's epoch;
// commands arrive through the store (inbox.ts).
import { isActive, isFinished, isWaiting } from '../domain/states.ts';
import type { Handle, RunningAttempt } from '../executors/types.ts';
import type { TaskRecord } from '../store/types.ts';
import { Attempts } from './attempts.ts';
import { Commands } from './commands.ts';
import { Core, type SchedulerOptions } from './core.ts';
import { Inbox } from './inbox.ts';
import type { Timer } from '../lib/clock.ts';
import type { Command, CommandRecord, Lease } from '../store/coordination.ts';
import type { CommandOutcome, CommandSender, SchedulerGauges, SchedulerView } from './ports.ts';
import { evaluateTask, rollBoth, rollJob, rollTask } from './rollup.ts';
import type { AttemptRt, TaskRt } from './runtime.ts';
import { WriteBehind } from './write-behind.ts';

export type { SchedulerOptions } from './core.ts';

/** How long the lease lasts without renewal, how often it is renewed, and how often a scheduler that
 *  waits for it asks again. A leader that dies is replaced once its lease ran out: within TTL + retry
 *  (docs/deploy.md); a leader that cannot renew stops one renewal before its lease runs out. */
export const LEASE_TTL_MS = 3_000;
export const LEASE_RENEW_MS = 1_000;
export const LEASE_RETRY_MS = 500;
/** Instances one tick submits to engine queues (a tick stays short however large the task; the starts
 *  it causes schedule the next). */
const QUEUE_STARTS_PER_TICK = 10_000;

export class Scheduler implements CommandSender, SchedulerView {
  private readonly core: Core;
  private readonly attempts: Attempts;
  private readonly commands: Commands;
  private readonly toAdmit: string[] = [];
  /** Launches decided while the store could not be written: started once it can. */
  private readonly pendingLaunch: AttemptRt[] = [];
  private tickScheduled = false;
  private ticking = false;
  private tickAgain = false;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly inbox: Inbox;
  private lease: Lease | undefined;
  private leaseTimer: Timer | null = null;

  constructor(o: SchedulerOptions) {
    const wb = new WriteBehind(o.store, o.clock, o.logger, {
      written: (released) => this.written(released),
      retry: () => this.scheduleTick(),
      epoch: () => this.lease?.epoch,
      fenced: (err) => this.lostLease(err.message, true),
      timed: (seconds, ok) => o.metrics?.storeWrite(seconds, ok),
    });
    this.core = new Core(o, wb, () => this.scheduleTick());
    o.pools.watchers = (envId) => this.core.nodeWatchers(envId);
    this.attempts = new Attempts(this.core);
    this.commands = new Commands(this.core, this.attempts);
    this.inbox = new Inbox(o.store, o.clock, o.logger, {
      apply: (c) => this.apply(c),
      persist: (ids, refused) => {
        wb.completedCommands.push(...ids);
        wb.refusedCommands.push(...refused);
        this.scheduleTick();
        return wb.flushSoon();
      },
      epoch: () => this.lease?.epoch,
    });
  }

  /** Leave a command for the scheduler (through the store) and wait until it is carried out. */
  send(cmd: Command): Promise<CommandOutcome> {
    return this.inbox.send(cmd);
  }

  /** Who this scheduler is in the leadership record. */
  private get holder(): string {
    return this.core.o.holder ?? 'openbatch';
  }

  /** The lease: taken before anything is written (or given, by a replica that took it), renewed while
   *  it schedules. */
  private async takeLease(given?: Lease): Promise<void> {
    const { store, clock } = this.core.o;
    this.lease = given;
    while (!this.lease) {
      this.lease = await store.acquireLease(this.holder, LEASE_TTL_MS, clock.now());
      if (this.lease) break;
      if (this.closed) throw new Error('the scheduler was closed while it waited for the lease');
      const cur = await store.currentLease();
      this.core.log.info({ holder: cur?.holder, epoch: cur?.epoch }, 'another scheduler holds the lease; waiting for it');
      await new Promise<void>((r) => clock.setTimer(LEASE_RETRY_MS, r));
    }
    this.core.o.pools.epoch = this.lease.epoch;
    this.renewLater();
  }

  private renewLater(): void {
    this.leaseTimer = this.core.o.clock.setTimer(LEASE_RENEW_MS, () => {
      const lease = this.lease;
      if (!lease || this.closed) return;
      const { store, clock } = this.core.o;
      store.renewLease(lease, LEASE_TTL_MS, clock.now()).then(
        (l) => {
          if (!l) return this.lostLease(`the lease of epoch ${lease.epoch} was taken over`, true);
          this.lease = l;
          this.renewLater();
        },
        (e: unknown) => {
          // the store is unreachable: keep trying while the lease may still be ours; once it has
          // expired another scheduler may hold it, and this one must not write
          this.core.log.warn({ err: e }, 'renewing the leadership lease failed; will retry');
          if (clock.now() + LEASE_RENEW_MS >= lease.expiresAt) this.lostLease('the lease ran out while the store could not be reached', false);
          else this.renewLater();
        },
      );
    });
  }

  /** Another scheduler leads now (takenOver), or may soon: stop scheduling at once (what runs is the new
   *  leader's to adopt). */
  private lostLease(why: string, takenOver: boolean): void {
    if (this.closed) return;
    this.core.log.error({ why }, 'leadership lost: this scheduler stops');
    queueMicrotask(() => this.core.o.onLost?.(why, takenOver));
    this.lease = undefined;
    this.closed = true;
    this.leaseTimer?.cancel();
    this.attempts.close();
    this.inbox.close();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Carry out one command from the store. */
  private async apply(c: CommandRecord): Promise<CommandOutcome> {
    switch (c.kind) {
      case 'submitted':
        this.toAdmit.push(c.jobId);
        break;
      case 'terminate-job':
        await this.commands.terminateJob(c.jobId);
        break;
      case 'terminate-instance':
        await this.commands.terminateInstance(c.jobId, c.taskName, c.index);
        break;
      case 'retry-job':
        await this.commands.retryJob(c.jobId);
        break;
      case 'delete-job': {
        if (!(await this.commands.release(c.jobId))) return { done: false, reason: 'the job is still being processed' };
        await this.core.o.store.deleteJob(c.jobId, this.lease?.epoch);
        // what the job's attempts left (logs, working directories) goes too, in the background
        void this.core.o.executor.logs.removeJob(c.jobId).catch((e: unknown) => this.core.log.warn({ err: e, jobId: c.jobId }, 'removing a job\'s logs failed'));
        break;
      }
      case 'env-changed':
        await this.commands.envChanged(c.envId);
        break;
      case 'terminate-node':
        this.commands.terminateNode(c.instanceId);
        break;
    }
    return { done: true };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Load every active job from the store, re-adopt running attempts, and start scheduling: with the
   *  lease given (taken by the replica), or once this scheduler has taken it. */
  async start(lease?: Lease): Promise<void> {
    const core = this.core;
    await this.takeLease(lease);
    await core.o.pools.load();
    const snap = await core.o.store.loadActive();
    const byJob = new Map<string, TaskRecord[]>();
    for (const t of snap.tasks) {
      const list = byJob.get(t.jobId) ?? [];
      list.push(t);
      byJob.set(t.jobId, list);
    }
    for (const j of snap.jobs) core.addJob(j, byJob.get(j.id) ?? []);
    const now = core.now();
    const adopt: Parameters<Attempts['readopt']>[0] = [];
    for (const inst of snap.instances) {
      const task = core.jobs.get(inst.jobId)?.tasks.get(inst.taskName);
      if (!task) continue;
      if (inst.index >= task.rec.cursor) task.ahead.add(inst.index);
      if (isWaiting(inst.state)) task.waitingRows.push(inst);
      else if (inst.state === 'STARTING' || inst.state === 'RUNNING') adopt.push({ task, inst });
    }
    await this.attempts.readopt(adopt, now);
    for (const job of core.jobs.values()) {
      if (job.rec.state === 'SUBMITTED') this.toAdmit.push(job.id);
      for (const t of job.order) core.ready.refresh(t);
    }
    core.log.info({ jobs: core.jobs.size, running: this.attempts.count, epoch: this.lease?.epoch }, 'scheduler started');
    this.inbox.start();
    this.scheduleTick();
  }

  /** Stop scheduling and flush what is pending. Running attempts keep running (re-adopted on restart). */
  async close(): Promise<void> {
    this.closed = true;
    this.leaseTimer?.cancel();
    this.inbox.close();
    this.attempts.close();
    // a command being carried out (e.g. an env refresh) writes with the lease: let it end first, for a
    // while at most (a store that does not answer would hold it)
    await Promise.race([this.inbox.settled(), new Promise((r) => setTimeout(r, 2000).unref())]);
    for (let i = 0; i < 50 && this.ticking; i++) await new Promise((r) => setTimeout(r, 20));
    await this.core.wb.flush().catch((e: unknown) => this.core.log.error({ err: e }, 'final flush failed'));
    // handed back, so that another replica (or the next start) need not wait for it to run out
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await this.core.o.store.releaseLease(lease).catch((e: unknown) => this.core.log.warn({ err: e }, 'releasing the lease failed'));
  }

  /** The lease this scheduler holds (undefined: it does not lead, or no more). */
  get currentLease(): Lease | undefined {
    return this.closed ? undefined : this.lease;
  }

  /** Resolves when no command is being carried out, nothing is dirty and no tick is pending (tests
   *  and graceful shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.closed) return; // stopped (closed, or its lease lost): it will write nothing more
      await this.inbox.settled();
      if (!this.tickScheduled && !this.ticking && this.core.wb.isClean()) {
        if (!this.inbox.busy()) return;
        continue;
      }
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  stats(): { activeJobs: number; running: number; slots: number; readyTasks: number } {
    const c = this.core;
    return { activeJobs: c.jobs.size, running: this.attempts.count, slots: c.anon.total, readyTasks: c.ready.tasks.length };
  }

  /** Instances and jobs of the active jobs by state, the ready instances waiting for capacity, local
   *  slots and compute nodes (read when /metrics is scraped; O(tasks and nodes in memory)). */
  gauges(): SchedulerGauges {
    const instances: Record<string, number> = {};
    const jobs: Record<string, number> = {};
    for (const job of this.core.jobs.values()) {
      if (!isActive(job.rec.state)) continue;
      jobs[job.rec.state] = (jobs[job.rec.state] ?? 0) + 1;
      for (const t of job.order) {
        for (const [state, n] of Object.entries(t.rec.counts)) if (n > 0) instances[state] = (instances[state] ?? 0) + n;
      }
    }
    let queueDepth = 0;
    for (const t of this.core.ready.tasks) queueDepth += t.rec.counts.RUNNABLE;
    const anon = this.core.anon;
    const slots = anon.capacity.kind === 'slots' ? { total: anon.capacity.slots, used: anon.running } : undefined;
    return { instances, jobs, queueDepth, slots, nodes: this.core.o.pools.census() };
  }

  /** What runs now (for the monitor): one entry per started attempt. */
  runningAttempts(): RunningAttempt[] {
    return this.attempts.running();
  }

  /** The nodes (instance ids) running an attempt now (TaskInstanceNumAvailable). */
  async busyNodes(): Promise<ReadonlySet<string>> {
    return this.core.o.pools.busyNodes();
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
    const core = this.core;
    const t0 = performance.now();
    try {
      const now = core.now();
      await this.admitPending(now);
      const launches = this.dispatch(now);
      core.ready.updateWaitReasons(core.wb.dirty, core.anon, core.host, core.o.pools);
      if (launches.length > 0 || !core.wb.isClean()) {
        const ok = await core.wb.flush();
        if (ok) this.attempts.launch(launches);
        else this.pendingLaunch.push(...launches);
      }
      if (this.pendingLaunch.length > 0 && core.wb.isClean()) this.attempts.launch(this.pendingLaunch.splice(0));
    } catch (e) {
      core.log.error({ err: e }, 'scheduler tick failed');
    } finally {
      core.o.metrics?.tick((performance.now() - t0) / 1000);
      this.ticking = false;
      if (this.tickAgain) {
        this.tickAgain = false;
        this.scheduleTick();
      } else if (core.wb.isClean() && this.pendingLaunch.length === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }

  private async admitPending(now: number): Promise<void> {
    const core = this.core;
    while (this.toAdmit.length > 0) {
      const id = this.toAdmit.shift()!;
      let job = core.jobs.get(id);
      if (!job) {
        const rec = await core.findJob(id);
        if (!rec) continue;
        job = core.addJob(rec.job, rec.tasks);
      }
      if (job.rec.state !== 'SUBMITTED') continue;
      for (const task of job.topo) evaluateTask(core, task, now);
      for (const task of job.order) rollTask(core, task, now);
      rollJob(core, job, now);
    }
  }

  /** Start what may start, in the ready queue's order. Anonymous tasks start in that order: once one
   *  does not fit (no slot, or its instance type's resources are not free), those after it wait too,
   *  so a large instance is never starved by a stream of small ones. A type this host can never hold
   *  does not block the others. */
  private dispatch(now: number): AttemptRt[] {
    const core = this.core;
    const { anon, host, ready } = core;
    const launches: AttemptRt[] = [];
    let free = anon.free();
    let blocked = free <= 0;
    let queued = 0;
    for (let i = 0; i < ready.tasks.length; ) {
      const task: TaskRt = ready.tasks[i]!;
      if (!task.ownCapacity && blocked) {
        // only tasks of named environments can still start (O(1) per tick however many tasks wait)
        if (ready.envCount === 0) break;
        i++;
        continue;
      }
      const cap = task.spec.maxConcurrent;
      const before = launches.length;
      while (task.hasWaiting() && (cap === 0 || task.running.size < cap)) {
        if (task.queue !== undefined) {
          // an engine queue takes them all; a tick submits a bounded number (the next tick goes on)
          if (queued >= QUEUE_STARTS_PER_TICK) break;
          launches.push(this.attempts.start(task, now, null));
          queued += 1;
        } else if (task.envId !== undefined) {
          const node = core.o.pools.freeNode(task.envId);
          if (!node) break;
          launches.push(this.attempts.start(task, now, node));
        } else {
          const r = task.resources!;
          if (free <= 0 || (host && !host.fits(r))) {
            blocked = host ? host.everFits(r) : true;
            break;
          }
          launches.push(this.attempts.start(task, now, null));
          free -= 1;
        }
      }
      if (!task.hasWaiting()) ready.remove(task);
      else i++;
      if (launches.length > before) rollBoth(core, task, now);
    }
    anon.blocked = blocked;
    return launches;
  }

  /** A batch is written: release the recorded attempts' handles, drop jobs with nothing left to do. */
  private written(released: { key: string; handle: Handle }[]): void {
    const core = this.core;
    for (const r of released) {
      try {
        core.o.executor.release(r.key, r.handle);
      } catch (e) {
        core.log.warn({ err: e }, 'releasing an attempt failed');
      }
    }
    const dirty = core.wb.dirty;
    for (const job of core.finishedJobs) {
      if (dirty.jobs.has(job) || job.order.some((t) => dirty.tasks.has(t) || t.running.size > 0)) continue;
      if (!isFinished(job.rec.state) || job.rec.nextAction !== '') continue;
      core.jobs.delete(job.id);
    }
    core.finishedJobs.clear();
  }
}
