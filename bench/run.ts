// `npm run bench [-- NAME ...] [--small] [--runs N] [--json FILE] [--history-max N]`: runs the benchmarks,
// prints a table, writes the figures as JSON (default bench-results.json). --history-max N: the larger
// store of `history` holds N jobs (default 100,000; 10,000 with --small; BENCH_HISTORY_MAX=N alike).
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { api } from './benchmarks/api.ts';
import { consoleBench } from './benchmarks/console.ts';
import { control } from './benchmarks/control.ts';
import { dispatch } from './benchmarks/dispatch.ts';
import { history } from './benchmarks/history.ts';
import { latency } from './benchmarks/latency.ts';
import { objects } from './benchmarks/objects.ts';
import { replicas } from './benchmarks/replicas.ts';
import { scale } from './benchmarks/scale.ts';
import { slurm } from './benchmarks/slurm.ts';
import type { Benchmark, Figure, Scale } from './lib.ts';

const ALL: Benchmark[] = [dispatch, control, api, scale, latency, slurm, objects, replicas, history, consoleBench];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    small: { type: 'boolean' }, runs: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' }, 'history-max': { type: 'string' },
  },
});
if (values.help) {
  console.log(`Usage: npm run bench [-- NAME ...] [--small] [--runs N] [--json FILE] [--history-max N]\n\nBenchmarks:\n${ALL.map((b) => `  ${b.name.padEnd(10)} ${b.description}`).join('\n')}`);
  process.exit(0);
}
const unknown = positionals.filter((p) => !ALL.some((b) => b.name === p));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${ALL.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
if (values['history-max'] !== undefined) {
  if (!/^[1-9]\d*$/.test(values['history-max'])) {
    console.error(`--history-max must be a positive whole number of jobs; got ${values['history-max']}`);
    process.exit(2);
  }
  process.env.BENCH_HISTORY_MAX = values['history-max'];
}
const chosen = positionals.length ? ALL.filter((b) => positionals.includes(b.name)) : ALL;
const sc: Scale = { name: values.small ? 'small' : 'full', runs: Number(values.runs ?? (values.small ? 1 : 3)) };
delete process.env.http_proxy;
delete process.env.HTTP_PROXY;

const machine = { cpus: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.type()} ${os.release()}` };
console.log(`OpenBatch benchmarks (${sc.name} scale, ${sc.runs} run(s) each) on ${machine.cpus} CPUs, ${machine.memoryGiB} GiB, Node ${machine.node}`);
const figures: Figure[] = [];
for (const b of chosen) {
  console.log(`\n▶ ${b.name}: ${b.description}`);
  const t0 = Date.now();
  const f = await b.run(sc);
  figures.push(...f);
  for (const x of f) console.log(`  ${line(x)}`);
  console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
console.log('\n| benchmark | metric | median | min | max | baseline (median) | ratio | target |\n|---|---|---|---|---|---|---|---|');
for (const x of figures) {
  console.log(`| ${x.benchmark} | ${x.metric} | ${fmt(x.median)} ${x.unit} | ${fmt(x.min)} | ${fmt(x.max)} | ${x.baseline ? `${x.baseline.what}: ${fmt(x.baseline.median)}` : ''} | ${x.ratio !== undefined ? x.ratio.toFixed(2) : ''} | ${x.target ?? ''} |`);
}
const file = values.json ?? 'bench-results.json';
fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), scale: sc, machine, figures }, null, 2) + '\n');
console.log(`\nresults written to ${file}`);

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}
function line(x: Figure): string {
  const base = x.baseline ? ` | ${x.baseline.what}: ${fmt(x.baseline.median)} → ratio ${x.ratio?.toFixed(2)}` : '';
  return `${x.metric}: ${fmt(x.median)} ${x.unit} (min ${fmt(x.min)}, max ${fmt(x.max)})${base}${x.target ? ` [target ${x.target}]` : ''}${x.note ? ` — ${x.note}` : ''}`;
}
