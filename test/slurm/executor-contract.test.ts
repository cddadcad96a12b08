// The executor contract on the Slurm executor, against the real cluster of this machine (partition
// batch). Skipped, saying why, when no Slurm controller answers. Jobs run as an unprivileged user
// when the tests run as root; the shared directory lives inside the test's root.
import { describe } from 'vitest';
import { executorContract, executorsOf } from '../contract/executor.contract.ts';
import { cancelLeftovers, shareRoot, SlurmCli, slurmExecutor, testUser } from './support.ts';
import { slurmTestCluster } from '../support/slurm.ts';

const cluster = await slurmTestCluster();
const missing = cluster.ok ? undefined : cluster.why;

describe.skipIf(missing !== undefined)(`Slurm executor${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const user = missing ? undefined : testUser();
  executorContract('slurm', async ({ root }) => {
    const shared = shareRoot(root, user);
    const cli = new SlurmCli();
    return executorsOf(() => slurmExecutor(cli, shared, user), shared, async () => {
      await cancelLeftovers(cli, `job-c${process.pid}x`);
    });
  }, {
    signalAsExitCode: 'the job script is /bin/sh: it sees a death of the command by signal n as $? = 128 + n and records that (a kill stop() asked is told as SIGKILL)',
    engineEnv: { prefixes: ['SLURM_', 'SLURMD_'], reason: 'Slurm\'s own variables of the job array element (its ids, node, partition) are passed on' },
  });
});
