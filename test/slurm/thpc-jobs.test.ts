// What works on the local executor works on a THPC_QUEUE environment too, through the official SDK
// against a real server on the real Slurm cluster: DAG rules (a task waits for its upstream, a failed
// upstream stops it), RetryJobs of a failed job, RedirectInfo to `cos://`, DeleteJob removing what the
// job left in the shared directory, DescribeJobMonitorData answering UnsupportedOperation, a PACKAGE
// unpacked into each element's working directory, and InputMappings refused (no private mounts). Skipped,
// with the reason in the title, where no cluster answers.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';
import { cancelSlurmJobsOf, slurmTestCluster } from '../support/slurm.ts';

const slurm = await slurmTestCluster();
const title = (t: string) => (slurm.ok ? t : `${t} (skipped: ${slurm.why})`);

describe.skipIf(!slurm.ok)(title('jobs on a THPC_QUEUE environment, as on the local executor'), () => {
  let srv: TestServer;
  let c: BatchClient;
  let envId: string;
  const shared = path.join(tempDir('openbatch-thpc-jobs-'), 'shared');
  const scratch = sharedDir('openbatch-thpc-jobs-scratch-');
  const submitted: string[] = [];

  beforeAll(async () => {
    const config = path.join(sharedDir('openbatch-thpc-jobs-cfg-'), 'config.json');
    fs.mkdirSync(shared);
    fs.writeFileSync(config, JSON.stringify({
      slurm: { ...(slurm.ok && slurm.binDir ? { binDir: slurm.binDir } : {}), sharedDir: shared, queues: [{ name: 'hpc', partition: slurm.ok ? slurm.partition : 'batch', zone: 'ap-guangzhou-2' }] },
    }));
    fs.chmodSync(path.dirname(shared), 0o755);
    srv = await startServer({ args: ['--config', config] });
    c = srv.client();
    envId = (await c.DescribeComputeEnvs!({})).ComputeEnvSet.find((e: Record<string, any>) => e.EnvName === 'hpc').EnvId;
  });
  afterAll(async () => {
    await srv?.stop();
    cancelSlurmJobsOf(submitted, slurm.ok ? slurm.binDir : undefined);
  });

  const task = (TaskName: string, Command: string, over: Record<string, unknown> = {}) => ({
    TaskName, TaskInstanceNum: 1, EnvId: envId, Application: { DeliveryForm: 'LOCAL', Command }, ...over,
  });
  async function submit(tasks: Record<string, unknown>[], job: Record<string, unknown> = {}): Promise<string> {
    const { JobId } = await c.SubmitJob!({ Placement: { Zone: 'ap-guangzhou-2' }, Job: { JobName: 'thpc-jobs', Tasks: tasks, ...job } });
    submitted.push(JobId);
    return JobId;
  }
  const states = async (JobId: string) => Object.fromEntries(((await c.DescribeJob!({ JobId })).TaskSet as Record<string, any>[]).map((t) => [t.TaskName, t.TaskState]));

  it('runs a PACKAGE there (unpacked into each element\'s working directory); refuses mappings, which need private mounts', async () => {
    const pkg = tempDir('openbatch-thpc-pkg-');
    fs.writeFileSync(path.join(pkg, 'hello.sh'), '#!/bin/sh\necho "packaged $BATCH_TASK_INSTANCE_INDEX" >> "$1"\n', { mode: 0o755 });
    const objects = path.join(srv.dataDir, 'objects', 'pkg-1250000000');
    fs.mkdirSync(objects, { recursive: true });
    execFileSync('tar', ['-czf', path.join(objects, 'hello.tgz'), '-C', pkg, '.']);
    const out = path.join(scratch, 'packaged');
    const JobId = await submit([task('A', `./hello.sh ${out}`, {
      TaskInstanceNum: 2, Application: { DeliveryForm: 'PACKAGE', PackagePath: 'cos://pkg-1250000000.cos.ap-guangzhou.myqcloud.com/hello.tgz', Command: `./hello.sh ${out}` },
    })]);
    expect((await waitJobDone(c, JobId, 60_000)).JobState).toBe('SUCCEED');
    expect(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['packaged 0', 'packaged 1']);
    const e = await c.SubmitJob!({
      Placement: { Zone: 'ap-guangzhou-2' },
      Job: { JobName: 'thpc-map', Tasks: [task('A', 'true', { InputMappings: [{ SourcePath: 'cos://pkg-1250000000.cos.ap-guangzhou.myqcloud.com/', DestinationPath: '/data/in/' }] })] },
    }).catch((x: { code: string; message: string }) => x);
    expect((e as { code: string }).code).toBe('UnsupportedOperation');
    expect((e as { message: string }).message).toMatch(/Slurm/);
  });

  it('runs a task only after its upstream succeeded, and not at all after it failed', async () => {
    const order = path.join(scratch, 'order');
    const ok = await submit([task('A', `sleep 1; echo A >> ${order}`), task('B', `echo B >> ${order}`)], { Dependences: [{ StartTask: 'A', EndTask: 'B' }] });
    expect((await waitJobDone(c, ok, 60_000)).JobState).toBe('SUCCEED');
    expect(fs.readFileSync(order, 'utf8')).toBe('A\nB\n');
    const bad = await submit([task('A', 'exit 1'), task('B', `echo never >> ${order}`)], { Dependences: [{ StartTask: 'A', EndTask: 'B' }] });
    expect((await waitJobDone(c, bad, 60_000)).JobState).toBe('FAILED');
    expect((await states(bad)).A).toBe('FAILED');
    expect(fs.readFileSync(order, 'utf8')).toBe('A\nB\n');
  });

  it('runs a failed job\'s failed instances again on RetryJobs', async () => {
    const marker = path.join(scratch, 'retry-jobs');
    const JobId = await submit([task('A', `[ -f ${marker} ]`)]);
    expect((await waitJobDone(c, JobId, 60_000)).JobState).toBe('FAILED');
    fs.writeFileSync(marker, '');
    await c.RetryJobs!({ JobIds: [JobId] });
    await waitFor(async () => (await c.DescribeJob!({ JobId })).JobState === 'SUCCEED', 'the retried job to succeed', 60_000);
  });

  it('ships logs to RedirectInfo (cos://), and DeleteJob removes what the job left in the shared directory', async () => {
    const JobId = await submit([task('A', 'echo shipped', { RedirectInfo: { StdoutRedirectPath: 'cos://thpc-logs/out/' } })]);
    expect((await waitJobDone(c, JobId, 60_000)).JobState).toBe('SUCCEED');
    const obj = path.join(srv.dataDir, 'objects', 'thpc-logs', 'out', `stdout.${JobId}.A.0.log`);
    await waitFor(async () => fs.existsSync(obj), 'the shipped object');
    expect(fs.readFileSync(obj, 'utf8')).toBe('shipped\n');
    const left = () => ['logs', 'work', 'scripts', 'status'].filter((d) => fs.existsSync(path.join(shared, d, JobId)));
    expect(left()).not.toEqual([]);
    await c.DeleteJob!({ JobId });
    await waitFor(async () => left().length === 0, 'the job\'s files in the shared directory to go');
    await expect(c.DescribeJob!({ JobId })).rejects.toMatchObject({ code: 'ResourceNotFound.Job' });
  });

  it('answers DescribeJobMonitorData of an instance on Slurm with UnsupportedOperation', async () => {
    const JobId = await submit([task('A', 'true')]);
    await waitJobDone(c, JobId, 60_000);
    const e = await c.DescribeJobMonitorData!({ JobId, TaskName: 'A', TaskInstanceIndex: 0, MetricName: 'CpuUsage' }).then(() => undefined, (err: any) => err);
    expect(e?.code).toBe('UnsupportedOperation');
    expect(e?.message).toContain('Slurm');
  });
});
