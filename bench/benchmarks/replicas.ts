// replicas: OpenBatch server replicas sharing one PostgreSQL database (--store postgres://…) —
// (1) signed DescribeJob req/s and p50/p99 from C connections to one replica, against the same C
// connections split over two replicas, in turn in the same run; (2) failover: three replicas, kill -9
// the leader again and again (restarted each time), time from the kill until a survivor's /healthz
// shows a new leader with a higher epoch; once, how long a job submitted just before the kill takes.
import fs from 'node:fs';
import http from 'node:http';
import autocannon from 'autocannon';
import { freshDatabase, pgSkipReason } from '../../test/support/pg.ts';
import { benchServer, jobOf, percentile, sleep, stats, tempDir, waitJob, type Benchmark, type Figure, type TestServer } from '../lib.ts';
import { signedDescribeJob } from './api.ts';

/** What /healthz says of leadership (src/scheduler/replica.ts LeadershipStatus). */
interface Health {
  status: string;
  replica: string;
  leading: boolean;
  leader?: { holder: string; replica: string; epoch: number };
}

interface Replica {
  id: string;
  dataDir: string;
  srv: TestServer;
}

function startReplica(url: string, id: string, dataDir = tempDir(`openbatch-bench-${id}-`)): Promise<Replica> {
  return benchServer({ dataDir, slots: 4, args: ['--store', url, '--replica-id', id] }).then((srv) => ({ id, dataDir, srv }));
}

/** GET /healthz as JSON (undefined when the replica does not answer within a second). */
function health(port: number): Promise<Health | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Health);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Poll every `everyMs` until `fn` gives a value; throws after `timeoutMs`. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 20): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The replica that says it leads, with its epoch. */
async function leaderOf(rs: Replica[]): Promise<{ r: Replica; epoch: number }> {
  return until('a replica that leads', async () => {
    for (const r of rs) {
      const h = await health(r.srv.port);
      if (h?.status === 'ok' && h.leading && h.leader) return { r, epoch: h.leader.epoch };
    }
    return undefined;
  });
}

// ---------------------------------------------------------------- (1) DescribeJob through replicas

/** One signed DescribeJob answered with the job (the load below checks HTTP statuses only). */
async function preflight(port: number, jobId: string): Promise<void> {
  const s = signedDescribeJob(port, jobId);
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: s.headers, body: s.body });
  const body = (await res.json()) as { Response?: { JobId?: string; Error?: { Code: string } } };
  if (body.Response?.JobId !== jobId) throw new Error(`DescribeJob on port ${port} did not answer the job: ${JSON.stringify(body)}`);
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(port: number, jobId: string, connections: number, seconds: number): Promise<Load> {
  const s = signedDescribeJob(port, jobId);
  const r = await autocannon({ url: `http://127.0.0.1:${port}`, connections, duration: seconds, method: 'POST', headers: s.headers, body: s.body });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts };
}

async function describeThroughput(url: string, connections: number, seconds: number, warmSeconds: number, runs: number): Promise<Figure[]> {
  const one: Load[] = [];
  const two: number[] = [];
  let errors = 0;
  const started = await Promise.allSettled([startReplica(url, 'r1'), startReplica(url, 'r2')]);
  const [r1, r2] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  try {
    if (!r1 || !r2) throw (started.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason;
    const c = r1.srv.client();
    const { JobId } = await c.SubmitJob!(jobOf('true', 1));
    await waitJob(c, JobId);
    await preflight(r1.srv.port, JobId);
    await preflight(r2.srv.port, JobId);
    // a fresh server answers far slower for its first seconds (JIT, pool): both are warmed up first
    await Promise.all([r1, r2].map((r) => load(r.srv.port, JobId, connections / 2, warmSeconds)));
    // both replicas stay up throughout; one then two, or two then one, run after run
    const oneReplica = async () => {
      const a = await load(r1.srv.port, JobId, connections, seconds);
      one.push(a);
      errors += a.errors;
    };
    const twoReplicas = async () => {
      const [b1, b2] = await Promise.all([r1, r2].map((r) => load(r.srv.port, JobId, connections / 2, seconds)));
      two.push(b1!.rps + b2!.rps);
      errors += b1!.errors + b2!.errors;
    };
    for (let r = 0; r < runs; r++) {
      if (r % 2 === 0) await oneReplica().then(twoReplicas);
      else await twoReplicas().then(oneReplica);
    }
  } finally {
    await Promise.all([r1?.srv.stop(), r2?.srv.stop()]);
    for (const r of [r1, r2]) if (r) fs.rmSync(r.dataDir, { recursive: true, force: true });
  }
  const o = stats(one.map((x) => x.rps));
  const t = stats(two);
  const p50s = one.map((x) => x.p50);
  const p99s = one.map((x) => x.p99);
  const note = 'this machine has 2 CPUs, shared by both replicas, PostgreSQL and the load generator';
  return [
    {
      benchmark: 'replicas', metric: `signed DescribeJob, ${connections} connections, 2 replicas (${connections / 2} each)`, unit: 'req/s', ...t,
      baseline: { what: `1 replica, ${connections} connections`, ...o }, ratio: t.median / o.median, target: 'up to 2 (more CPUs)',
      note: `errors: ${errors}; ${note}`,
    },
    {
      benchmark: 'replicas', metric: `signed DescribeJob latency, 1 replica, ${connections} connections`, unit: 'ms',
      median: percentile(p50s, 50), min: Math.min(...p50s), max: percentile(p99s, 50),
      note: 'median = p50, max = p99 (medians over the runs); min = the lowest p50',
    },
  ];
}

// ---------------------------------------------------------------- (2) failover

async function failover(url: string, kills: number): Promise<Figure[]> {
  const rs: Replica[] = [];
  let back: Promise<Replica> | undefined;
  const times: number[] = [];
  let jobMs: number | undefined;
  let jobState = '';
  try {
    const started = await Promise.allSettled(['f1', 'f2', 'f3'].map((id) => startReplica(url, id)));
    for (const x of started) if (x.status === 'fulfilled') rs.push(x.value);
    if (rs.length < 3) throw (started.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason;
    for (let k = 0; k < kills; k++) {
      const { r: dead, epoch } = await leaderOf(rs);
      const survivors = rs.filter((r) => r !== dead);
      // the first time: a job submitted to the leader just before it is killed
      const jobId = k === 0 ? (await dead.srv.client().SubmitJob!(jobOf('sleep 1', 4))).JobId as string : undefined;
      const t0 = performance.now();
      await dead.srv.kill9();
      await until('a new leader', async () => {
        for (const s of survivors) {
          const h = await health(s.srv.port);
          if (h?.leader && h.leader.epoch > epoch && h.leader.replica !== dead.id) return true;
        }
        return undefined;
      }, 60_000);
      times.push(performance.now() - t0);
      // the killed replica comes back on its own data dir and stands by (not after the last kill),
      // while the job submitted before the kill, if any, runs to its end on the new leader
      back = k + 1 < kills ? startReplica(url, dead.id, dead.dataDir) : undefined;
      if (jobId !== undefined) {
        const c = survivors[0]!.srv.client();
        jobState = await until('the job submitted before the kill to finish', async () => {
          const s = (await c.DescribeJob!({ JobId: jobId })).JobState as string;
          return ['SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'].includes(s) ? s : undefined;
        }, 120_000, 50);
        jobMs = performance.now() - t0;
      }
      if (back) rs[rs.indexOf(dead)] = await back;
      back = undefined;
    }
  } finally {
    const late = await back?.catch(() => undefined);
    const all = [...rs, ...(late ? [late] : [])];
    await Promise.all(all.map((r) => r.srv.stop()));
    for (const r of all) fs.rmSync(r.dataDir, { recursive: true, force: true });
  }
  const out: Figure[] = [{
    benchmark: 'replicas', metric: `failover: kill -9 of the leader of 3 → a survivor's /healthz shows a higher epoch (${kills} kills)`, unit: 's',
    ...stats(times.map((t) => t / 1000)), target: '≤ 5 s', note: 'lease TTL 3 s, renewed every 1 s, asked for every 0.5 s by the standbys; /healthz polled every 20 ms',
  }];
  if (jobMs !== undefined) {
    out.push({
      benchmark: 'replicas', metric: 'failover: a job of 4 × `sleep 1` submitted just before the kill, kill → finished', unit: 's',
      median: jobMs / 1000, min: jobMs / 1000, max: jobMs / 1000, note: `once, informational; it ended ${jobState}`,
    });
  }
  return out;
}

export const replicas: Benchmark = {
  name: 'replicas',
  description: 'replicas on one PostgreSQL: signed DescribeJob req/s through 2 replicas vs 1 (same connections); failover time after kill -9 of the leader (target ≤ 5 s)',
  async run(scale) {
    const why = await pgSkipReason();
    if (why) {
      console.log(`  skipped: ${why}`);
      return [];
    }
    const full = scale.name === 'full';
    const out: Figure[] = [];
    for (const part of ['describe', 'failover'] as const) {
      const db = await freshDatabase();
      try {
        if (part === 'describe') out.push(...(await describeThroughput(db.url, 64, full ? 10 : 2, full ? 3 : 1, scale.runs)));
        else out.push(...(await failover(db.url, full ? 5 : 2)));
      } finally {
        await db.drop();
      }
    }
    return out;
  },
};
