// `npm run fuzz [-- --count N] [--seed S]`: the hostile-input fuzzer at full scale against a fresh
// server; prints the figures (statuses, error codes, problems, resident memory before/after).
import { parseArgs } from 'node:util';
import { rssOf } from '../bench/lib.ts';
import { SECRET_ID, SECRET_KEY, startServer } from '../test/helpers/spawn-server.ts';
import { fuzz } from './fuzzer.ts';

const { values } = parseArgs({ options: { count: { type: 'string' }, seed: { type: 'string' } } });
const count = Number(values.count ?? 100_000);
const seed = Number(values.seed ?? Date.now() % 1_000_000);
const srv = await startServer({ rateLimits: 'off' });
try {
  const before = rssOf(srv.proc.pid!);
  const t0 = Date.now();
  const report = await fuzz({ port: srv.port, secretId: SECRET_ID, secretKey: SECRET_KEY }, count, seed, 16);
  global.gc?.();
  await new Promise((r) => setTimeout(r, 2000));
  const after = rssOf(srv.proc.pid!);
  console.log(JSON.stringify({
    seed, sent: report.sent, seconds: (Date.now() - t0) / 1000, byStatus: report.byStatus,
    distinctCodes: Object.keys(report.codes).length, codes: report.codes, problems: report.problems,
    rssBeforeMB: +(before / 2 ** 20).toFixed(1), rssAfterMB: +(after / 2 ** 20).toFixed(1), serverAlive: srv.proc.exitCode === null,
  }, null, 2));
  if (report.problems.length > 0 || srv.proc.exitCode !== null) process.exitCode = 1;
} finally {
  await srv.stop();
}
