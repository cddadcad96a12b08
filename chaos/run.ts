// `npm run chaos [-- --instances N] [--kills K] [--signal SIGKILL|SIGTERM|both] [--seed S]
//   [--store sqlite|postgres] [--replicas R]` — with R > 1 (PostgreSQL: OPENBATCH_TEST_PG_URL or the
// server of scripts/pg-up.sh) the leading replica is the one stopped, and the job runs on Slurm.
import { parseArgs } from 'node:util';
import { chaos } from './chaos.ts';

const { values } = parseArgs({ options: { instances: { type: 'string' }, kills: { type: 'string' }, signal: { type: 'string' }, seed: { type: 'string' }, store: { type: 'string' }, replicas: { type: 'string' } } });
if (values.store !== undefined && values.store !== 'sqlite' && values.store !== 'postgres') throw new Error(`--store is sqlite or postgres, not ${values.store}`);
const signals = values.signal === undefined || values.signal === 'both' ? ['SIGKILL', 'SIGTERM'] as const : [values.signal as 'SIGKILL' | 'SIGTERM'];
let failed = false;
for (const signal of signals) {
  const report = await chaos({
    instances: Number(values.instances ?? 2000), kills: Number(values.kills ?? 10), signal, slots: 8,
    minMs: 300, maxMs: 2500, seed: Number(values.seed ?? Date.now() % 1_000_000),
    store: (values.store ?? 'sqlite') as 'sqlite' | 'postgres', replicas: Number(values.replicas ?? 1),
  });
  console.log(JSON.stringify(report, null, 2));
  if (report.problems.length > 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
