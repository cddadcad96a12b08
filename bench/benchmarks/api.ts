// api: (a) DescribeTask with Limit 1000 on a task of N instances in mixed states, at any Offset, with
// and without a state filter: p50/p99 over many calls; (b) signed DescribeJob requests/s from 64
// connections, against a bare Node http server answering a fixed JSON body, same load generator.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';
import { createRequire } from 'node:module';
import { zeroCounts } from '../../src/domain/states.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { InstanceRecord } from '../../src/store/types.ts';
import { SECRET_ID, SECRET_KEY } from '../../test/helpers/spawn-server.ts';
import { benchServer, percentile, tempDir, type Benchmark, type Figure } from '../lib.ts';

const require = createRequire(import.meta.url);
// the official SDK's own TC3 signer (it returns the whole Authorization header)
const Sign = (require('tencentcloud-sdk-nodejs/tencentcloud/common/sign.js') as {
  default: { sign3: (o: Record<string, unknown>) => string };
}).default;

/** A data dir holding one finished job whose task has `n` instances in mixed states. */
export async function mixedTask(n: number): Promise<{ dataDir: string; jobId: string }> {
  const dataDir = tempDir('openbatch-api-');
  const store = new SqliteStore(path.join(dataDir, 'openbatch.db'));
  const jobId = 'job-benchapi';
  const now = Date.now();
  const states = ['SUCCEED', 'SUCCEED', 'FAILED', 'SUCCEED', 'FAILED_INTERRUPTED'] as const;
  const counts = zeroCounts();
  const rows: InstanceRecord[] = [];
  for (let i = 0; i < n; i++) {
    const state = states[i % states.length]!;
    counts[state] += 1;
    rows.push({
      jobId, taskName: 'A', index: i, state, attempt: 1, retryBase: 0, exitCode: state === 'SUCCEED' ? 0 : 1,
      stateReason: state === 'SUCCEED' ? '' : 'Exit code 1', stateDetail: '', nodeId: null, createTime: now,
      launchTime: now, runningTime: now, endTime: now, handle: null,
    });
  }
  await store.insertJob({
    id: jobId, account: 'default', region: 'ap-guangzhou', name: 'api', description: '', priority: 0, zone: 'ap-guangzhou-2',
    state: 'FAILED_INTERRUPTED', stateReason: '', nextAction: '', createTime: now, endTime: now, clientToken: null, tags: [],
    spec: { placement: { Zone: 'ap-guangzhou-2' }, dependences: [], dependOn: 'PRE_TASK_SUCCEED', job: {} },
  }, [{
    jobId, name: 'A', ord: 0, spec: { TaskName: 'A', TaskInstanceNum: n, Application: { DeliveryForm: 'LOCAL', Command: 'true' } },
    instanceNum: n, state: 'FAILED_INTERRUPTED', createTime: now, endTime: now, counts, cursor: n,
    wait: { state: 'RUNNABLE', reason: '', detail: '', endTime: null },
  }]);
  for (let i = 0; i < rows.length; i += 10_000) await store.applyBatch({ jobs: [], tasks: [], instances: rows.slice(i, i + 10_000), attempts: [] });
  await store.close();
  return { dataDir, jobId };
}

export function signedDescribeJob(port: number, jobId: string): { headers: Record<string, string>; body: string } {
  const payload = { JobId: jobId };
  const timestamp = Math.floor(Date.now() / 1000);
  const authorization = Sign.sign3({
    method: 'POST', url: `http://127.0.0.1:${port}/`, payload, timestamp, service: 'batch', secretId: SECRET_ID,
    secretKey: SECRET_KEY, multipart: false, boundary: '', headers: { 'Content-Type': 'application/json' },
  });
  return {
    body: JSON.stringify(payload),
    headers: {
      'content-type': 'application/json',
      authorization,
      'x-tc-action': 'DescribeJob', 'x-tc-version': '2017-03-12', 'x-tc-region': 'ap-guangzhou', 'x-tc-timestamp': String(timestamp),
    },
  };
}

async function load(url: string, seconds: number, req: { headers: Record<string, string>; body: string; method: 'POST' | 'GET' }) {
  const r = await autocannon({ url, connections: 64, duration: seconds, method: req.method, headers: req.headers, body: req.body });
  return { rps: r.requests.average, errors: r.errors + r.non2xx };
}

const BARE = `const http = require('node:http');
const s = http.createServer((_q, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"Response":{"JobId":"job-benchapi","RequestId":"00000000-0000-0000-0000-000000000000"}}');
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

/** The baseline: a bare Node http server answering a fixed JSON body, in a process of its own. */
async function bareServer(): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['-e', BARE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    proc.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    proc.once('exit', (code) => reject(new Error(`the bare http server exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, proc };
}

export const api: Benchmark = {
  name: 'api',
  description: 'DescribeTask Limit 1000 p50/p99 on a task in mixed states (target p99 ≤ 25 ms); signed DescribeJob req/s vs bare http (targets ≥ 0.25×, ≥ 3,000/s)',
  async run(scale) {
    const n = scale.name === 'full' ? 100_000 : 10_000;
    const calls = scale.name === 'full' ? 1000 : 100;
    const { dataDir, jobId } = await mixedTask(n);
    const srv = await benchServer({ dataDir, slots: 2 });
    const out: Figure[] = [];
    try {
      const c = srv.client();
      for (const filtered of [false, true]) {
        const times: number[] = [];
        for (let i = 0; i < calls; i++) {
          const offset = Math.floor(Math.random() * n);
          const req: Record<string, unknown> = { JobId: jobId, TaskName: 'A', Offset: filtered ? Math.floor(offset / 3) : offset, Limit: 1000 };
          if (filtered) req.Filters = [{ Name: 'task-instance-state', Values: ['FAILED'] }];
          const t0 = performance.now();
          await c.DescribeTask!(req);
          times.push(performance.now() - t0);
        }
        out.push({
          benchmark: 'api', metric: `DescribeTask Limit 1000, ${n} instances, any Offset${filtered ? ', state filter' : ''}`, unit: 'ms',
          median: percentile(times, 50), min: Math.min(...times), max: percentile(times, 99),
          target: 'p99 ≤ 25 ms', note: 'median = p50, max = p99 (SDK client: signing and JSON included)',
        });
      }
      // the baseline server runs in its own process, as ours does, so neither shares the load
      // generator's event loop; the two are measured in turn, scale.runs times each
      const seconds = scale.name === 'full' ? 10 : 3;
      const signed = signedDescribeJob(srv.port, jobId);
      const bare = await bareServer();
      const ours: number[] = [];
      const base: number[] = [];
      let errors = 0;
      try {
        for (let r = 0; r < scale.runs; r++) {
          const o = await load(srv.url, seconds, { method: 'POST', ...signed });
          ours.push(o.rps);
          errors += o.errors;
          base.push((await load(bare.url, seconds, { method: 'POST', ...signed })).rps);
        }
      } finally {
        bare.proc.kill();
      }
      const mid = percentile(ours, 50);
      const baseMid = percentile(base, 50);
      out.push({
        benchmark: 'api', metric: 'signed DescribeJob, 64 connections', unit: 'req/s', median: mid, min: Math.min(...ours), max: Math.max(...ours),
        baseline: { what: 'bare Node http, fixed JSON', median: baseMid, min: Math.min(...base), max: Math.max(...base) },
        ratio: mid / baseMid, target: '≥ 0.25 and ≥ 3,000 req/s',
        note: `errors: ${errors}; each server in its own process, the load generator on the same 2 CPUs`,
      });
    } finally {
      await srv.stop();
    }
    return out;
  },
};
