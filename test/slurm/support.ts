// What the Slurm executor's tests share (whether a cluster answers is test/support/slurm.ts's): the
// unprivileged user their jobs run as when the tests run as root, a test directory
// that user can use, executors on it, and cancelling whatever a test left in Slurm (only the jobs of
// this test process, found by their job names).
import fs from 'node:fs';
import path from 'node:path';
import { SlurmCli } from '../../src/executors/slurm/cli.ts';
import { SlurmExecutor, type SlurmExecutorOptions } from '../../src/executors/slurm/executor.ts';
import { resolveTaskUsers, type RunUser } from '../../src/executors/local/run-as.ts';

export const PARTITION = 'batch';

/** The user the tests' jobs run as: an unprivileged one when the tests run as root, else none (a
 *  server that is not root submits as itself). */
export function testUser(): RunUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return resolveTaskUsers({ defaultAccount: 'acc', accounts: [{ id: 'acc' }] }, () => {}).get('acc');
}

/** Make `root` usable by the jobs' user (gates and marker files are written there). */
export function shareRoot(root: string, user: RunUser | undefined): string {
  if (user) fs.chownSync(root, user.uid, user.gid);
  fs.chmodSync(root, 0o755);
  const shared = path.join(root, 'shared');
  fs.mkdirSync(shared, { recursive: true });
  fs.chmodSync(shared, 0o711);
  return shared;
}

export function slurmExecutor(cli: SlurmCli, shared: string, user: RunUser | undefined, o: Partial<SlurmExecutorOptions> = {}): SlurmExecutor {
  return new SlurmExecutor({
    cli, sharedDir: shared, partitionOf: (q) => (q === PARTITION ? PARTITION : undefined), defaultQueue: PARTITION,
    userOf: (account) => (account === 'acc' ? user : undefined), pollMs: 200, settleMs: 600, ...o,
  });
}

/** Cancel the pending or running jobs of this test process whose name starts with `ob.<prefix>`. */
export async function cancelLeftovers(cli: SlurmCli, prefix: string): Promise<string[]> {
  const out = await cli.run('squeue', ['-h', '-o', '%F|%j'], { retryForMs: 5_000 }).catch(() => '');
  const ids = new Set<string>();
  for (const line of out.split('\n')) {
    const [job, name] = line.split('|');
    if (job && name?.startsWith(`ob.${prefix}`)) ids.add(job);
  }
  if (ids.size > 0) await cli.run('scancel', [...ids], { retryForMs: 5_000 }).catch(() => '');
  return [...ids];
}

export { SlurmCli };
