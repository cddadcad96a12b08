// dispatch: one task of N instances of `true` on C local slots, from SubmitJob until DescribeJob says
// SUCCEED — against `seq N | xargs -P C -n 1 sh -c true` on the same machine, runs interleaved.
// Every attempt creates files that xargs does not (its working directory, stdout and stderr logs, its
// pid/status file): the same run is repeated with the data dir on a memory file system (/dev/shm,
// where there is one) to show what the data dir's file system costs.
import fs from 'node:fs';
import { benchServer, jobOf, stats, waitJob, xargsBaseline, type Benchmark, type Figure } from '../lib.ts';

const SHM = '/dev/shm';

export const dispatch: Benchmark = {
  name: 'dispatch',
  description: 'N instances of `true` at C at once vs xargs -P C (ratio = OpenBatch time / xargs time; target ≤ 1.10 at C = 8 and C = 32)',
  async run(scale) {
    const n = scale.name === 'full' ? 10_000 : 300;
    const out: Figure[] = [];
    const memFs = memoryFsAvailable();
    for (const c of [8, 32]) {
      const ours: number[] = [];
      const inMemory: number[] = [];
      const base: number[] = [];
      for (let r = 0; r < scale.runs; r++) {
        base.push(await xargsBaseline(n, c));
        ours.push(await runOnce(n, c));
        if (memFs) {
          const dataDir = fs.mkdtempSync(`${SHM}/openbatch-bench-`);
          try {
            inMemory.push(await runOnce(n, c, dataDir));
          } finally {
            fs.rmSync(dataDir, { recursive: true, force: true }); // it holds memory
          }
        }
      }
      const o = stats(ours), b = stats(base);
      const baseline = { what: `xargs -P ${c}`, ...b };
      out.push({
        benchmark: 'dispatch', metric: `${n} × true, C=${c}`, unit: 'ms', ...o,
        baseline, ratio: o.median / b.median, target: '≤ 1.10',
        note: `${Math.round(n / (o.median / 1000))} instances/s`,
      });
      if (memFs) {
        const m = stats(inMemory);
        out.push({
          benchmark: 'dispatch', metric: `${n} × true, C=${c}, data dir on ${SHM} (tmpfs)`, unit: 'ms', ...m,
          baseline, ratio: m.median / b.median,
          note: `${Math.round(n / (m.median / 1000))} instances/s; what the data dir's file system costs`,
        });
      }
    }
    return out;
  },
};

async function runOnce(n: number, c: number, dataDir?: string): Promise<number> {
  const srv = await benchServer({ slots: c, dataDir });
  try {
    const client = srv.client();
    const t0 = performance.now();
    const { JobId } = await client.SubmitJob!(jobOf('true', n));
    const job = await waitJob(client, JobId);
    const ms = performance.now() - t0;
    if (job.JobState !== 'SUCCEED') throw new Error(`dispatch job ended ${job.JobState}`);
    return ms;
  } finally {
    await srv.stop();
  }
}

function memoryFsAvailable(): boolean {
  try {
    fs.accessSync(SHM, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
