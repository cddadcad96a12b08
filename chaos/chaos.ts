// Chaos: a job of N instances (random 0–300 ms sleeps, every tenth failing once and then passing on a
// retry) while the server is stopped K times at random moments — kill -9 or SIGTERM — and restarted
// on the same data dir. Each execution appends a marker line, so real executions can be counted.
// Afterwards every instance must be SUCCEED, have run exactly as often as its command needed
// (never twice because of a crash), the counters must agree, and every log must be there.
// With `replicas` > 1 (store PostgreSQL), several servers share one database and the one that leads
// is the one stopped each time; the instances then run on a THPC_QUEUE environment (Slurm), whose
// elements outlive any replica (local processes die with their replica's host, which one machine
// cannot stage: see docs/deploy.md).
import fs from 'node:fs';
import path from 'node:path';
import { sharedDir, startServer, tempDir, type BatchClient, type TestServer } from '../test/helpers/spawn-server.ts';
import { freshDatabase } from '../test/support/pg.ts';
import { cancelSlurmJobsOf, slurmTestCluster } from '../test/support/slurm.ts';

export interface ChaosOptions {
  instances: number;
  kills: number;
  signal: 'SIGKILL' | 'SIGTERM';
  slots: number;
  /** Random moments are drawn between these many ms after the (re)start. */
  minMs: number;
  maxMs: number;
  seed: number;
  /** Where the servers keep their data (default sqlite: the data dir's file). */
  store?: 'sqlite' | 'postgres';
  /** How many servers share the store (more than 1 needs postgres); the leader is the one stopped. */
  replicas?: number;
}

export interface ChaosReport {
  instances: number;
  kills: number;
  signal: string;
  store: string;
  replicas: number;
  engine: string;
  /** Replicas: how long after each stop of the leader another one led (ms). */
  takeoverMs: number[];
  seconds: number;
  jobState: string;
  /** Problems found (empty when everything held). */
  problems: string[];
  executions: number;
  expectedExecutions: number;
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

async function until<T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch {
      // the server may be restarting
    }
    if (Date.now() > end) throw new Error(`chaos: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Health { leading: boolean; leader?: { replica: string; epoch: number } }
const health = async (s: TestServer): Promise<Health> => (await (await fetch(`${s.url}/healthz`)).json()) as Health;

export async function chaos(o: ChaosOptions): Promise<ChaosReport> {
  const t0 = Date.now();
  const random = rng(o.seed);
  const store = o.store ?? 'sqlite';
  const replicas = o.replicas ?? 1;
  if (replicas > 1 && store !== 'postgres') throw new Error('chaos: several replicas need --store postgres');
  const slurm = replicas > 1 ? await slurmTestCluster() : undefined;
  if (slurm && !slurm.ok) throw new Error(`chaos: several replicas run the job on Slurm, and there is none: ${slurm.why}`);
  const db = store === 'postgres' ? await freshDatabase() : undefined;
  const args: string[] = [];
  if (slurm?.ok) {
    const slurmDir = tempDir('openbatch-chaos-slurm-');
    fs.chmodSync(slurmDir, 0o755);
    const cfg = path.join(tempDir('openbatch-chaos-cfg-'), 'config.json');
    fs.writeFileSync(cfg, JSON.stringify({ slurm: { ...(slurm.binDir ? { binDir: slurm.binDir } : {}), sharedDir: slurmDir, queues: [{ name: 'hpc', partition: slurm.partition }] } }));
    args.push('--config', cfg);
  }
  const dataDirs = Array.from({ length: replicas }, () => tempDir('openbatch-chaos-'));
  const marks = sharedDir('openbatch-chaos-marks-');
  const start = (i: number) => startServer({
    // a replica starts beside two others, PostgreSQL and a busy Slurm on the same machine: twice a
    // start took over 30 s (once in 2 runs of 10 stops); the harness waits longer
    dataDir: dataDirs[i], slots: o.slots, rateLimits: 'off', startTimeoutMs: 120_000, args: [...args, ...(db ? ['--store', db.url, '--replica-id', `r${i}`] : [])],
  });
  const servers: TestServer[] = [];
  for (let i = 0; i < replicas; i++) servers.push(await start(i));
  let c: BatchClient = servers[0]!.client();
  const leader = (): Promise<number> => until(async () => {
    for (let i = 0; i < replicas; i++) if ((await health(servers[i]!).catch(() => undefined))?.leading) return i;
    return undefined;
  }, 30_000, 'a replica to lead');
  const takeoverMs: number[] = [];
  const cmd = [
    `f=${marks}/$BATCH_TASK_INSTANCE_INDEX`,
    'echo run >> "$f"',
    'n=$(wc -l < "$f")',
    'sleep 0.$(printf %03d $(( (BATCH_TASK_INSTANCE_INDEX * 7919) % 300 )))',
    'echo "out $BATCH_TASK_INSTANCE_INDEX $n"',
    'if [ $((BATCH_TASK_INSTANCE_INDEX % 10)) -eq 0 ] && [ "$n" -eq 1 ]; then exit 3; fi',
  ].join('; ');
  const { JobId } = await c.SubmitJob!({
    // a queue is in the region's first zone (config slurm.queues[].zone)
    Placement: { Zone: slurm?.ok ? 'ap-guangzhou-1' : 'ap-guangzhou-2' },
    Job: {
      JobName: 'chaos',
      Tasks: [{
        TaskName: 'A', TaskInstanceNum: o.instances, MaxRetryCount: 2,
        Application: { DeliveryForm: 'LOCAL', Command: cmd },
        ...(slurm?.ok
          ? { EnvId: (await c.DescribeComputeEnvs!({})).ComputeEnvSet.find((e: { EnvName: string }) => e.EnvName === 'hpc').EnvId }
          : { ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } }),
      }],
    },
  });
  for (let k = 0; k < o.kills; k++) {
    await new Promise((r) => setTimeout(r, o.minMs + random() * (o.maxMs - o.minMs)));
    const i = replicas > 1 ? await leader() : 0;
    const epoch = replicas > 1 ? (await health(servers[i]!)).leader?.epoch ?? 0 : 0;
    const stopped = Date.now();
    if (o.signal === 'SIGKILL') await servers[i]!.kill9();
    else await servers[i]!.stop();
    if (replicas > 1) {
      // another replica leads with a newer epoch before the stopped one comes back
      const other = servers[(i + 1) % replicas]!;
      await until(async () => ((await health(other)).leader?.epoch ?? 0) > epoch && (await health(other)).leader?.replica !== `r${i}` ? true : undefined, 60_000, 'another replica to lead');
      takeoverMs.push(Date.now() - stopped);
    }
    servers[i] = await start(i);
    c = servers[(i + 1) % replicas]!.client();
  }
  const job = await until(async () => {
    const j = await c.DescribeJob!({ JobId });
    return ['SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'].includes(j.JobState) ? j : undefined;
  }, 600_000, 'the job to finish');
  const problems: string[] = [];
  if (job.JobState !== 'SUCCEED') problems.push(`job ended ${job.JobState}: ${job.StateReason}`);
  const m = job.TaskInstanceMetrics as Record<string, number>;
  if (m.SucceedCount !== o.instances) problems.push(`SucceedCount ${m.SucceedCount}, expected ${o.instances}`);
  const sum = Object.values(m).reduce((a, b) => a + b, 0);
  if (sum !== o.instances) problems.push(`counters add up to ${sum}, expected ${o.instances}`);
  // instance by instance: state, executions, logs
  let executions = 0;
  let expected = 0;
  let seen = 0;
  for (let offset = 0; offset < o.instances; offset += 1000) {
    const t = await c.DescribeTask!({ JobId, TaskName: 'A', Offset: offset, Limit: 1000 });
    for (const i of t.TaskInstanceSet as { TaskInstanceIndex: number; TaskInstanceState: string; ExitCode: number }[]) {
      seen++;
      const runs = fs.existsSync(path.join(marks, String(i.TaskInstanceIndex)))
        ? fs.readFileSync(path.join(marks, String(i.TaskInstanceIndex)), 'utf8').split('\n').filter(Boolean).length : 0;
      const want = i.TaskInstanceIndex % 10 === 0 ? 2 : 1;
      executions += runs;
      expected += want;
      if (i.TaskInstanceState !== 'SUCCEED' || i.ExitCode !== 0) problems.push(`instance ${i.TaskInstanceIndex} is ${i.TaskInstanceState} (exit ${i.ExitCode})`);
      if (runs !== want) problems.push(`instance ${i.TaskInstanceIndex} ran ${runs} times, its command needed ${want}`);
    }
  }
  if (seen !== o.instances) problems.push(`DescribeTask listed ${seen} instances, expected ${o.instances}`);
  for (let offset = 0; offset < o.instances; offset += 10) {
    const l = await c.DescribeTaskLogs!({ JobId, TaskName: 'A', Offset: offset, Limit: 10 });
    for (const x of l.TaskInstanceLogSet as { TaskInstanceIndex: number; StdoutLog: string | null }[]) {
      const text = x.StdoutLog === null ? '' : Buffer.from(x.StdoutLog.split(',')[1] ?? '', 'base64').toString();
      const want = `out ${x.TaskInstanceIndex} ${x.TaskInstanceIndex % 10 === 0 ? 2 : 1}\n`;
      if (text !== want) problems.push(`instance ${x.TaskInstanceIndex}: log ${JSON.stringify(text)}, expected ${JSON.stringify(want)}`);
    }
  }
  for (const s of servers) await s.stop();
  if (slurm?.ok) cancelSlurmJobsOf([JobId], slurm.binDir);
  await db?.drop();
  return {
    instances: o.instances, kills: o.kills, signal: o.signal, store, replicas, engine: slurm?.ok ? 'slurm' : 'local', takeoverMs,
    seconds: (Date.now() - t0) / 1000, jobState: job.JobState,
    problems: problems.slice(0, 50), executions, expectedExecutions: expected,
  };
}
