// Jobs on a THPC_QUEUE environment survive what happens to the processes around them: a kill -9 of
// OpenBatch while arrays run (elements that end while it is down get their own exit codes from the
// status files in the shared directory, and none runs twice), and a restart of slurmctld during a
// job (and a submission while it is down, which waits with a reason and runs once it is back) or of
// slurmd. Real server, real Slurm, the official SDK. Skipped, with the
// reason in the title, where no cluster answers.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sharedDir, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';
import { cancelSlurmJobsOf, slurmTestCluster } from '../support/slurm.ts';

const slurm = await slurmTestCluster();
const title = (t: string) => (slurm.ok ? t : `${t} (skipped: ${slurm.why})`);
const bin = (cmd: string) => (slurm.ok && slurm.binDir ? path.join(slurm.binDir, cmd) : cmd);
type Inst = Record<string, any>;

const servers: TestServer[] = [];
const submitted: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  cancelSlurmJobsOf(submitted.splice(0), slurm.ok ? slurm.binDir : undefined);
});

function config(): string {
  const file = path.join(sharedDir('openbatch-thpc-cfg-'), 'config.json');
  fs.writeFileSync(file, JSON.stringify({
    slurm: { ...(slurm.ok && slurm.binDir ? { binDir: slurm.binDir } : {}), queues: [{ name: 'hpc', partition: slurm.ok ? slurm.partition : 'batch' }] },
  }));
  return file;
}

async function serve(dataDir: string, cfg: string): Promise<{ srv: TestServer; c: BatchClient; envId: string }> {
  const srv = await startServer({ dataDir, args: ['--config', cfg] });
  servers.push(srv);
  const c = srv.client();
  const submit = c.SubmitJob!.bind(c);
  c.SubmitJob = async (req: any) => {
    const r = await submit(req);
    submitted.push(r.JobId);
    return r;
  };
  const envId = (await c.DescribeComputeEnvs!({})).ComputeEnvSet.find((e: Inst) => e.EnvName === 'hpc').EnvId;
  return { srv, c, envId };
}

const job = (envId: string, command: string, n: number) => ({
  Placement: { Zone: 'ap-guangzhou-1' },
  Job: { JobName: 'restart', Tasks: [{ TaskName: 'A', TaskInstanceNum: n, EnvId: envId, Application: { DeliveryForm: 'LOCAL', Command: command } }] },
});
const instances = async (c: BatchClient, JobId: string): Promise<any[]> => (await c.DescribeTask!({ JobId, TaskName: 'A', Limit: 1000 })).TaskInstanceSet;
const activeInSlurm = (jobId: string) => execFileSync(bin('squeue'), ['-h', '-r', '-o', '%j'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`ob.${jobId}.`)).length;

function slurmctld(): { pidFile: string; binary: string } {
  const conf = execFileSync(bin('scontrol'), ['show', 'config'], { encoding: 'utf8' });
  const pidFile = /^SlurmctldPidFile\s*=\s*(\S+)/m.exec(conf)?.[1] ?? '/run/slurmctld.pid';
  const binary = ['/usr/sbin/slurmctld', '/usr/local/sbin/slurmctld'].find((f) => fs.existsSync(f)) ?? 'slurmctld';
  return { pidFile, binary };
}

/** Stop a daemon by its PID file (SIGTERM) and wait until it is gone. */
async function stopDaemon(pidFile: string, what: string): Promise<void> {
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  process.kill(pid, 'SIGTERM');
  await waitFor(async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, `${what} to stop`, 20_000);
}

describe.skipIf(!slurm.ok)(title('THPC_QUEUE jobs across restarts'), () => {
  it('a restart of slurmd while elements run: the job completes', async () => {
    const conf = execFileSync(bin('scontrol'), ['show', 'config'], { encoding: 'utf8' });
    const pidFile = /^SlurmdPidFile\s*=\s*(\S+)/m.exec(conf)?.[1] ?? '/run/slurmd.pid';
    const { c, envId } = await serve(tempDir(), config());
    const gate = path.join(sharedDir('openbatch-thpc-slurmd-'), 'gate');
    const { JobId } = await c.SubmitJob!(job(envId, `while [ ! -f ${gate} ]; do sleep 0.2; done; echo done`, 2));
    await waitFor(async () => (await instances(c, JobId)).every((i) => i.TaskInstanceState === 'RUNNING'), 'RUNNING', 60_000);
    await stopDaemon(pidFile, 'slurmd');
    try {
      fs.writeFileSync(gate, '');
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      // the project's script starts what is not running (slurmd -N localhost), with its config
      const r = spawnSync('bash', [path.join(import.meta.dirname, '../../scripts/slurm-up.sh')], { stdio: 'inherit' });
      expect(r.status).toBe(0);
    }
    expect((await waitJobDone(c, JobId, 90_000)).JobState).toBe('SUCCEED');
    expect((await instances(c, JobId)).map((i) => i.TaskInstanceState)).toEqual(['SUCCEED', 'SUCCEED']);
  });

  it('kill -9 of OpenBatch while an array runs: elements that end while it is down keep their exit codes and none runs twice', async () => {
    const dataDir = tempDir();
    const cfg = config();
    const scratch = sharedDir('openbatch-thpc-k9-');
    const gate = path.join(scratch, 'gate');
    const runs = path.join(scratch, 'runs');
    let { srv, c, envId } = await serve(dataDir, cfg);
    const cmd = `echo "$BATCH_TASK_INSTANCE_INDEX" >> ${runs}; while [ ! -f ${gate} ]; do sleep 0.2; done; exit $BATCH_TASK_INSTANCE_INDEX`;
    const { JobId } = await c.SubmitJob!(job(envId, cmd, 4));
    await waitFor(async () => (await instances(c, JobId)).every((i) => i.TaskInstanceState === 'RUNNING'), 'all RUNNING', 60_000);
    await srv.kill9();
    servers.splice(servers.indexOf(srv), 1);
    fs.writeFileSync(gate, '');
    await waitFor(async () => activeInSlurm(JobId) === 0, 'the elements to end in Slurm', 60_000);
    ({ c } = await serve(dataDir, cfg));
    expect((await waitJobDone(c, JobId, 60_000)).JobState).toBe('FAILED');
    const set = await instances(c, JobId);
    expect(set.map((i) => `${i.TaskInstanceState} ${i.ExitCode}`)).toEqual(['SUCCEED 0', 'FAILED 1', 'FAILED 2', 'FAILED 3']);
    expect(fs.readFileSync(runs, 'utf8').trim().split('\n').sort()).toEqual(['0', '1', '2', '3']);
  });

  it('a restart of slurmctld during a job: the job completes; a submission while it is down waits with a reason and runs once it is back', async () => {
    const { pidFile, binary } = slurmctld();
    const { c, envId } = await serve(tempDir(), config());
    const scratch = sharedDir('openbatch-thpc-ctld-');
    const gate = path.join(scratch, 'gate');
    const first = await c.SubmitJob!(job(envId, `while [ ! -f ${gate} ]; do sleep 0.2; done`, 2));
    await waitFor(async () => (await instances(c, first.JobId)).every((i) => i.TaskInstanceState === 'RUNNING'), 'RUNNING', 60_000);
    await stopDaemon(pidFile, 'slurmctld');
    let second: { JobId: string } | undefined;
    try {
      second = await c.SubmitJob!(job(envId, 'echo after', 1));
      await waitFor(async () => {
        const [i] = await instances(c, second!.JobId);
        return i.TaskInstanceState === 'STARTING' && i.StateReason === 'SlurmUnavailable' ? i : undefined;
      }, 'the reason while Slurm is down', 30_000);
      fs.writeFileSync(gate, '');
    } finally {
      const r = spawnSync(binary, [], { stdio: 'inherit' }); // daemonizes; keeps its saved state
      expect(r.status).toBe(0);
    }
    expect((await waitJobDone(c, first.JobId, 90_000)).JobState).toBe('SUCCEED');
    expect((await waitJobDone(c, second!.JobId, 90_000)).JobState).toBe('SUCCEED');
  });
});
