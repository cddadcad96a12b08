// `npm run fuzz [-- --count N] [--seed S] [--rounds R]`: the hostile-input fuzzer at full scale
// against a fresh server, in R rounds of N/R requests; prints the figures (statuses, error codes,
// problems) and the server's memory after each round: resident memory, and the live V8 heap after
// its last full collection (the server runs with --trace-gc). A leak shows as growth from round to
// round; a plateau is memory the server keeps for reuse.
import { parseArgs } from 'node:util';
import { liveHeapMB, rssOf } from '../bench/lib.ts';
import { SECRET_ID, SECRET_KEY, startServer } from '../test/helpers/spawn-server.ts';
import { fuzz, type FuzzReport } from './fuzzer.ts';

const { values } = parseArgs({ options: { count: { type: 'string' }, seed: { type: 'string' }, rounds: { type: 'string' } } });
const count = Number(values.count ?? 100_000);
const seed = Number(values.seed ?? Date.now() % 1_000_000);
const rounds = Math.max(1, Number(values.rounds ?? 4));
const srv = await startServer({ rateLimits: 'off', nodeArgs: ['--trace-gc'] });
const mb = (b: number) => +(b / 2 ** 20).toFixed(1);
try {
  const memory = [{ after: 'start', rssMB: mb(rssOf(srv.proc.pid!)), liveHeapMB: liveHeapMB(srv.output()) }];
  const total: FuzzReport = { sent: 0, byStatus: {}, codes: {}, problems: [] };
  const t0 = Date.now();
  for (let r = 0; r < rounds; r++) {
    const report = await fuzz({ port: srv.port, secretId: SECRET_ID, secretKey: SECRET_KEY }, Math.ceil(count / rounds), seed + r, 16);
    total.sent += report.sent;
    for (const [k, v] of Object.entries(report.byStatus)) total.byStatus[k] = (total.byStatus[k] ?? 0) + v;
    for (const [k, v] of Object.entries(report.codes)) total.codes[k] = (total.codes[k] ?? 0) + v;
    total.problems.push(...report.problems.slice(0, 50 - total.problems.length));
    await new Promise((res) => setTimeout(res, 2000));
    memory.push({ after: `round ${r + 1} (${total.sent} requests)`, rssMB: mb(rssOf(srv.proc.pid!)), liveHeapMB: liveHeapMB(srv.output()) });
  }
  console.log(JSON.stringify({
    seed, sent: total.sent, seconds: (Date.now() - t0) / 1000, byStatus: total.byStatus,
    distinctCodes: Object.keys(total.codes).length, codes: total.codes, problems: total.problems,
    memory, serverAlive: srv.proc.exitCode === null,
  }, null, 2));
  if (total.problems.length > 0 || srv.proc.exitCode !== null) process.exitCode = 1;
} finally {
  await srv.stop();
}
