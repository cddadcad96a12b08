// dispatch: one task of N instances of `true` on C local slots, from SubmitJob until DescribeJob says
// SUCCEED — against `seq N | xargs -P C -n 1 sh -c true` on the same machine, runs interleaved.
import { benchServer, jobOf, stats, waitJob, xargsBaseline, type Benchmark, type Figure } from '../lib.ts';

export const dispatch: Benchmark = {
  name: 'dispatch',
  description: 'N instances of `true` at C at once vs xargs -P C (ratio = OpenBatch time / xargs time; target ≤ 1.25)',
  async run(scale) {
    const n = scale.name === 'full' ? 10_000 : 300;
    const out: Figure[] = [];
    for (const c of [8, 32]) {
      const ours: number[] = [];
      const base: number[] = [];
      for (let r = 0; r < scale.runs; r++) {
        base.push(await xargsBaseline(n, c));
        const srv = await benchServer({ slots: c });
        try {
          const client = srv.client();
          const t0 = performance.now();
          const { JobId } = await client.SubmitJob!(jobOf('true', n));
          const job = await waitJob(client, JobId);
          ours.push(performance.now() - t0);
          if (job.JobState !== 'SUCCEED') throw new Error(`dispatch job ended ${job.JobState}`);
        } finally {
          await srv.stop();
        }
      }
      const o = stats(ours), b = stats(base);
      out.push({
        benchmark: 'dispatch', metric: `${n} × true, C=${c}`, unit: 'ms', ...o,
        baseline: { what: `xargs -P ${c}`, ...b }, ratio: o.median / b.median, target: '≤ 1.25',
        note: `${Math.round(n / (o.median / 1000))} instances/s`,
      });
    }
    return out;
  },
};
