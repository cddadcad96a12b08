// A real Scheduler on a real SQLite store in a temp dir, driven by a ScriptedExecutor and a
// ManualClock: no processes, no real time. Jobs are submitted through JobService, and state is read
// back through the store and JobService's describe methods only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LIMITS } from '../../src/config/config.ts';
import { attemptKey } from '../../src/executors/types.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { HostCapacity } from '../../src/domain/capacity.ts';
import { EnvPools } from '../../src/scheduler/env-pools.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { JobService } from '../../src/services/jobs.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { afterEach } from 'vitest';
import type { RequestOf } from '../../src/api/models.ts';
import { ManualClock } from './manual-clock.ts';
import { ScriptedExecutor, type ScriptedOptions } from './scripted-executor.ts';

export const caller = { account: 'acc', region: 'ap-guangzhou' };

type Obj = Record<string, any>;

export interface RigOptions extends ScriptedOptions {
  /** Reuse this data dir (a restart): its database is opened again. */
  dir?: string;
  clock?: ManualClock;
  killGraceMs?: number;
  /** Start the scheduler (default true). */
  start?: boolean;
  /** The engine queue of tasks (SchedulerOptions.queueOf). */
  queueOf?: (envId: string | undefined) => string | undefined;
}

export type Rig = Awaited<ReturnType<typeof makeRig>>;

/** For a test file: a rig maker whose rigs are all closed after each test (a rig a test closed
 *  itself, e.g. for a restart, closes again harmlessly). */
export function rigsClosedAfterEach(): (o?: RigOptions) => Promise<Rig> {
  let rigs: Rig[] = [];
  afterEach(async () => {
    for (const r of rigs) await r.close().catch(() => {});
    rigs = [];
  });
  return async (o = {}) => {
    const r = await makeRig(o);
    rigs.push(r);
    return r;
  };
}

export async function makeRig(o: RigOptions = {}) {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-sched-'));
  const dbFile = path.join(dir, 'openbatch.db');
  const store = new SqliteStore(dbFile);
  const clock = o.clock ?? new ManualClock();
  const executor = new ScriptedExecutor(o);
  const pools = new EnvPools(store, clock, silentLogger);
  const scheduler = new Scheduler({
    store, executor, clock, logger: silentLogger, pools,
    capacity: new HostCapacity({ cpus: 1024, memGiB: 4096 }, 1),
    resourcesOf: (t) => (t === 'S1.SMALL2' ? { cpus: 1, memGiB: 2 } : { cpus: 1, memGiB: 1 }),
    killGraceMs: o.killGraceMs, queueOf: o.queueOf,
  });
  const jobs = new JobService({ store, commands: scheduler, clock, limits: DEFAULT_LIMITS, logs: executor.logs, localRoot: path.join(dir, 'local') });
  if (o.start ?? true) await scheduler.start();

  /** Deliver the executor's queued ends, then wait until the scheduler has written everything
   *  (and what the executor's settled promises made it do: a rejected launch is seen a turn later). */
  async function settle(): Promise<void> {
    executor.deliver();
    await scheduler.idle();
    await new Promise((r) => setImmediate(r));
    await scheduler.idle();
  }

  async function submit(tasks: Obj[], job: Obj = {}): Promise<string> {
    const { JobId } = await jobs.submitJob(caller, {
      Placement: { Zone: 'ap-guangzhou-2' },
      Job: { JobName: 'unit', Tasks: tasks.map(task), ...job },
    } as RequestOf<'SubmitJob'>); // the test's tasks are wire shapes the service validates itself
    await settle();
    return JobId;
  }

  /** An instance as DescribeTask shows it: `STATE reason (detail)`. */
  async function line(jobId: string, taskName: string, index: number): Promise<string> {
    const i = await view(jobId, taskName, index);
    return `${i.TaskInstanceState} ${i.StateReason} (${i.StateDetailedReason})`;
  }

  async function view(jobId: string, taskName: string, index: number): Promise<Obj> {
    const t = await jobs.describeTask(caller, { JobId: jobId, TaskName: taskName, Offset: index, Limit: 1 });
    const i = t.TaskInstanceSet[0];
    if (!i || i.TaskInstanceIndex !== index) throw new Error(`no instance ${index} of ${jobId}/${taskName}`);
    return i;
  }

  async function jobState(jobId: string): Promise<string> {
    const j = await store.getJobById(jobId);
    return `${j?.state}${j?.nextAction ? ` ${j.nextAction}` : ''}`;
  }

  /** Stop the service; the data dir is removed unless `keep` (a restart opens it again). */
  let closed = false;
  /** Close the rig (once; later calls do nothing): its data dir goes unless `keep` (a restart). */
  async function close(o: { keep?: boolean } = {}): Promise<void> {
    if (closed) return;
    closed = true;
    await scheduler.close();
    await executor.close();
    await store.close();
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }

  return { dir, dbFile, store, clock, executor, scheduler, jobs, settle, submit, line, view, jobState, close };
}

/** A task of the wire shape with what every test task needs. */
export function task(t: Obj): Obj {
  return {
    TaskInstanceNum: 1,
    Application: { DeliveryForm: 'LOCAL', Command: 'run' },
    ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
    ...t,
  };
}

export function key(jobId: string, taskName: string, index: number, attempt = 1): string {
  return attemptKey({ jobId, taskName, index, attempt });
}
