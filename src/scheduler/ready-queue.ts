// The ready queue: tasks with instances that may start now (RUNNABLE), kept in dispatch order — job
// Priority desc, then submission order, then task order — and the wait reason of each. Reasons are
// refreshed for the tasks whose situation changed (added, started or ended an attempt), and for all
// of them only when what blocks anonymous tasks changes (the texts carry no live figures).
import { gib, vcpus } from '../domain/units.ts';
import type { HostCapacity } from '../domain/capacity.ts';
import type { AnonSlots } from './capacity.ts';
import type { EnvPools } from './env-pools.ts';
import type { Dirty, TaskRt } from './runtime.ts';

export class ReadyQueue {
  readonly tasks: TaskRt[] = [];
  /** Tasks of the queue that run on a named environment or an engine queue (they can start while the
   *  slots are full). */
  envCount = 0;
  /** Ready tasks whose wait reason may have changed since the last refresh. */
  private readonly check = new Set<TaskRt>();
  private all = true;
  private lastCapacity = '';

  /** Every task's reason is refreshed next time (an environment changed). */
  recheckAll(): void {
    this.all = true;
  }

  recheck(task: TaskRt): void {
    this.check.add(task);
  }

  /** Put a task in the queue or take it out, as its wait state says. */
  refresh(task: TaskRt): void {
    const want = task.rec.wait.state === 'RUNNABLE' && task.hasWaiting();
    if (want) this.check.add(task);
    if (want && !task.inReady) {
      task.inReady = true;
      if (task.ownCapacity) this.envCount += 1;
      let i = this.tasks.length;
      while (i > 0 && readyBefore(task, this.tasks[i - 1]!)) i--;
      this.tasks.splice(i, 0, task);
    } else if (!want && task.inReady) {
      this.remove(task);
    }
  }

  remove(task: TaskRt): void {
    if (!task.inReady) return;
    task.inReady = false;
    if (task.ownCapacity) this.envCount -= 1;
    const i = this.tasks.indexOf(task);
    if (i >= 0) this.tasks.splice(i, 1);
  }

  updateWaitReasons(dirty: Dirty, anon: AnonSlots, host: HostCapacity | null, pools: EnvPools): void {
    const free = anon.free();
    const state = `${free <= 0}|${anon.blocked}`;
    const all = this.all || this.lastCapacity !== state;
    this.all = false;
    this.lastCapacity = state;
    const tasks: Iterable<TaskRt> = all ? this.tasks : this.check;
    for (const task of tasks) {
      if (!task.inReady) continue;
      const r = waitReason(task, free, anon, host, pools);
      if (!r) continue;
      const w = task.rec.wait;
      if (w.reason !== r.reason || w.detail !== r.detail) {
        w.reason = r.reason;
        w.detail = r.detail;
        dirty.tasks.add(task);
      }
    }
    this.check.clear();
  }
}

function waitReason(task: TaskRt, free: number, anon: AnonSlots, host: HostCapacity | null, pools: EnvPools): { reason: string; detail: string } | undefined {
  const cap = task.spec.maxConcurrent;
  if (cap > 0 && task.running.size >= cap) {
    return { reason: 'MaxConcurrentNumReached', detail: `MaxConcurrentNum is ${cap} and ${task.running.size} instance${task.running.size === 1 ? ' of this task is' : 's of this task are'} starting or running` };
  }
  if (task.queue !== undefined) return undefined; // the engine's queue takes every instance
  if (task.envId !== undefined) return { reason: 'WaitingForComputeNode', detail: pools.waitReason(task.envId) };
  if (free <= 0) return { reason: 'WaitingForCapacity', detail: anon.describeFull() };
  if (host && (anon.blocked || !host.everFits(task.resources!))) {
    const r = task.resources!;
    const type = task.instanceType ?? 'its instance type';
    let detail: string;
    if (!host.everFits(r)) detail = `${type} needs ${vcpus(r.cpus)} and ${gib(r.memGiB)}: more than this host can promise (${host.describeTotal()}); it runs once --overcommit allows it`;
    else if (!host.fits(r)) detail = `no free capacity: ${type} needs ${vcpus(r.cpus)} and ${gib(r.memGiB)}, and this host's ${host.describeTotal()} are held by compute nodes and running instances`;
    else detail = 'no free capacity: instances submitted earlier or with a higher priority wait for the host\'s vCPUs and memory first';
    return { reason: 'WaitingForCapacity', detail };
  }
  if (anon.blocked) return { reason: 'WaitingForCapacity', detail: 'no free capacity: instances submitted earlier or with a higher priority start first' };
  return undefined;
}

/** Dispatch order: priority desc, then submission order, then task order. */
export function readyBefore(a: TaskRt, b: TaskRt): boolean {
  const pa = a.job.rec.priority, pb = b.job.rec.priority;
  if (pa !== pb) return pa > pb;
  if (a.job.seq !== b.job.seq) return a.job.seq < b.job.seq;
  return a.rec.ord < b.rec.ord;
}
