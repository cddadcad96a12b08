// scale: one task of N (1,000,000) instances — SubmitJob time, the server's resident memory while
// the task is queued and while it runs at C = 32, DescribeTask at Offset N-1000, data dir bytes per
// instance that ran. (Peers: AWS Batch arrays ≤ 10,000; Google Cloud Batch ≤ 100,000 tasks per group;
// Kubernetes Indexed Jobs ≤ 100,000 parallelism.)
import fs from 'node:fs';
import path from 'node:path';
import { benchServer, dirBytes, percentile, rssOf, sharedDir, sleep, tempDir, type Benchmark, type Figure } from '../lib.ts';

export const scale: Benchmark = {
  name: 'scale',
  description: 'one task of 1,000,000 instances: SubmitJob ≤ 1 s, RSS ≤ 512 MB queued and running at C = 32, DescribeTask at Offset 999,000 ≤ 50 ms',
  async run(s) {
    const n = s.name === 'full' ? 1_000_000 : 100_000;
    const runSeconds = s.name === 'full' ? 60 : 5;
    const srv = await benchServer({ slots: 32 });
    const out: Figure[] = [];
    try {
      const c = srv.client();
      const go = path.join(sharedDir('openbatch-scale-'), 'go');
      // task B (N instances) waits for task A, which waits for the go-file: B stays queued meanwhile
      const req = {
        Placement: { Zone: 'ap-guangzhou-2' },
        Job: {
          Tasks: [
            { TaskName: 'A', Application: { DeliveryForm: 'LOCAL', Command: `while [ ! -f ${go} ]; do sleep 0.05; done` }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } },
            { TaskName: 'B', TaskInstanceNum: n, Application: { DeliveryForm: 'LOCAL', Command: 'true' }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } },
          ],
          Dependences: [{ StartTask: 'A', EndTask: 'B' }],
        },
      };
      const t0 = performance.now();
      const { JobId } = await c.SubmitJob!(req);
      const submitMs = performance.now() - t0;
      await sleep(500);
      const queuedRss = rssOf(srv.proc.pid!);
      const deepQueued: number[] = [];
      for (let i = 0; i < 20; i++) {
        const q0 = performance.now();
        await c.DescribeTask!({ JobId, TaskName: 'B', Offset: n - 1000, Limit: 1000 });
        deepQueued.push(performance.now() - q0);
      }
      fs.writeFileSync(go, '');
      const rss: number[] = [];
      const deep: number[] = [];
      const until = Date.now() + runSeconds * 1000;
      while (Date.now() < until) {
        rss.push(rssOf(srv.proc.pid!));
        const q0 = performance.now();
        await c.DescribeTask!({ JobId, TaskName: 'B', Offset: n - 1000, Limit: 1000 });
        deep.push(performance.now() - q0);
        await sleep(200);
      }
      const job = await c.DescribeJob!({ JobId });
      const ran = job.TaskInstanceMetrics.SucceedCount as number;
      await c.TerminateJob!({ JobId });
      const bytes = dirBytes(srv.dataDir);
      const mb = (b: number) => b / 2 ** 20;
      out.push(
        { benchmark: 'scale', metric: `SubmitJob of ${n} instances`, unit: 'ms', median: submitMs, min: submitMs, max: submitMs, target: '≤ 1,000 ms' },
        { benchmark: 'scale', metric: 'server RSS while queued', unit: 'MB', median: mb(queuedRss), min: mb(queuedRss), max: mb(queuedRss), target: '≤ 512 MB' },
        { benchmark: 'scale', metric: `server RSS while running at C=32 (${runSeconds} s, ${ran} done)`, unit: 'MB', median: mb(percentile(rss, 50)), min: mb(Math.min(...rss)), max: mb(Math.max(...rss)), target: '≤ 512 MB' },
        { benchmark: 'scale', metric: `DescribeTask Offset ${n - 1000} Limit 1000 while queued`, unit: 'ms', median: percentile(deepQueued, 50), min: Math.min(...deepQueued), max: Math.max(...deepQueued), target: '≤ 50 ms' },
        { benchmark: 'scale', metric: `DescribeTask Offset ${n - 1000} Limit 1000 while running at C=32`, unit: 'ms', median: percentile(deep, 50), min: Math.min(...deep), max: Math.max(...deep), target: '≤ 50 ms' },
        { benchmark: 'scale', metric: 'data dir bytes per instance that ran', unit: 'B', median: ran > 0 ? bytes / ran : 0, min: 0, max: 0, note: `${mb(bytes).toFixed(1)} MB for ${ran} instances (store, logs, work dirs)` },
      );
    } finally {
      await srv.stop();
    }
    return out;
  },
};
