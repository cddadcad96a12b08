// slurm: 1,000 instances of `true` on a THPC_QUEUE environment, from SubmitJob to the job's SUCCEED,
// against `sbatch --array=0-999 --wrap true` on the same Slurm in the same run (timed until `squeue`
// shows none of it), interleaved. Also counts the Slurm commands OpenBatch ran, per 1,000 instances:
// its binDir is a directory of wrappers that log each call and exec the real command.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { slurmTestCluster } from '../../test/support/slurm.ts';
import { benchServer, sharedDir, sleep, stats, tempDir, type Benchmark, type Figure } from '../lib.ts';

const COMMANDS = ['sbatch', 'squeue', 'scancel', 'sinfo', 'scontrol', 'sacct'];

function realBinary(binDir: string | undefined, cmd: string): string {
  if (binDir) return path.join(binDir, cmd);
  return execFileSync('/bin/sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
}

/** A binDir whose commands append their name to `log` and exec the real ones. */
function countingBinDir(binDir: string | undefined, log: string): string {
  const dir = sharedDir('openbatch-bench-slurm-bin-');
  for (const cmd of COMMANDS) {
    const file = path.join(dir, cmd);
    fs.writeFileSync(file, `#!/bin/sh\necho ${cmd} >> '${log}'\nexec '${realBinary(binDir, cmd)}' "$@"\n`);
    fs.chmodSync(file, 0o755);
  }
  return dir;
}

async function bareArray(binDir: string | undefined, partition: string, n: number): Promise<number> {
  const t0 = Date.now();
  const id = execFileSync(realBinary(binDir, 'sbatch'), ['--parsable', `--array=0-${n - 1}`, '-p', partition, '-J', 'bench-bare', '-o', '/dev/null', '--wrap', 'true'], { encoding: 'utf8' }).trim().split(';')[0]!;
  for (;;) {
    const r = spawnSync(realBinary(binDir, 'squeue'), ['-h', '-r', '-j', id, '-o', '%i'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === '') break;
    if (r.status !== 0 && /Invalid job id/i.test(r.stderr)) break;
    await sleep(100);
  }
  return Date.now() - t0;
}

export const slurm: Benchmark = {
  name: 'slurm',
  description: '1,000 × true on a THPC_QUEUE environment vs bare sbatch --array on the same Slurm (target ≤ 1.10)',
  async run(scale) {
    const cluster = await slurmTestCluster();
    if (!cluster.ok) {
      console.log(`  skipped: ${cluster.why}`);
      return [];
    }
    const n = scale.name === 'full' ? 1000 : 100;
    const log = path.join(sharedDir('openbatch-bench-slurm-log-'), 'calls');
    const binDir = countingBinDir(cluster.binDir, log);
    const cfgFile = path.join(tempDir('openbatch-bench-slurm-cfg-'), 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ slurm: { binDir, queues: [{ name: 'hpc', partition: cluster.partition, zone: 'ap-guangzhou-2' }] } }));
    const ours: number[] = [];
    const bare: number[] = [];
    const calls: number[] = [];
    const srv = await benchServer({ args: ['--config', cfgFile] });
    try {
      const c = srv.client();
      const envId = (await c.DescribeComputeEnvs!({})).ComputeEnvSet.find((e: Record<string, any>) => e.EnvName === 'hpc').EnvId;
      for (let r = 0; r < scale.runs; r++) {
        bare.push(await bareArray(cluster.binDir, cluster.partition, n));
        fs.writeFileSync(log, '');
        const t0 = Date.now();
        const { JobId } = await c.SubmitJob!({
          Placement: { Zone: 'ap-guangzhou-2' },
          Job: { JobName: 'bench', Tasks: [{ TaskName: 'A', TaskInstanceNum: n, EnvId: envId, Application: { DeliveryForm: 'LOCAL', Command: 'true' } }] },
        });
        for (;;) {
          const j = await c.DescribeJob!({ JobId });
          if (j.JobState === 'SUCCEED') break;
          if (j.JobState === 'FAILED' || j.JobState === 'FAILED_INTERRUPTED') throw new Error(`the benchmark job ${JobId} ended ${j.JobState}`);
          await sleep(100);
        }
        ours.push(Date.now() - t0);
        calls.push((fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).length * 1000) / n);
      }
    } finally {
      await srv.stop();
    }
    const o = stats(ours), b = stats(bare);
    const figures: Figure[] = [
      {
        benchmark: 'slurm', metric: `${n} × true on a THPC_QUEUE env, SubmitJob → SUCCEED`, unit: 'ms', ...o,
        baseline: { what: `sbatch --array=0-${n - 1} until squeue is empty`, ...b }, ratio: o.median / b.median, target: '≤ 1.10',
      },
      { benchmark: 'slurm', metric: 'Slurm commands OpenBatch ran per 1,000 instances', unit: 'calls', ...stats(calls) },
    ];
    return figures;
  },
};
