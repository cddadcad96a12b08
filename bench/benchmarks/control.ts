// control plane: instance lifecycles per second that the scheduler and the store move from SUBMITTED
// to SUCCEED when the work is negligible — (1) scheduler + store alone, with an executor whose attempts
// end at once (no processes), labelled as such: on PostgreSQL (a fresh database) against SQLite,
// interleaved in the same run; (2) real processes of `true` at C = 64 (SQLite).
import fs from 'node:fs';
import path from 'node:path';
import { EnvPools } from '../../src/scheduler/env-pools.ts';
import { HostCapacity } from '../../src/domain/capacity.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { LocalLayout, LocalLogs } from '../../src/executors/local/layout.ts';
import { JobService } from '../../src/services/jobs.ts';
import { DEFAULT_LIMITS } from '../../src/config/config.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { PgStore } from '../../src/store/postgres/pg-store.ts';
import type { Store } from '../../src/store/types.ts';
import { freshDatabase, pgSkipReason } from '../../test/support/pg.ts';
import type { Capacity, Executor, Handle, LaunchGroup, LaunchResult, Observation } from '../../src/executors/types.ts';
import { benchServer, jobOf, sleep, stats, tempDir, waitJob, type Benchmark, type Figure } from '../lib.ts';

/** Ends every attempt right away: measures everything but process creation. */
class InstantExecutor implements Executor {
  readonly name = 'instant';
  private listener: (events: Observation[]) => void = () => {};
  constructor(readonly logs: LocalLogs) {}
  privateMounts(): string | undefined {
    return 'the benchmark\'s instant executor starts no processes';
  }

  capacity(): Capacity {
    return { kind: 'slots', slots: 256 };
  }
  async launch(g: LaunchGroup, started: (r: LaunchResult) => void): Promise<void> {
    for (const i of g.instances) started({ key: i.key, ok: true, handle: { executor: this.name } as Handle });
    setImmediate(() => this.listener(g.instances.map((i) => ({ key: i.key, state: 'exited', exit: { exitCode: 0, signal: null } }))));
  }
  onEvents(l: (events: Observation[]) => void): void {
    this.listener = l;
  }
  async observe(attempts: readonly { key: string }[]): Promise<Observation[]> {
    return attempts.map((a) => ({ key: a.key, state: 'lost', reason: 'the instant executor keeps nothing' }));
  }
  stop(): void {}
  release(): void {}
  async close(): Promise<void> {}
}

/** A store of the kind measured and what removes it after the run. */
type Opened = { store: Store; dispose(): Promise<void> };
type Kind = 'sqlite' | 'pg';

async function openStore(kind: Kind, dir: string): Promise<Opened> {
  if (kind === 'sqlite') {
    const store = new SqliteStore(path.join(dir, 'openbatch.db'));
    return { store, dispose: () => store.close() };
  }
  const db = await freshDatabase();
  const store = await PgStore.open(db.url, { logger: silentLogger });
  return { store, dispose: async () => { await store.close(); await db.drop(); } };
}

export async function storeAndScheduler(kind: Kind, n: number): Promise<number> {
  const dir = tempDir('openbatch-ctl-');
  const { store, dispose } = await openStore(kind, dir);
  const executor = new InstantExecutor(new LocalLogs(new LocalLayout(dir)));
  const scheduler = new Scheduler({
    store, executor, clock: systemClock, logger: silentLogger,
    // the instant executor runs nothing: no host limit applies
    capacity: new HostCapacity({ cpus: 1e6, memGiB: 1e6 }, 1), resourcesOf: () => ({ cpus: 1, memGiB: 1 }),
    pools: new EnvPools(store, systemClock, silentLogger),
  });
  const jobs = new JobService({ store, commands: scheduler, clock: systemClock, limits: DEFAULT_LIMITS, logs: executor.logs, localRoot: path.join(dir, 'local') });
  await scheduler.start();
  const caller = { account: 'a', region: 'ap-guangzhou' };
  const t0 = performance.now();
  const { JobId } = await jobs.submitJob(caller, jobOf('true', n));
  for (;;) {
    const j = await jobs.describeJob(caller, { JobId });
    if (j.JobState === 'SUCCEED') break;
    await sleep(5);
  }
  const ms = performance.now() - t0;
  await scheduler.close();
  await dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  return n / (ms / 1000);
}

export const control: Benchmark = {
  name: 'control',
  description: 'instance lifecycles/s: scheduler + store alone on SQLite and on PostgreSQL (targets ≥ 10,000/s, PG ≥ 0.5 × SQLite), and with real `true` processes at C = 64',
  async run(scale) {
    const n = scale.name === 'full' ? 100_000 : 5_000;
    const pgWhy = await pgSkipReason();
    // SQLite and PostgreSQL in turn, run after run (the order alternating: what one run leaves behind,
    // its files written back, must not weigh on the same store every time), so both see the same load
    const alone: number[] = [];
    const onPg: number[] = [];
    for (let r = 0; r < scale.runs; r++) {
      const order: Kind[] = pgWhy ? ['sqlite'] : r % 2 === 0 ? ['sqlite', 'pg'] : ['pg', 'sqlite'];
      for (const kind of order) (kind === 'pg' ? onPg : alone).push(await storeAndScheduler(kind, n));
    }
    const real: number[] = [];
    const m = scale.name === 'full' ? 10_000 : 300;
    for (let r = 0; r < scale.runs; r++) {
      const srv = await benchServer({ slots: 64 });
      try {
        const c = srv.client();
        const t0 = performance.now();
        const { JobId } = await c.SubmitJob!(jobOf('true', m));
        await waitJob(c, JobId);
        real.push(m / ((performance.now() - t0) / 1000));
      } finally {
        await srv.stop();
      }
    }
    const sqlite = stats(alone);
    const out: Figure[] = [
      { benchmark: 'control', metric: `scheduler + SQLite store alone (no processes), ${n} instances`, unit: 'lifecycles/s', ...sqlite, target: '≥ 10,000/s', note: "Slurm's published figure: 500 jobs/s sustained" },
      { benchmark: 'control', metric: `real \`true\` processes, C=64, ${m} instances`, unit: 'lifecycles/s', ...stats(real) },
    ];
    if (pgWhy) {
      console.log(`  PostgreSQL figure skipped: ${pgWhy}`);
    } else {
      const pg = stats(onPg);
      out.splice(1, 0, {
        benchmark: 'control', metric: `scheduler + PostgreSQL store alone (no processes), ${n} instances`, unit: 'lifecycles/s', ...pg,
        baseline: { what: 'SQLite store, same run', ...sqlite }, ratio: pg.median / sqlite.median, target: '≥ 10,000/s and ≥ 0.5',
        note: 'PostgreSQL on this machine (127.0.0.1, a fresh database per run), sharing its CPUs with the benchmark',
      });
    }
    return out;
  },
};
