// The executor contract on the Slurm executor, against the real cluster of this machine (partition
// batch). Skipped, saying why, when no Slurm controller answers. Jobs run as an unprivileged user
// when the tests run as root; the shared directory lives inside the test's root.
import fs from 'node:fs';
import path from 'node:path';
import { describe } from 'vitest';
import type { SlurmExecutor } from '../../src/executors/slurm/executor.ts';
import { executorContract } from '../contract/executor.contract.ts';
import { cancelLeftovers, shareRoot, SlurmCli, slurmExecutor, slurmMissing, testUser } from './support.ts';

const missing = slurmMissing();

describe.skipIf(missing !== undefined)(`Slurm executor${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const user = missing ? undefined : testUser();
  executorContract('slurm', async ({ root }) => {
    const shared = shareRoot(root, user);
    const cli = new SlurmCli();
    const made: SlurmExecutor[] = [];
    const create = () => {
      const ex = slurmExecutor(cli, shared, user);
      made.push(ex);
      return ex;
    };
    return {
      executor: create(),
      restart: async () => create(),
      cleanup: async () => {
        for (const ex of made) await ex.close();
        await cancelLeftovers(cli, `job-c${process.pid}x`);
      },
      blockJobDirs: async (jobId) => {
        for (const dir of ['logs', 'work']) {
          fs.mkdirSync(path.join(shared, dir), { recursive: true });
          fs.writeFileSync(path.join(shared, dir, jobId), 'a file where its directory would go');
        }
      },
    };
  }, {
    signalAsExitCode: 'the job script is /bin/sh: it sees a death of the command by signal n as $? = 128 + n and records that (a kill stop() asked is told as SIGKILL)',
    engineEnv: { prefixes: ['SLURM_', 'SLURMD_'], reason: 'Slurm\'s own variables of the job array element (its ids, node, partition) are passed on' },
  });
});
