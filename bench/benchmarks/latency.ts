// latency: on an idle server, time from SubmitJob to the first instance RUNNING, and from an
// instance's exit to its SUCCEED being visible through DescribeTask (both seen by polling the API).
import fs from 'node:fs';
import path from 'node:path';
import { benchServer, jobOf, sharedDir, stats, type Benchmark } from '../lib.ts';

export const latency: Benchmark = {
  name: 'latency',
  description: 'SubmitJob → first RUNNING, and exit → SUCCEED visible (medians; target ≤ 20 ms each)',
  async run(scale) {
    const reps = scale.name === 'full' ? 30 : 5;
    const srv = await benchServer({ slots: 4 });
    const toRunning: number[] = [];
    const toVisible: number[] = [];
    try {
      const c = srv.client();
      const dir = sharedDir('openbatch-lat-');
      for (let i = 0; i < reps; i++) {
        const stamp = path.join(dir, `exit-${i}`);
        const go = path.join(dir, `go-${i}`);
        // runs until told to stop, then records (ms) the moment it exits
        const cmd = `while [ ! -f ${go} ]; do sleep 0.01; done; date +%s%3N > ${stamp}`;
        const t0 = Date.now();
        const { JobId } = await c.SubmitJob!(jobOf(cmd, 1));
        for (;;) {
          const t = await c.DescribeTask!({ JobId, TaskName: 'A' });
          if (t.TaskInstanceSet[0].TaskInstanceState === 'RUNNING') break;
        }
        toRunning.push(Date.now() - t0);
        fs.writeFileSync(go, '');
        for (;;) {
          const t = await c.DescribeTask!({ JobId, TaskName: 'A' });
          if (t.TaskInstanceSet[0].TaskInstanceState === 'SUCCEED') break;
        }
        const seen = Date.now();
        toVisible.push(seen - Number(fs.readFileSync(stamp, 'utf8')));
      }
    } finally {
      await srv.stop();
    }
    return [
      { benchmark: 'latency', metric: 'SubmitJob → first instance RUNNING', unit: 'ms', ...stats(toRunning), target: '≤ 20 ms' },
      { benchmark: 'latency', metric: 'exit → SUCCEED visible in DescribeTask', unit: 'ms', ...stats(toVisible), target: '≤ 20 ms' },
    ];
  },
};
