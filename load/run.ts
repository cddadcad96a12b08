// `npm run load [-- --clients N] [--seconds S] [--runs R] [--rate-limits intl|mainland|off]`
import { parseArgs } from 'node:util';
import { loadRuns } from './load.ts';

const { values } = parseArgs({ options: { clients: { type: 'string' }, seconds: { type: 'string' }, runs: { type: 'string' }, 'rate-limits': { type: 'string' } } });
const reports = await loadRuns({
  clients: Number(values.clients ?? 100), seconds: Number(values.seconds ?? 60),
  rateLimits: (values['rate-limits'] as 'intl' | 'mainland' | 'off' | undefined) ?? 'off', slots: 8,
}, Number(values.runs ?? 3));
reports.forEach((r, i) => console.log(`run ${i + 1}: ${JSON.stringify(r, null, 2)}`));
process.exitCode = reports.some((r) => r.unexpectedErrors > 0) ? 1 : 0;
