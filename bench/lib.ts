// Shared pieces of the benchmarks: statistics, timing, servers, baselines.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sharedDir, startServer, tempDir, type BatchClient, type StartOptions, type TestServer } from '../test/helpers/spawn-server.ts';

export { sharedDir, startServer, tempDir, type BatchClient, type TestServer };

export interface Scale {
  name: 'small' | 'full';
  runs: number;
}

export interface Figure {
  benchmark: string;
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  /** Baseline measured side by side (same runs), when there is one. */
  baseline?: { what: string; median: number; min: number; max: number };
  /** ours / baseline (or baseline / ours when higher is better), on the medians. */
  ratio?: number;
  target?: string;
  note?: string;
}

export interface Benchmark {
  name: string;
  description: string;
  run(scale: Scale): Promise<Figure[]>;
}

export function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start a benchmark server: fresh data dir, rate limits off, quiet. */
export function benchServer(o: StartOptions = {}): Promise<TestServer> {
  return startServer({ rateLimits: 'off', ...o });
}

export async function waitJob(c: BatchClient, jobId: string, everyMs = 20): Promise<Record<string, any>> {
  for (;;) {
    const j = await c.DescribeJob!({ JobId: jobId });
    if (['SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'].includes(j.JobState)) return j;
    await sleep(everyMs);
  }
}

export function jobOf(command: string, instances: number, task: Record<string, unknown> = {}) {
  return {
    Placement: { Zone: 'ap-guangzhou-2' },
    Job: {
      JobName: 'bench',
      Tasks: [{
        TaskName: 'A', TaskInstanceNum: instances, Application: { DeliveryForm: 'LOCAL', Command: command },
        ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } }, ...task,
      }],
    },
  };
}

/** `seq n | xargs -P c -n 1 sh -c true`: how fast this machine starts trivial processes. */
export function xargsBaseline(n: number, c: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('/bin/sh', ['-c', `seq ${n} | xargs -P ${c} -n 1 sh -c true`], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`xargs exited ${code}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });
}

/** Resident memory of a process (bytes), from /proc. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Bytes of the files under a directory a live server is writing to: a file or directory that goes
 *  away between listing and stat (an attempt's pid file, removed as the attempt ends) counts 0. */
export function dirBytes(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch (e) { if (gone(e)) return 0; throw e; }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) {
      try { total += fs.statSync(p).size; } catch (err) { if (!gone(err)) throw err; }
    }
  }
  return total;
}

function gone(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The live V8 heap (MB) after the last full collection, from the output of a process run with
 *  `--trace-gc` (undefined before its first one). */
export function liveHeapMB(traceGcOutput: string): number | undefined {
  let last: string | undefined;
  for (const m of traceGcOutput.matchAll(/Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/g)) last = m[1];
  return last === undefined ? undefined : Number(last);
}
