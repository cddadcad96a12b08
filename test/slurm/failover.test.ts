// Failover of the control plane: three replicas on one PostgreSQL database, a job of 1,000 instances
// on a THPC_QUEUE environment (Slurm), and the leading replica killed with SIGKILL twice while the job
// runs (each time started again, as a supervisor would). Another replica takes over, takes the Slurm
// arrays back and goes on: every instance runs exactly once (each appends a line to a file of its
// own), every replica counts the same, and the log of every instance is there. Real servers, real
// Slurm, real PostgreSQL, the official SDK; skipped, with the reason in the title, without them.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedDir, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';
import { freshDatabase, pgSkipReason } from '../support/pg.ts';
import { cancelSlurmJobsOf, slurmTestCluster } from '../support/slurm.ts';

const slurm = await slurmTestCluster();
const pgWhy = await pgSkipReason();
const why = !slurm.ok ? slurm.why : pgWhy;
const title = (t: string) => (why ? `${t} (skipped: ${why})` : t);
const N = 1000;

const submitted: string[] = [];
const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  cancelSlurmJobsOf(submitted, slurm.ok ? slurm.binDir : undefined);
  for (const d of drops) await d().catch(() => undefined);
});

interface Health { replica: string; leading: boolean; leader?: { replica: string; epoch: number } }
const health = async (s: TestServer): Promise<Health> => (await (await fetch(`${s.url}/healthz`)).json()) as Health;
const b64 = (s: string | null) => (s === null ? '' : Buffer.from(s.replace(/^data:[^,]*,/, ''), 'base64').toString());

describe.skipIf(why !== undefined)(title('three replicas on one PostgreSQL'), () => {
  it(`lose their leader twice during a ${N}-instance THPC_QUEUE job: every instance runs exactly once, every replica counts the same, every log is there`, async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const slurmDir = tempDir('openbatch-failover-slurm-');
    fs.chmodSync(slurmDir, 0o755);
    const out = sharedDir('openbatch-failover-out-');
    const cfg = path.join(tempDir('openbatch-failover-cfg-'), 'config.json');
    fs.writeFileSync(cfg, JSON.stringify({
      slurm: { ...(slurm.ok && slurm.binDir ? { binDir: slurm.binDir } : {}), sharedDir: slurmDir, queues: [{ name: 'hpc', partition: slurm.ok ? slurm.partition : 'batch' }] },
    }));
    const dirs = [0, 1, 2].map(() => tempDir('openbatch-replica-'));
    const start = (i: number) => startServer({ dataDir: dirs[i], args: ['--config', cfg, '--store', db.url, '--replica-id', `r${i}`] });
    const servers: TestServer[] = [];
    for (let i = 0; i < 3; i++) servers.push(await start(i));
    const client = (i: number): BatchClient => servers[i]!.client();
    const leaderIndex = async (): Promise<number> => waitFor(async () => {
      for (let i = 0; i < 3; i++) {
        const h = await health(servers[i]!).catch(() => undefined);
        if (h?.leading) return i + 1;
      }
      return undefined;
    }, 'a replica to lead', 30_000).then((i) => i - 1);

    const envId = (await client(1).DescribeComputeEnvs!({})).ComputeEnvSet.find((e: { EnvName: string }) => e.EnvName === 'hpc').EnvId;
    const { JobId } = await client(1).SubmitJob!({
      Placement: { Zone: 'ap-guangzhou-1' },
      Job: {
        JobName: 'failover',
        Tasks: [{
          TaskName: 'A', TaskInstanceNum: N, EnvId: envId,
          Application: { DeliveryForm: 'LOCAL', Command: `echo x >> ${out}/$BATCH_TASK_INSTANCE_INDEX; echo out-$BATCH_TASK_INSTANCE_INDEX; echo err-$BATCH_TASK_INSTANCE_INDEX >&2` },
        }],
      },
    });
    submitted.push(JobId);

    const epochs: number[] = [];
    for (const atLeast of [Math.floor(N / 5), Math.floor(N / 2)]) {
      const lead = await leaderIndex();
      const other = (lead + 1) % 3;
      await waitFor(async () => (await client(other).DescribeJob!({ JobId })).TaskInstanceMetrics.SucceedCount >= atLeast, `${atLeast} instances to succeed`, 300_000, 500);
      epochs.push((await health(servers[lead]!)).leader!.epoch);
      await servers[lead]!.kill9();
      // a survivor leads within the lease and its retry, with a new epoch
      const next = await waitFor(async () => {
        const h = await health(servers[other]!);
        return h.leader && h.leader.replica !== `r${lead}` && h.leader.epoch > epochs.at(-1)! ? h.leader : undefined;
      }, 'a survivor to lead', 15_000);
      expect(next.replica).toMatch(/^r[0-2]$/);
      servers[lead] = await start(lead);
    }

    const done = await waitJobDone(client(0), JobId, 600_000);
    expect(done.JobState).toBe('SUCCEED');
    // exactly once: one line in each instance's file, and no file for an index that does not exist
    const ran = fs.readdirSync(out).sort((a, b) => Number(a) - Number(b));
    expect(ran).toEqual(Array.from({ length: N }, (_, i) => String(i)));
    const twice = ran.filter((f) => fs.readFileSync(path.join(out, f), 'utf8') !== 'x\n');
    expect(twice).toEqual([]);
    // every replica counts the same
    for (let i = 0; i < 3; i++) {
      const j = await client(i).DescribeJob!({ JobId });
      expect(j.JobState).toBe('SUCCEED');
      expect(j.TaskInstanceMetrics).toMatchObject({ SucceedCount: N, FailedCount: 0, RunningCount: 0, SubmittedCount: 0, PendingCount: 0, RunnableCount: 0, StartingCount: 0 });
      expect(j.TaskMetrics).toMatchObject({ SucceedCount: 1 });
      let succeeded = 0;
      for (let offset = 0; offset < N; offset += 1000) {
        const t = await client(i).DescribeTask!({ JobId, TaskName: 'A', Offset: offset, Limit: 1000 });
        expect(t.TaskInstanceTotalCount).toBe(N);
        succeeded += t.TaskInstanceSet.filter((x: { TaskInstanceState: string }) => x.TaskInstanceState === 'SUCCEED').length;
      }
      expect(succeeded).toBe(N);
    }
    // every log is there, on whichever replica answers
    const missing: string[] = [];
    let seen = 0;
    for (let offset = 0; offset < N; offset += 10) {
      const logs = await client(offset % 3).DescribeTaskLogs!({ JobId, TaskName: 'A', Offset: offset, Limit: 10 });
      for (const l of logs.TaskInstanceLogSet as { TaskInstanceIndex: number; StdoutLog: string | null; StderrLog: string | null }[]) {
        seen++;
        if (b64(l.StdoutLog) !== `out-${l.TaskInstanceIndex}\n` || b64(l.StderrLog) !== `err-${l.TaskInstanceIndex}\n`) missing.push(String(l.TaskInstanceIndex));
      }
    }
    expect(missing).toEqual([]);
    expect(seen).toBe(N);
    for (const s of servers) await s.stop();
  }, 900_000);
});
