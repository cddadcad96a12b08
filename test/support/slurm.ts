// Test helper: is there a Slurm cluster to test against? One that scripts/slurm-up.sh starts
// (partition `batch` with node `localhost` in a usable state), found on the PATH or in the directory
// SLURM_BIN_DIR names. Test files skip with the reason in their title when there is none:
//
//   const slurm = await slurmTestCluster();
//   describe.skipIf(!slurm.ok)(`the Slurm executor${slurm.ok ? '' : ` (skipped: ${slurm.why})`}`, () => { … });
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SlurmCli } from '../../src/executors/slurm/cli.ts';
import { listNodes } from '../../src/executors/slurm/nodes.ts';

export type SlurmTestCluster = { ok: true; partition: string; binDir?: string } | { ok: false; why: string };

const PARTITION = 'batch';
const NODE = 'localhost';
let found: Promise<SlurmTestCluster> | undefined;

/** The test cluster, or why there is none (asked once per test process). */
export function slurmTestCluster(): Promise<SlurmTestCluster> {
  found ??= look();
  return found;
}

async function look(): Promise<SlurmTestCluster> {
  const binDir = process.env.SLURM_BIN_DIR || undefined;
  const dirs = binDir ? [binDir] : (process.env.PATH ?? '').split(':').filter((d) => d !== '');
  if (!dirs.some((d) => isExecutable(path.join(d, 'sinfo')))) {
    return { ok: false, why: `no Slurm: sinfo is not ${binDir ? `in SLURM_BIN_DIR ${binDir}` : 'on the PATH'} (scripts/slurm-up.sh starts a cluster)` };
  }
  const cli = new SlurmCli({ ...(binDir ? { binDir } : {}), timeoutMs: 10_000, retryForMs: 5_000 });
  let nodes;
  try {
    nodes = await listNodes(cli, [PARTITION]);
  } catch (e) {
    return { ok: false, why: `Slurm does not answer (${(e as Error).message}; scripts/slurm-up.sh starts a cluster)` };
  }
  const node = nodes.find((n) => n.name === NODE);
  if (!node) {
    return { ok: false, why: `Slurm partition ${PARTITION} has no node ${NODE} (nodes: ${nodes.map((n) => n.name).join(', ') || 'none'}; scripts/slurm-up.sh makes one)` };
  }
  if (node.state !== 'RUNNING') {
    return { ok: false, why: `Slurm node ${NODE} is ${node.slurmState}${node.reason ? ` (${node.reason})` : ''}, not usable` };
  }
  return { ok: true, partition: PARTITION, ...(binDir ? { binDir } : {}) };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Cancel whatever Slurm still holds of these OpenBatch jobs (a failed test leaves its elements
 *  running: they outlive the server by design). Only these jobs' arrays, found by their names. */
export function cancelSlurmJobsOf(jobIds: Iterable<string>, binDir?: string): void {
  const scancel = binDir ? path.join(binDir, 'scancel') : 'scancel';
  const squeue = binDir ? path.join(binDir, 'squeue') : 'squeue';
  const want = new Set([...jobIds].map((id) => `ob.${id}.`));
  if (want.size === 0) return;
  let out = '';
  try {
    out = execFileSync(squeue, ['-h', '-o', '%F|%j'], { encoding: 'utf8', timeout: 15_000 });
  } catch {
    return; // no controller: nothing can be cancelled
  }
  const ids = new Set<string>();
  for (const line of out.split('\n')) {
    const [job, name] = line.split('|');
    if (job && name && [...want].some((w) => name.startsWith(w))) ids.add(job);
  }
  if (ids.size > 0) spawnSync(scancel, [...ids], { timeout: 15_000 });
}
