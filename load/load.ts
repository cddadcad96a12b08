// Load: C concurrent clients (the official SDK) for S seconds, mixing SubmitJob, DescribeJob(s),
// DescribeTask, DescribeTaskLogs and TerminateJob against jobs that really run. Counts every error
// by code (only RequestLimitExceeded is acceptable, and only when limits are on), latency per
// action, and the server's resident memory.
import { liveHeapMB, percentile, rssOf } from '../bench/lib.ts';
import { startServer, type BatchClient, type TestServer } from '../test/helpers/spawn-server.ts';

export interface LoadOptions {
  clients: number;
  seconds: number;
  rateLimits: 'intl' | 'mainland' | 'off';
  slots: number;
}

export interface LoadReport {
  requests: number;
  errors: Record<string, number>;
  unexpectedErrors: number;
  latency: Record<string, { count: number; p50: number; p99: number }>;
  /** Server RSS when the clients stop (the unfinished jobs they left are in memory). */
  rssMB: number;
  /** Server RSS after the jobs the run left are terminated and the server is idle again: the same
   *  state after every run, so a rise from run to run is memory the server failed to give back. */
  idleRssMB: number;
  /** Live V8 heap after the server's last full collection, once idle (needs a server run with --trace-gc). */
  idleHeapMB: number | undefined;
  /** Jobs the run left unfinished (terminated by the drain). */
  leftActive: number;
  drainSeconds: number;
}

const job = (n: number) => ({
  Placement: { Zone: 'ap-guangzhou-2' },
  Job: {
    JobName: 'load',
    Tasks: [{
      TaskName: 'A', TaskInstanceNum: n, Application: { DeliveryForm: 'LOCAL', Command: 'echo out $BATCH_TASK_INSTANCE_INDEX; sleep 0.$((BATCH_TASK_INSTANCE_INDEX % 5))' },
      ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } },
    }],
  },
});

export async function load(srv: TestServer, o: LoadOptions): Promise<LoadReport> {
  const jobs: string[] = [];
  const times = new Map<string, number[]>();
  const errors: Record<string, number> = {};
  let requests = 0;
  let unexpected = 0;
  const until = Date.now() + o.seconds * 1000;
  const call = async (c: BatchClient, action: string, req: Record<string, unknown>) => {
    const t0 = performance.now();
    requests++;
    try {
      const r = await c[action]!(req);
      const list = times.get(action) ?? [];
      list.push(performance.now() - t0);
      times.set(action, list);
      return r;
    } catch (e) {
      const code = (e as { code?: string }).code ?? `transport: ${(e as Error).message}`;
      errors[code] = (errors[code] ?? 0) + 1;
      const okLimit = code === 'RequestLimitExceeded' && o.rateLimits !== 'off';
      // terminating or deleting a job another client already finished is a legitimate answer
      const okState = (action === 'TerminateJob' && code === 'UnsupportedOperation');
      if (!okLimit && !okState) unexpected++;
      return undefined;
    }
  };
  const client = async (i: number) => {
    const c = srv.client();
    let k = 0;
    while (Date.now() < until) {
      const pick = (i + k++) % 10;
      const jobId = jobs.length ? jobs[(i * 7 + k) % jobs.length]! : undefined;
      if (pick === 0 || !jobId) {
        const r = await call(c, 'SubmitJob', job(1 + ((i + k) % 20)));
        if (r?.JobId) jobs.push(r.JobId as string);
      } else if (pick <= 3) await call(c, 'DescribeJob', { JobId: jobId });
      else if (pick === 4) await call(c, 'DescribeJobs', { Limit: 20 });
      else if (pick <= 6) await call(c, 'DescribeTask', { JobId: jobId, TaskName: 'A', Limit: 100 });
      else if (pick <= 8) await call(c, 'DescribeTaskLogs', { JobId: jobId, TaskName: 'A', Limit: 5 });
      else await call(c, 'TerminateJob', { JobId: jobId });
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
  const rssMB = +(rssOf(srv.proc.pid!) / 2 ** 20).toFixed(1);
  const t0 = performance.now();
  const leftActive = await drain(srv.client());
  const drainSeconds = +((performance.now() - t0) / 1000).toFixed(1);
  const latency: LoadReport['latency'] = {};
  for (const [a, t] of times) latency[a] = { count: t.length, p50: +percentile(t, 50).toFixed(1), p99: +percentile(t, 99).toFixed(1) };
  return {
    requests, errors, unexpectedErrors: unexpected, latency, rssMB, leftActive, drainSeconds,
    idleRssMB: +(rssOf(srv.proc.pid!) / 2 ** 20).toFixed(1), idleHeapMB: liveHeapMB(srv.output()),
  };
}

const ACTIVE = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'];

/** Terminate every unfinished job and wait until none is left. Returns how many there were. */
async function drain(c: BatchClient): Promise<number> {
  const until = Date.now() + 300_000;
  const retrying = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
    for (;;) {
      try {
        return await f();
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'RequestLimitExceeded') await new Promise((r) => setTimeout(r, 200));
        else if (code === 'UnsupportedOperation') return undefined; // finished or terminating already
        else throw e;
      }
    }
  };
  let first: number | undefined;
  for (;;) {
    const page = (await retrying(() => c.DescribeJobs!({ Filters: [{ Name: 'job-state', Values: ACTIVE }], Limit: 100 })))!;
    first ??= page.TotalCount as number;
    if (page.TotalCount === 0) return first;
    if (Date.now() > until) throw new Error(`${page.TotalCount} jobs still unfinished 300 s after the load stopped`);
    const ids = (page.JobSet as { JobId: string }[]).map((j) => j.JobId);
    for (let k = 0; k < ids.length; k += 20) {
      await Promise.all(ids.slice(k, k + 20).map((JobId) => retrying(() => c.TerminateJob!({ JobId }))));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function loadRuns(o: LoadOptions, runs: number): Promise<LoadReport[]> {
  const srv = await startServer({ rateLimits: o.rateLimits, slots: o.slots, nodeArgs: ['--trace-gc'] });
  try {
    const out: LoadReport[] = [];
    for (let r = 0; r < runs; r++) out.push(await load(srv, o));
    return out;
  } finally {
    await srv.stop();
  }
}
