// Attempts: the only part of the scheduler that talks to the executor. Starts attempts (made durable
// as STARTING, attempt n, before the executor is asked), launches them as one group per task, applies
// their ends (decideAfterExit), stops them (terminations, lost nodes, Timeout — one timer for every
// deadline), and re-adopts what ran before a restart through the executor's batched observe(). Tells
// the onStarted/onEnded hooks (the monitor) of starts and ends.
import { decideAfterExit, type StopCause } from '../domain/outcome.ts';
import { newId } from '../domain/ids.ts';
import type { State } from '../domain/states.ts';
import type { Timer } from '../lib/clock.ts';
import {
  attemptKey, type ExitInfo, type RunningAttempt, type Handle, type LaunchGroup, type LaunchResult, type Observation, type StopReason,
} from '../executors/types.ts';
import type { AttemptRecord, InstanceRecord } from '../store/types.ts';
import type { Core } from './core.ts';
import { DeadlineHeap } from './deadlines.ts';
import type { NodeRt } from './env-pools.ts';
import { rollBoth } from './rollup.ts';
import { instKey, setState, waitsInEngine, type AttemptRt, type TaskRt } from './runtime.ts';

export const TERMINATED = 'Terminated';
export const BY_TERMINATE_JOB = 'terminated by TerminateJob';
/** How many times an instance runs again after infrastructure failures (node failure, preemption,
 *  boot failure in an engine) without using MaxRetryCount; after that such a failure counts as one. */
export const INFRA_RERUN_LIMIT = 3;

export class Attempts {
  private readonly byKey = new Map<string, AttemptRt>();
  private readonly deadlines = new DeadlineHeap<AttemptRt>();
  private timer: Timer | null = null;
  private timerAt = Infinity;
  /** Attempts that show STARTING/RUNNING and whose end is not applied yet. */
  count = 0;

  constructor(private readonly core: Core) {
    core.o.executor.onEvents((events) => this.onEvents(events));
  }

  private get grace(): number {
    return this.core.o.killGraceMs ?? 5000;
  }

  /** Take the next waiting instance of the task and make it STARTING (on `node`, or anonymous). */
  start(task: TaskRt, now: number, node: NodeRt | null): AttemptRt {
    const core = this.core;
    let inst = task.waitingRows.shift();
    if (!inst) {
      let idx = task.rec.cursor;
      while (task.ahead.has(idx)) {
        task.ahead.delete(idx);
        idx++;
      }
      inst = core.materialise(task, idx);
      task.rec.cursor = idx + 1;
      while (task.ahead.has(task.rec.cursor)) {
        task.ahead.delete(task.rec.cursor);
        task.rec.cursor++;
      }
    }
    setState(task, inst, 'STARTING', core.wb.dirty);
    inst.attempt += 1;
    inst.launchTime = now;
    inst.runningTime = null;
    inst.endTime = null;
    inst.exitCode = null;
    inst.stateReason = '';
    inst.stateDetail = 'starting';
    inst.handle = null;
    // an anonymous environment gets a node created for the task when it needs one more (COMPAT: the
    // node is released when its attempt ends, so a finished instance shows none, as in the seed); in an
    // engine queue the node is the engine's, known once it runs there
    const queued = task.queue !== undefined;
    inst.nodeId = node ? node.rec.instanceId : queued ? null : (task.idleAnonNodes.pop() ?? newId('ins'));
    const key = attemptKey(inst);
    const a: AttemptRt = {
      key, task, inst, handle: null, stop: null, stopSent: false, launched: false, node,
      held: node || queued ? null : task.resources, deadline: now + task.spec.timeoutSec * 1000,
    };
    if (node) node.busy = a;
    else if (!queued) core.anon.running += 1;
    if (a.held) core.o.capacity.take(a.held);
    task.running.set(inst.index, a);
    core.ready.recheck(task);
    this.byKey.set(key, a);
    this.count += 1;
    core.o.metrics?.attemptStarted();
    core.wb.attempts.set(key, {
      jobId: inst.jobId, taskName: inst.taskName, index: inst.index, attempt: inst.attempt,
      launchTime: now, runningTime: null, endTime: null, exitCode: null, signal: null, reason: '', nodeId: inst.nodeId,
    });
    return a;
  }

  /** Ask the executor to start attempts made durable as STARTING: one group per task. */
  launch(list: AttemptRt[]): void {
    const groups = new Map<TaskRt, AttemptRt[]>();
    for (const a of list) {
      if (a.stop) {
        // stopped before it started: never spawn
        queueMicrotask(() => this.onExit(a.key, { exitCode: null, signal: null }));
        continue;
      }
      const g = groups.get(a.task);
      if (g) g.push(a);
      else groups.set(a.task, [a]);
    }
    for (const [task, as] of groups) this.launchGroup(task, as);
  }

  private launchGroup(task: TaskRt, as: AttemptRt[]): void {
    const env: Record<string, string> = {};
    for (const v of task.spec.envVars) env[v.Name] = v.Value;
    // COMPAT: the BATCH_* variables of §i.1 win over task EnvVars of the same name.
    env.BATCH_JOB_ID = task.job.id;
    env.BATCH_TASK_NAME = task.name;
    env.BATCH_TASK_INSTANCE_NUM = String(task.rec.instanceNum);
    const toBytes = (r: { cpus: number; memGiB: number } | null) => (r ? { cpus: r.cpus, memoryBytes: r.memGiB * 2 ** 30 } : undefined);
    const group: LaunchGroup = {
      jobId: task.job.id, taskName: task.name, account: task.job.rec.account, command: task.spec.command, env,
      resources: toBytes(task.resources),
      limits: { timeoutSec: task.spec.timeoutSec, maxConcurrent: task.spec.maxConcurrent },
      ...(task.queue !== undefined ? { queue: task.queue } : {}),
      ...(task.spec.data ? { data: task.spec.data } : {}),
      instances: as.map((a) => ({
        key: a.key, index: a.inst.index, attempt: a.inst.attempt,
        resources: a.node ? toBytes({ cpus: a.node.rec.cpu, memGiB: a.node.rec.mem }) : undefined,
      })),
    };
    const byKey = new Map(as.map((a) => [a.key, a]));
    const answered = new Set<string>();
    const failAll = (err: unknown) => {
      for (const a of as) {
        if (!answered.has(a.key)) this.started(a, { key: a.key, ok: false, error: err instanceof Error ? err.message : String(err) });
      }
    };
    this.core.o.executor.launch(group, (r) => {
      const a = byKey.get(r.key);
      if (!a || answered.has(r.key)) return;
      answered.add(r.key);
      this.started(a, r);
    }).then(() => failAll('the executor gave no answer for this instance'), failAll);
  }

  /** Tasks with attempts that started since the last roll-up (one roll-up and one tick for all). */
  private readonly startedTasks = new Set<TaskRt>();
  /** The attempts among them, for the onStarted hook (only kept when there is one). */
  private startedBatch: AttemptRt[] = [];

  private started(a: AttemptRt, r: LaunchResult): void {
    const core = this.core;
    const { inst, task } = a;
    if (!r.ok) {
      core.log.warn({ err: r.error, jobId: inst.jobId, taskName: inst.taskName, index: inst.index }, 'launch failed');
      a.stop = a.stop ?? { reason: 'LaunchFailed', detail: `the attempt could not be started: ${r.error}`, final: false };
      this.onExit(a.key, { exitCode: null, signal: null });
      return;
    }
    a.launched = true;
    const now = core.now();
    if (this.byKey.get(a.key) !== a) {
      a.handle = r.handle;
      return; // already ended
    }
    if (r.waiting) {
      // COMPAT: accepted by the engine's queue, it shows STARTING with the engine's reason (Slurm's
      // pending reason) until it runs there (docs/compat.md)
      a.handle = r.handle;
      inst.handle = r.handle;
      this.waiting(a, r.waiting);
      if (a.stop) this.sendStop(a);
      return;
    }
    this.recordStart(a, r.handle, now);
    this.markRunning(a, now);
    if (a.stop) this.sendStop(a);
  }

  /** The attempt runs from `since`: its Timeout counts from then; the monitor and roll-up hear of it. */
  private markRunning(a: AttemptRt, since: number): void {
    // COMPAT: Timeout counts from when it runs (as after a restart, where the deadline comes from
    // runningTime), not from its launch (docs/compat.md)
    a.deadline = since + a.task.spec.timeoutSec * 1000;
    if (!a.stop) this.deadlines.push(a.deadline, a);
    if (this.startedTasks.size === 0) setImmediate(() => this.rollStarted());
    this.startedTasks.add(a.task);
    if (this.core.o.onStarted) this.startedBatch.push(a);
  }

  /** An attempt waiting in the engine's queue: its reason, as the engine words it. */
  private waiting(a: AttemptRt, w: { reason: string; detail: string }): void {
    const inst = a.inst;
    if (inst.stateReason === w.reason && inst.stateDetail === w.detail) return;
    inst.stateReason = w.reason;
    inst.stateDetail = w.detail;
    this.core.wb.dirty.instances.set(instKey(inst.jobId, inst.taskName, inst.index), inst);
    this.core.scheduleTick(); // a tick writes it
  }

  /** An attempt that waited in the engine's queue runs now (on the engine's node `node`). */
  private nowRunning(a: AttemptRt, node: string | undefined, since: number | undefined): void {
    if (!waitsInEngine(a) || this.byKey.get(a.key) !== a) return;
    this.runsInEngine(a, node, since, this.core.now());
    this.markRunning(a, a.inst.runningTime!);
    if (!a.stop) this.armDeadlines();
  }

  /** Record that a waiting attempt runs in the engine since `since` (at most now, not before its
   *  launch), on `node`: RUNNING there, its reason cleared. */
  private runsInEngine(a: AttemptRt, node: string | undefined, since: number | undefined, now: number): void {
    const at = Math.min(since ?? now, now);
    if (node !== undefined) {
      a.inst.nodeId = node;
      this.attemptRecord(a).nodeId = node;
    }
    a.inst.runningTime = Math.max(at, a.inst.launchTime ?? at);
    this.recordStart(a, a.handle!, now);
    a.inst.stateReason = '';
  }

  private rollStarted(): void {
    const core = this.core;
    const now = core.now();
    for (const task of this.startedTasks) rollBoth(core, task, now);
    this.startedTasks.clear();
    if (this.startedBatch.length > 0) {
      const batch = this.startedBatch.filter((a) => this.byKey.get(a.key) === a).map((a) => this.runningOf(a));
      this.startedBatch = [];
      try {
        if (batch.length > 0) core.o.onStarted?.(batch);
      } catch (e) {
        core.log.warn({ err: e }, 'onStarted hook failed');
      }
    }
    this.armDeadlines();
    core.scheduleTick();
  }

  /** The attempt has started (or was found running): its handle is recorded, a STARTING instance
   *  becomes RUNNING. */
  private recordStart(a: AttemptRt, handle: Handle, now: number): void {
    const { inst, task } = a;
    a.handle = handle;
    inst.handle = handle;
    if (inst.state === 'STARTING') {
      setState(task, inst, 'RUNNING', this.core.wb.dirty);
      inst.runningTime = inst.runningTime ?? now;
      inst.stateDetail = 'running';
    }
    this.core.wb.dirty.instances.set(instKey(inst.jobId, inst.taskName, inst.index), inst);
    this.attemptRecord(a).runningTime = inst.runningTime;
  }

  private attemptRecord(a: AttemptRt): AttemptRecord {
    const wb = this.core.wb;
    let rec = wb.attempts.get(a.key);
    if (!rec) {
      const inst = a.inst;
      rec = {
        jobId: inst.jobId, taskName: inst.taskName, index: inst.index, attempt: inst.attempt,
        launchTime: inst.launchTime ?? this.core.now(), runningTime: inst.runningTime, endTime: null,
        exitCode: null, signal: null, reason: '', nodeId: inst.nodeId,
      };
      wb.attempts.set(a.key, rec);
    }
    return rec;
  }

  // ---------------------------------------------------------------- ends

  private onEvents(events: Observation[]): void {
    for (const ev of events) {
      if (ev.state === 'exited') this.onExit(ev.key, ev.exit);
      else if (ev.state === 'lost') this.lost(ev.key, ev.reason, ev.infrastructure === true);
      else {
        const a = this.byKey.get(ev.key);
        if (!a || !waitsInEngine(a)) continue;
        if (ev.handle) {
          // accepted before the engine could name it (its controller did not answer): named now
          a.handle = ev.handle;
          a.inst.handle = ev.handle;
          this.core.wb.dirty.instances.set(instKey(a.inst.jobId, a.inst.taskName, a.inst.index), a.inst);
        }
        if (ev.state === 'running') this.nowRunning(a, ev.node, ev.since);
        else this.waiting(a, ev.wait);
      }
    }
  }

  private lost(key: string, why: string, infrastructure: boolean): void {
    const a = this.byKey.get(key);
    if (!a) return;
    // COMPAT: infrastructure failures rerun at most INFRA_RERUN_LIMIT times without using a retry
    if (!a.stop && infrastructure && a.inst.retryBase < INFRA_RERUN_LIMIT) {
      // the engine lost it (node failure, preemption): it runs again without using a retry
      a.stop = { reason: 'InfrastructureFailure', detail: `the attempt was lost to an infrastructure failure (${why}); it runs again without using MaxRetryCount`, final: false, requeue: true };
    }
    a.stop = a.stop ?? { reason: 'Lost', detail: `the attempt was lost: ${why}`, final: false };
    this.onExit(key, { exitCode: null, signal: null });
  }

  private onExit(key: string, exit: ExitInfo): void {
    const a = this.byKey.get(key);
    if (!a) return;
    const core = this.core;
    this.byKey.delete(key);
    const { task, inst } = a;
    if (a.launched && a.handle && core.o.onEnded) {
      try {
        const sample = core.o.onEnded(this.runningOf(a), exit, core.now());
        if (sample) core.wb.samples.push(sample); // written with the attempt's end
      } catch (e) {
        core.log.warn({ err: e }, 'onEnded hook failed');
      }
    }
    core.ready.recheck(task);
    this.count -= 1;
    if (a.node) {
      const node = a.node;
      void core.o.pools.release(node).then(
        () => core.scheduleTick(),
        (e: unknown) => core.log.error({ err: e }, 'releasing a compute node failed'),
      );
    } else if (task.queue === undefined) {
      core.anon.running -= 1;
      if (inst.nodeId) task.idleAnonNodes.push(inst.nodeId);
    }
    if (a.held) core.o.capacity.release(a.held);
    this.deadlines.remove(a);
    const finish = async () => {
      const after = core.o.afterAttempt;
      // the hook ships logs to the task's redirect targets: without any there is nothing to ask for
      if (after && a.launched && (task.spec.redirect || task.spec.redirectLocal)) {
        try {
          const logs = core.o.executor.logs;
          await after({
            jobId: inst.jobId, taskName: inst.taskName, index: inst.index, attempt: inst.attempt, spec: task.spec,
            stdoutFile: await logs.settledFile(inst, 'stdout'), stderrFile: await logs.settledFile(inst, 'stderr'),
          });
        } catch (e) {
          core.log.warn({ err: e, jobId: inst.jobId, taskName: inst.taskName, index: inst.index }, 'log redirect failed');
        }
      }
      this.recordExit(a, exit);
    };
    void finish().catch((e: unknown) => core.log.error({ err: e }, 'recording an exit failed'));
  }

  private recordExit(a: AttemptRt, exit: ExitInfo): void {
    const core = this.core;
    const dirty = core.wb.dirty;
    const { task, inst } = a;
    // until now the instance showed STARTING/RUNNING: it was one of the task's running attempts (for
    // TerminateJob, TerminateTaskInstance, MaxConcurrentNum and NextAction), though its slot was free
    task.running.delete(inst.index);
    core.ready.recheck(task);
    const now = Math.max(core.now(), inst.runningTime ?? 0, inst.launchTime ?? 0);
    if (inst.state === 'STARTING') {
      setState(task, inst, 'RUNNING', dirty);
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
    if (!a.node && task.queue === undefined) inst.nodeId = null; // the anonymous node is released
    if (a.handle) core.wb.releaseAfterWrite(a.key, a.handle);
    const outcome = decideAfterExit({
      exit, stop: a.stop, retriesUsed: inst.attempt - inst.retryBase - 1, maxRetry: task.spec.maxRetry,
      failedAction: task.spec.failedAction, jobTerminating: task.job.rec.nextAction !== '',
      instanceType: a.node?.rec.instanceType ?? task.instanceType, memGiB: a.node?.rec.mem ?? a.held?.memGiB,
    });
    const wait = (to: State, reason: string, detail: string) => {
      setState(task, inst, to, dirty);
      inst.stateReason = reason;
      inst.stateDetail = detail;
      inst.exitCode = null;
      inst.endTime = null;
      task.waitingRows.push(inst);
    };
    switch (outcome.kind) {
      case 'requeue':
        // its node was taken away: the instance waits again without using a retry
        wait('RUNNABLE', outcome.reason, outcome.detail);
        inst.retryBase += 1;
        att.reason = outcome.detail;
        core.ready.refresh(task);
        break;
      case 'succeed':
        setState(task, inst, 'SUCCEED', dirty);
        inst.stateReason = '';
        inst.stateDetail = 'successful';
        att.reason = '';
        break;
      case 'retry':
        att.reason = outcome.detail;
        wait('RUNNABLE', outcome.reason, `attempt ${inst.attempt} failed (${outcome.detail}); retry ${outcome.retry} of ${task.spec.maxRetry} waits for a slot`);
        if (task.rec.wait.state !== 'RUNNABLE' && task.implicitCount === 0) task.rec.wait.state = 'RUNNABLE';
        core.ready.refresh(task);
        break;
      case 'fail':
        att.reason = outcome.detail;
        setState(task, inst, outcome.interrupt ? 'FAILED_INTERRUPTED' : 'FAILED', dirty);
        inst.stateReason = outcome.reason;
        inst.stateDetail = outcome.detail;
        break;
    }
    dirty.instances.set(instKey(inst.jobId, inst.taskName, inst.index), inst);
    // an attempt after which the instance runs again has an event of its own; the last one's end is
    // the instance's (SUCCEED, FAILED: with its attempt and exit code), not recorded twice
    if (outcome.kind === 'retry' || outcome.kind === 'requeue') dirty.events.push({
      account: task.job.rec.account, region: task.job.rec.region, kind: 'attempt', time: now, jobId: inst.jobId, taskName: inst.taskName, index: inst.index,
      attempt: att.attempt, state: 'FAILED', reason: att.reason, exitCode: att.exitCode,
    });
    core.o.metrics?.attemptEnded(outcome.kind);
    rollBoth(core, task, now);
    core.scheduleTick();
  }

  // ---------------------------------------------------------------- stops and deadlines

  /** Stop an attempt. COMPAT: a final stop (TerminateJob, TerminateTaskInstance) replaces one that is
   *  not (Timeout, a terminated node, a lost attempt): an instance that still shows STARTING/RUNNING
   *  says Terminated, also when its attempt was already being stopped or has exited with its end not
   *  recorded yet. */
  stop(a: AttemptRt, cause: StopCause): void {
    if (a.stop && (a.stop.final || !cause.final)) return;
    a.stop = cause;
    // ask the executor unless it has not started (launched() does then), has exited, or is being stopped
    if (a.handle && this.byKey.get(a.key) === a && !a.stopSent) this.sendStop(a);
  }

  private sendStop(a: AttemptRt): void {
    a.stopSent = true;
    this.deadlines.remove(a);
    const why: StopReason = a.stop?.requeue ? 'node-gone' : 'terminate';
    this.core.o.executor.stop(a.key, a.handle!, why, this.grace);
  }

  private armDeadlines(): void {
    const next = this.deadlines.peekTime();
    if (next === undefined) {
      this.timer?.cancel();
      this.timer = null;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && next >= this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = next;
    this.timer = this.core.o.clock.setTimer(next - this.core.now(), () => this.fireDeadlines());
  }

  private fireDeadlines(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = this.core.now();
    for (;;) {
      const t = this.deadlines.peekTime();
      if (t === undefined || t > now) break;
      const a = this.deadlines.pop()!;
      if (this.byKey.get(a.key) !== a || !a.handle || a.stopSent) continue;
      const secs = a.task.spec.timeoutSec;
      a.stop = { reason: 'Timeout', detail: `the attempt ran longer than Timeout (${secs} s) and was killed`, final: false };
      a.stopSent = true;
      this.core.o.executor.stop(a.key, a.handle, 'timeout', 0);
    }
    this.armDeadlines();
  }

  close(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  // ---------------------------------------------------------------- restart

  /** After a restart: take back the attempts that showed STARTING/RUNNING, all in one observe(). */
  async readopt(list: { task: TaskRt; inst: InstanceRecord }[], now: number): Promise<void> {
    const core = this.core;
    const as: AttemptRt[] = [];
    for (const { task, inst } of list) {
      const queued = task.queue !== undefined;
      const node = inst.nodeId && !queued ? core.o.pools.node(inst.nodeId) ?? null : null;
      const a: AttemptRt = {
        key: attemptKey(inst), task, inst, handle: (inst.handle as Handle | null) ?? null, stop: null, stopSent: false,
        launched: true, node, held: node || queued ? null : task.resources,
        deadline: (inst.runningTime ?? inst.launchTime ?? now) + task.spec.timeoutSec * 1000,
      };
      if (node) node.busy = a;
      else if (!queued) core.anon.running += 1;
      task.running.set(inst.index, a);
      this.byKey.set(a.key, a);
      this.count += 1;
      if (a.held) core.o.capacity.take(a.held);
      as.push(a);
    }
    if (as.length === 0) return;
    let seen: Observation[];
    try {
      seen = await core.o.executor.observe(as.map((a) => ({ key: a.key, handle: a.handle })));
    } catch (e) {
      core.log.error({ err: e }, 'the executor could not tell how earlier attempts are doing');
      seen = as.map((a) => ({ key: a.key, state: 'lost', reason: `the executor could not be asked (${e instanceof Error ? e.message : String(e)})` }));
    }
    const byKey = new Map(seen.map((o) => [o.key, o]));
    for (const a of as) {
      const ob = byKey.get(a.key) ?? { key: a.key, state: 'lost' as const, reason: 'the executor did not answer for it' };
      if (ob.state !== 'lost' && ob.handle) {
        // found by its key: its launch was never recorded; record it now, as a start would have
        // (one that has ended already is recorded with its end below)
        if (ob.state === 'running') this.recordStart(a, ob.handle, now);
        else {
          a.handle = ob.handle;
          if (ob.state === 'waiting') a.inst.handle = ob.handle;
        }
      }
      // TerminateJob was stopping the job's attempts when the service stopped: that goes on
      const stop: StopCause | null = a.task.job.rec.nextAction === 'TERMINATING' ? { reason: TERMINATED, detail: BY_TERMINATE_JOB, final: true } : null;
      if (ob.state === 'waiting') {
        // still in the engine's queue: it shows STARTING with the engine's reason until it runs
        this.waiting(a, ob.wait);
        if (stop) this.stop(a, stop);
      } else if (ob.state === 'running') {
        if (a.inst.state === 'STARTING' && a.handle) {
          // it waited in the engine's queue and started while the service was down
          this.runsInEngine(a, ob.node, ob.since, now);
          a.deadline = a.inst.runningTime! + a.task.spec.timeoutSec * 1000;
        }
        this.deadlines.push(a.deadline, a);
        if (stop) this.stop(a, stop);
      } else if (ob.state === 'exited') {
        a.stop = stop;
        queueMicrotask(() => this.onExit(a.key, ob.exit));
      } else if (ob.infrastructure && !stop) {
        // lost for a reason outside the attempt (its staging cut short by the restart): it runs again
        queueMicrotask(() => this.lost(a.key, ob.reason, true));
      } else {
        a.stop = stop ?? {
          reason: 'ServiceRestarted',
          detail: 'the service restarted while this attempt was starting or running, and no trace of its outcome was found',
          final: false,
        };
        queueMicrotask(() => this.onExit(a.key, { exitCode: null, signal: null }));
      }
    }
    this.armDeadlines();
  }

  running(): RunningAttempt[] {
    const out: RunningAttempt[] = [];
    for (const a of this.byKey.values()) {
      if (!a.handle || a.inst.state !== 'RUNNING') continue;
      out.push(this.runningOf(a));
    }
    return out;
  }

  private runningOf(a: AttemptRt): RunningAttempt {
    const i = a.inst;
    return {
      key: a.key, handle: a.handle!, jobId: i.jobId, taskName: i.taskName, index: i.index, attempt: i.attempt,
      instanceType: a.node?.rec.instanceType ?? a.task.instanceType, startTime: i.runningTime ?? i.launchTime ?? undefined,
    };
  }
}
