// GET /metrics (docs/metrics.md) against a real server process: attempt ends and running instances
// as DescribeTask counts them, API requests by action and code, the leader gauge, and --metrics off.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, simpleJob, startServer, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;

beforeAll(async () => {
  srv = await startServer({ slots: 4 });
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body }));
    }).on('error', reject);
  });
}

/** The samples of a text exposition: `name{a="x",b="y"}` → value (labels sorted by name). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!] as const);
    out.set(key(m[1]!, Object.fromEntries(labels)), Number(m[3]));
  }
  return out;
}

function key(name: string, labels: Record<string, string> = {}): string {
  const ls = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`);
  return ls.length === 0 ? name : `${name}{${ls.join(',')}}`;
}

async function scrape(port = srv.port): Promise<(name: string, labels?: Record<string, string>) => number> {
  const r = await get(port, '/metrics');
  expect(r.status).toBe(200);
  expect(r.type).toMatch(/^text\/plain/);
  const samples = parse(r.body);
  return (name, labels) => samples.get(key(name, labels)) ?? 0;
}

describe('GET /metrics', () => {
  it('counts attempt ends by outcome as DescribeTask counts the instances', async () => {
    const before = await scrape();
    const { JobId } = await c.SubmitJob!(simpleJob('[ $BATCH_TASK_INSTANCE_INDEX -ne 2 ]', { TaskInstanceNum: 3 }));
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('FAILED');
    const m = (await c.DescribeTask!({ JobId, TaskName: 'A' })).TaskInstanceMetrics;
    expect(m.SucceedCount).toBe(2);
    expect(m.FailedCount).toBe(1);
    const after = await scrape();
    const ended = (outcome: string) => after('openbatch_attempts_ended_total', { outcome }) - before('openbatch_attempts_ended_total', { outcome });
    expect(ended('succeed')).toBe(m.SucceedCount);
    expect(ended('fail')).toBe(m.FailedCount);
    expect(ended('retry')).toBe(0);
    expect(after('openbatch_attempts_started_total') - before('openbatch_attempts_started_total')).toBe(3);
    expect(after('openbatch_store_write_duration_seconds_count', { outcome: 'ok' })).toBeGreaterThan(0);
    expect(after('openbatch_scheduler_tick_duration_seconds_count')).toBeGreaterThan(0);
  });

  it('shows the running instances of active jobs as DescribeTask does', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('sleep 30', { TaskInstanceNum: 3 }));
    try {
      const running = await waitFor(async () => {
        const r = (await c.DescribeTask!({ JobId, TaskName: 'A' })).TaskInstanceMetrics.RunningCount as number;
        if (r !== 3) return undefined;
        const m = await scrape();
        return m('openbatch_instances', { state: 'RUNNING' }) === r && m('openbatch_slots', { kind: 'used' }) === r ? m : undefined;
      }, 'the 3 instances to run and /metrics to show them');
      expect(running('openbatch_jobs', { state: 'RUNNING' })).toBe(1);
      expect(running('openbatch_executor_queue_depth')).toBe(0);
      expect(running('openbatch_slots', { kind: 'total' })).toBe(4);
    } finally {
      await c.TerminateJob!({ JobId });
    }
    await waitJobDone(c, JobId);
    await waitFor(async () => ((await scrape())('openbatch_instances', { state: 'RUNNING' }) === 0 ? true : undefined), 'no instance to run');
  });

  it('counts the compute nodes of named environments as DescribeComputeEnv does', async () => {
    const { EnvId } = await c.CreateComputeEnv!({
      ComputeEnv: { EnvName: 'metrics', EnvType: 'MANAGED', DesiredComputeNodeCount: 2, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
      Placement: { Zone: 'ap-guangzhou-3' },
    });
    const { JobId } = await c.SubmitJob!(simpleJob('sleep 30', { ComputeEnv: undefined, EnvId }));
    try {
      const seen = await waitFor(async () => {
        const env = await c.DescribeComputeEnv!({ EnvId });
        const busy = env.ComputeNodeSet.filter((n: { TaskInstanceNumAvailable: number }) => n.TaskInstanceNumAvailable === 0).length;
        const running = (await c.DescribeTask!({ JobId, TaskName: 'A' })).TaskInstanceMetrics.RunningCount as number;
        if (env.ComputeNodeMetrics.RunningCount !== 2 || busy !== 1 || running !== 1) return undefined;
        const m = await scrape();
        return m('openbatch_compute_nodes', { state: 'RUNNING' }) === 2 && m('openbatch_compute_nodes_busy') === busy
          && m('openbatch_instances', { state: 'RUNNING' }) === running ? m : undefined;
      }, 'the 2 nodes to run, one of them busy with the running instance, and /metrics to show them');
      expect(seen('openbatch_compute_nodes', { state: 'DELETING' })).toBe(0);
    } finally {
      await c.TerminateJob!({ JobId });
    }
    await waitJobDone(c, JobId);
    await c.DeleteComputeEnv!({ EnvId });
    await waitFor(async () => ((await scrape())('openbatch_compute_nodes', { state: 'RUNNING' }) === 0 ? true : undefined), 'the env to go');
  });

  it('counts API requests by action and code', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('true'));
    await waitJobDone(c, JobId);
    const before = await scrape();
    const n = 5;
    for (let i = 0; i < n; i++) await c.DescribeJob!({ JobId });
    const bad = await errorOf(c.DescribeJob!({ JobId: 'bad' }));
    expect(bad.code).toBe('InvalidParameter.JobIdMalformed');
    const after = await scrape();
    const delta = (labels: Record<string, string>) => after('openbatch_api_requests_total', labels) - before('openbatch_api_requests_total', labels);
    expect(delta({ action: 'DescribeJob', code: 'OK' })).toBe(n);
    expect(delta({ action: 'DescribeJob', code: bad.code })).toBe(1);
    expect(after('openbatch_api_request_duration_seconds_count', { action: 'DescribeJob' })
      - before('openbatch_api_request_duration_seconds_count', { action: 'DescribeJob' })).toBe(n + 1);
  });

  it('says this server leads, and which version it is', async () => {
    const m = await scrape();
    expect(m('openbatch_leader')).toBe(1);
    const r = await get(srv.port, '/metrics');
    expect(r.body).toMatch(/^openbatch_build_info\{version="[^"]+"\} 1$/m);
    expect(r.body).toMatch(/^openbatch_process_cpu_seconds_total /m);
  });

  it('is not served with --metrics off', async () => {
    const off = await startServer({ args: ['--metrics', 'off'] });
    try {
      const r = await get(off.port, '/metrics');
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body).Response.Error.Code).toBe('InvalidRequest');
    } finally {
      await off.stop();
    }
  });
});
