// control plane: instance lifecycles per second that the scheduler and the store move from SUBMITTED
// to SUCCEED when the work is negligible — (1) scheduler + SQLite store alone, with an executor whose
// attempts end at once (no processes), labelled as such; (2) real processes of `true` at C = 64.
import path from 'node:path';
import { EnvPools } from '../../src/scheduler/env-pools.ts';
import { HostCapacity } from '../../src/scheduler/capacity.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { LogLayout } from '../../src/services/log-layout.ts';
import { JobService } from '../../src/services/jobs.ts';
import { DEFAULT_LIMITS } from '../../src/config/config.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { AttemptHandle, AttemptSpec, Executor, ExitInfo } from '../../src/executors/types.ts';
import { benchServer, jobOf, sleep, stats, tempDir, waitJob, type Benchmark, type Figure } from '../lib.ts';

/** Ends every attempt right away: measures everything but process creation. */
class InstantExecutor implements Executor {
  readonly name = 'instant';
  private listener: (key: string, exit: ExitInfo) => void = () => {};
  private pid = 0;
  async launch(spec: AttemptSpec): Promise<AttemptHandle> {
    setImmediate(() => this.listener(spec.key, { exitCode: 0, signal: null }));
    return { executor: this.name, key: spec.key, pid: ++this.pid, startTicks: '', statusPath: '' };
  }
  onExit(l: (key: string, exit: ExitInfo) => void): void {
    this.listener = l;
  }
  kill(): void {}
  adopt() {
    return { kind: 'lost' as const };
  }
  async close(): Promise<void> {}
}

async function storeAndScheduler(n: number): Promise<number> {
  const dir = tempDir('openbatch-ctl-');
  const store = new SqliteStore(path.join(dir, 'openbatch.db'));
  const logs = new LogLayout(dir);
  const scheduler = new Scheduler({
    store, executor: new InstantExecutor(), clock: systemClock, logger: silentLogger, dataDir: dir, logs, slots: 256,
    // the instant executor runs nothing: no host limit applies
    capacity: new HostCapacity({ cpus: 1e6, memGiB: 1e6 }, 1), resourcesOf: () => ({ cpus: 1, memGiB: 1 }),
    pools: new EnvPools(store, systemClock, silentLogger),
  });
  const jobs = new JobService({ store, scheduler, clock: systemClock, limits: DEFAULT_LIMITS, logs, localRoot: path.join(dir, 'local'), dataDir: dir });
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
  await store.close();
  return n / (ms / 1000);
}

export const control: Benchmark = {
  name: 'control',
  description: 'instance lifecycles/s: scheduler + store alone (target ≥ 10,000/s), and with real `true` processes at C = 64',
  async run(scale) {
    const n = scale.name === 'full' ? 100_000 : 5_000;
    const alone: number[] = [];
    for (let r = 0; r < scale.runs; r++) alone.push(await storeAndScheduler(n));
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
    const out: Figure[] = [
      { benchmark: 'control', metric: `scheduler + SQLite store alone (no processes), ${n} instances`, unit: 'lifecycles/s', ...stats(alone), target: '≥ 10,000/s', note: "Slurm's published figure: 500 jobs/s sustained" },
      { benchmark: 'control', metric: `real \`true\` processes, C=64, ${m} instances`, unit: 'lifecycles/s', ...stats(real) },
    ];
    return out;
  },
};
