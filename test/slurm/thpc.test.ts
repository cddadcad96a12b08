// THPC_QUEUE compute environments end to end, through the official SDK against a real server whose
// config names a queue on the real Slurm cluster (scripts/slurm-up.sh): the queue as an environment
// (its Slurm nodes, changes refused), jobs whose instances run as elements of one Slurm job array (as
// the run-as user, with Slurm's variables), exit codes, retries with their own logs, Timeout, pending
// reasons, TerminateJob and an scancel behind OpenBatch's back, the anonymous queue, DescribeTaskLogs
// and RedirectLocalInfo. Skipped, with the reason in the title, where no cluster answers.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, startServer, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';
import { cancelSlurmJobsOf, slurmTestCluster } from '../support/slurm.ts';

const slurm = await slurmTestCluster();
const title = (t: string) => (slurm.ok ? t : `${t} (skipped: ${slurm.why})`);
const bin = (cmd: string) => (slurm.ok && slurm.binDir ? path.join(slurm.binDir, cmd) : cmd);

type Inst = Record<string, any>;
const line = (i: Inst) => `${i.TaskInstanceState} ${i.StateReason}`;

/** The Slurm jobs of an OpenBatch job (squeue, every state Slurm still shows): `id|name|state`. */
function squeueOf(jobId: string): string[] {
  const out = execFileSync(bin('squeue'), ['-h', '-r', '-t', 'all', '-o', '%i|%j|%T'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`ob.${jobId}.`));
}

describe.skipIf(!slurm.ok)(title('THPC_QUEUE environments on Slurm'), () => {
  let srv: TestServer;
  let c: BatchClient;
  let envId: string;
  const scratch = sharedDir('openbatch-thpc-');

  beforeAll(async () => {
    const cfgDir = sharedDir('openbatch-thpc-cfg-');
    const config = path.join(cfgDir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({
      slurm: {
        ...(slurm.ok && slurm.binDir ? { binDir: slurm.binDir } : {}),
        queues: [{ name: 'hpc', partition: slurm.ok ? slurm.partition : 'batch', zone: 'ap-guangzhou-2' }],
        anonymousQueue: 'hpc',
      },
    }));
    srv = await startServer({ args: ['--config', config] });
    c = srv.client();
    // every job of this file is cancelled in Slurm at its end (a failed test leaves elements running)
    const submit = c.SubmitJob!.bind(c);
    c.SubmitJob = async (req: any) => {
      const r = await submit(req);
      submitted.push(r.JobId);
      return r;
    };
    const envs = await c.DescribeComputeEnvs!({});
    envId = envs.ComputeEnvSet.find((e: Inst) => e.EnvName === 'hpc').EnvId;
  });
  const submitted: string[] = [];
  afterAll(async () => {
    await srv?.stop();
    cancelSlurmJobsOf(submitted, slurm.ok ? slurm.binDir : undefined);
  });

  const job = (command: string, task: Record<string, unknown> = {}, jobOver: Record<string, unknown> = {}) => ({
    Placement: { Zone: 'ap-guangzhou-2' },
    Job: {
      JobName: 'thpc',
      Tasks: [{ TaskName: 'A', TaskInstanceNum: 1, EnvId: envId, Application: { DeliveryForm: 'LOCAL', Command: command }, ...task }],
      ...jobOver,
    },
  });
  const instances = async (JobId: string, TaskName = 'A'): Promise<any[]> => (await c.DescribeTask!({ JobId, TaskName, Limit: 1000 })).TaskInstanceSet;
  const logOf = async (JobId: string, index: number): Promise<string> => {
    const r = await c.DescribeTaskLogs!({ JobId, TaskName: 'A', TaskInstanceIndexes: [index] });
    return Buffer.from(String(r.TaskInstanceLogSet[0].StdoutLog).replace(/^data:[^,]*,/, ''), 'base64').toString();
  };

  it('shows the queue as a THPC_QUEUE environment with the partition\'s Slurm nodes; changes answer UnsupportedOperation', async () => {
    const d = await c.DescribeComputeEnv!({ EnvId: envId });
    expect(d).toMatchObject({ EnvId: envId, EnvName: 'hpc', EnvType: 'THPC_QUEUE', Placement: { Zone: 'ap-guangzhou-2' } });
    const node = d.ComputeNodeSet.find((n: Inst) => n.ComputeNodeInstanceId === 'localhost');
    expect(node).toMatchObject({ ComputeNodeState: 'RUNNING' });
    expect(node.Cpu).toBeGreaterThan(0);
    expect(d.ComputeNodeMetrics.RunningCount).toBeGreaterThanOrEqual(1);
    for (const call of [() => c.ModifyComputeEnv!({ EnvId: envId, DesiredComputeNodeCount: 2 }), () => c.DeleteComputeEnv!({ EnvId: envId })]) {
      const e = await call().then(() => undefined, (err: any) => err);
      expect(e?.code).toBe('UnsupportedOperation');
      expect(e?.message).toContain('managed by the Slurm cluster');
    }
    // the same EnvId for another account: the cluster is the operator's
    await expect(c.CreateComputeEnv!({ ComputeEnv: { EnvName: 'x', EnvType: 'THPC_QUEUE', DesiredComputeNodeCount: 0, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } }, Placement: { Zone: 'ap-guangzhou-2' } }))
      .rejects.toMatchObject({ code: 'UnsupportedOperation' });
  });

  it('runs every instance of a task as an element of one Slurm job array, as the run-as user, with BATCH_* and Slurm\'s variables; exit codes decide', async () => {
    const gate = path.join(scratch, 'gate-array');
    const cmd = `while [ ! -f ${gate} ]; do sleep 0.2; done; echo "$BATCH_TASK_INSTANCE_INDEX $SLURM_ARRAY_TASK_ID $(id -un) $GREETING \${SLURM_JOB_ID:+slurm}"; exit $((BATCH_TASK_INSTANCE_INDEX == 2 ? 3 : 0))`;
    const { JobId } = await c.SubmitJob!(job(cmd, { TaskInstanceNum: 3, EnvVars: [{ Name: 'GREETING', Value: 'hi there' }] }));
    // all three are in Slurm, under one array job named after the job and the task
    const seen = await waitFor(async () => {
      const rows = squeueOf(JobId);
      return rows.length === 3 ? rows : undefined;
    }, 'the array in squeue');
    expect(new Set(seen.map((r) => r.split('|')[0]!.split('_')[0])).size).toBe(1);
    expect(seen.every((r) => r.split('|')[1] === `ob.${JobId}.A`)).toBe(true);
    await waitFor(async () => (await instances(JobId)).every((i) => i.TaskInstanceState === 'RUNNING'), 'all RUNNING');
    expect((await instances(JobId)).map((i) => i.ComputeNodeInstanceId)).toEqual(['localhost', 'localhost', 'localhost']);
    fs.writeFileSync(gate, '');
    const j = await waitJobDone(c, JobId, 60_000);
    expect(j.JobState).toBe('FAILED');
    const set = await instances(JobId);
    expect(set.map(line)).toEqual(['SUCCEED ', 'SUCCEED ', 'FAILED Exit code 3']);
    expect(set[2].ExitCode).toBe(3);
    for (const i of [0, 1, 2]) expect(await logOf(JobId, i)).toBe(`${i} ${i} openbatch-task hi there slurm\n`);
  });

  it('reruns only the failed elements for MaxRetryCount, each attempt with its own logs', async () => {
    const marker = path.join(scratch, 'retry');
    const cmd = `echo "attempt of $BATCH_TASK_INSTANCE_INDEX"; if [ "$BATCH_TASK_INSTANCE_INDEX" = 1 ] && [ ! -f ${marker} ]; then touch ${marker}; exit 7; fi`;
    const { JobId } = await c.SubmitJob!(job(cmd, { TaskInstanceNum: 2, MaxRetryCount: 1 }));
    expect((await waitJobDone(c, JobId, 60_000)).JobState).toBe('SUCCEED');
    const set = await instances(JobId);
    expect(set.map(line)).toEqual(['SUCCEED ', 'SUCCEED ']);
    const logs = await c.DescribeTaskLogs!({ JobId, TaskName: 'A', TaskInstanceIndexes: [1] });
    expect(logs.TaskInstanceLogSet).toHaveLength(1);
  });

  it('ends an element that outlives Timeout as FAILED Timeout, and passes the time limit to Slurm rounded up to minutes', async () => {
    const { JobId } = await c.SubmitJob!(job('sleep 120', { Timeout: 3 }));
    const row = await waitFor(async () => {
      const out = execFileSync(bin('squeue'), ['-h', '-r', '-o', '%j|%l'], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith(`ob.${JobId}.`));
      return out;
    }, 'the element in squeue');
    expect(row.split('|')[1]).toBe('1:00');
    await waitJobDone(c, JobId, 60_000);
    expect((await instances(JobId)).map(line)).toEqual(['FAILED Timeout']);
  });

  it('shows Slurm\'s pending reason on an instance that waits in the queue, and TerminateJob cancels running and pending elements', async () => {
    // a job that holds every CPU of the cluster's node, then one that must wait for them
    const node = (await c.DescribeComputeEnv!({ EnvId: envId })).ComputeNodeSet.find((n: Inst) => n.ComputeNodeInstanceId === 'localhost');
    const cpus: number = node.Cpu;
    const blocker = await c.SubmitJob!(job('sleep 300', { TaskInstanceNum: cpus }));
    await waitFor(async () => (await instances(blocker.JobId)).every((i) => i.TaskInstanceState === 'RUNNING'), 'the blocker RUNNING', 60_000);
    const waiting = await c.SubmitJob!(job('sleep 300'));
    const w = await waitFor(async () => {
      const [i] = await instances(waiting.JobId);
      return i.TaskInstanceState === 'STARTING' && ['Resources', 'Priority'].includes(i.StateReason) ? i : undefined;
    }, 'a Slurm pending reason', 60_000);
    expect(w.StateDetailedReason).toMatch(/./);
    const t0 = Date.now();
    await c.TerminateJob!({ JobId: blocker.JobId });
    await c.TerminateJob!({ JobId: waiting.JobId });
    for (const id of [blocker.JobId, waiting.JobId]) {
      await waitJobDone(c, id, 15_000);
      expect((await instances(id)).every((i) => line(i) === 'FAILED Terminated')).toBe(true);
    }
    expect(Date.now() - t0).toBeLessThan(15_000 + 5_000);
    await waitFor(async () => squeueOf(blocker.JobId).every((r) => !/RUNNING|PENDING|COMPLETING/.test(r)) && squeueOf(waiting.JobId).every((r) => !/RUNNING|PENDING|COMPLETING/.test(r)), 'nothing of them left running in Slurm', 15_000);
  });

  it('ends an element cancelled in Slurm behind OpenBatch\'s back as FAILED, with a reason that says so', async () => {
    const { JobId } = await c.SubmitJob!(job('sleep 300'));
    await waitFor(async () => (await instances(JobId))[0].TaskInstanceState === 'RUNNING', 'RUNNING');
    const id = squeueOf(JobId)[0]!.split('|')[0]!;
    execFileSync(bin('scancel'), [id]);
    await waitJobDone(c, JobId, 30_000);
    const [i] = await instances(JobId);
    expect(line(i)).toBe('FAILED CancelledInSlurm');
    expect(i.StateDetailedReason).toMatch(/cancelled in Slurm/i);
  });

  it('runs a task of the anonymous compute environment on the anonymous queue', async () => {
    const { JobId } = await c.SubmitJob!({
      Placement: { Zone: 'ap-guangzhou-2' },
      Job: { JobName: 'anon', Tasks: [{ TaskName: 'A', TaskInstanceNum: 1, Application: { DeliveryForm: 'LOCAL', Command: 'echo "$SLURM_JOB_PARTITION"' }, ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } } }] },
    });
    expect((await waitJobDone(c, JobId, 60_000)).JobState).toBe('SUCCEED');
    expect((await instances(JobId))[0].ComputeNodeInstanceId).toBe('localhost');
    expect(await logOf(JobId, 0)).toBe(`${slurm.ok ? slurm.partition : ''}\n`);
  });

  it('ships the logs of every attempt to RedirectLocalInfo, as on the local executor', async () => {
    const { JobId } = await c.SubmitJob!(job('echo to-stdout; echo to-stderr >&2', { RedirectLocalInfo: { StdoutLocalPath: '/thpc-out/', StderrLocalPath: '/thpc-out/' } }));
    const out = path.join(srv.dataDir, 'local', 'thpc-out');
    expect((await waitJobDone(c, JobId, 60_000)).JobState).toBe('SUCCEED');
    const files = await waitFor(async () => {
      const f = fs.readdirSync(out);
      return f.length >= 2 ? f : undefined;
    }, 'the shipped logs');
    const text = files.map((f) => fs.readFileSync(path.join(out, f), 'utf8')).sort();
    expect(text).toEqual(['to-stderr\n', 'to-stdout\n']);
  });
});
