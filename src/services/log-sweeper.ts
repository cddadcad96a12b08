// The files this replica's host keeps for jobs that are gone (docs/deploy.md): DeleteJob is carried
// out by the leader, which removes the logs and working directories on its own host; attempts that
// ran on another replica's host (the leader before a failover) leave theirs there. So every replica
// looks at its own once as it starts and then every SWEEP_MS, and removes the files of jobs the store
// no longer has. A job is only looked up, one at a time; a store that cannot answer leaves them all.
import fs from 'node:fs';
import type { Logger } from '../lib/logger.ts';
import type { Store } from '../store/types.ts';

const SWEEP_MS = 10 * 60_000;
const JOB_DIR = /^job-[a-z0-9]{8}$/;

export interface LogSweeperOptions {
  /** The roots whose <jobId> directories hold a job's files (logs, work). */
  roots: string[];
  removeJob: (jobId: string) => Promise<void>;
  store: Pick<Store, 'getJobById'>;
  logger: Logger;
}

export class LogSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly o: LogSweeperOptions) {}

  start(): void {
    const run = () => void this.sweep().catch((e: unknown) => this.o.logger.warn({ err: e }, 'sweeping the files of deleted jobs failed; trying again later'));
    setImmediate(run);
    this.timer = setInterval(run, SWEEP_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => 0);
  }

  /** Removes the files of the jobs the store does not have; how many jobs' files went. */
  sweep(): Promise<number> {
    this.running ??= this.sweepNow().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepNow(): Promise<number> {
    const ids = new Set<string>();
    for (const root of this.o.roots) {
      for (const name of await fs.promises.readdir(root).catch(() => [] as string[])) if (JOB_DIR.test(name)) ids.add(name);
    }
    let removed = 0;
    for (const id of ids) {
      if (await this.o.store.getJobById(id)) continue;
      await this.o.removeJob(id);
      removed++;
    }
    if (removed > 0) this.o.logger.info({ removed }, `removed the files of ${removed} deleted job(s) from this host`);
    return removed;
  }
}
