// The monitor's sampler on a manual clock and a real SQLite store, with the usage each attempt reports
// scripted by the test: the sample soon after an attempt starts (starts close together share one
// reading), the sample as it ends from what the executor measured then (handed to the scheduler, which
// writes it with the end), and none where nothing was measured.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/lib/logger.ts';
import type { Handle, RunningAttempt, Usage } from '../../src/executors/types.ts';
import { MonitorService } from '../../src/services/monitor.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { ManualClock } from '../support/manual-clock.ts';

const GiB = 2 ** 30;

function setup() {
  const clock = new ManualClock();
  const t0 = clock.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-monitor-'));
  const store = new SqliteStore(path.join(dir, 'db'));
  stores.push({ store, dir });
  /** The samples stored for instance 0 of task `task` (the tests name a task after its attempt). */
  const stored = (task = 'A') => store.samplesOf('job-aaaaaaaa', task, 0, 0, Number.MAX_SAFE_INTEGER);
  const reads: string[][] = [];
  /** What the fake executor reports of each running attempt. */
  const live = new Map<string, Usage>();
  const running: RunningAttempt[] = [];
  const mon = new MonitorService({
    store,
    scheduler: { runningAttempts: () => running },
    clock, logger: silentLogger, intervalSec: 60,
    // a type of 2 vCPUs and 1 GiB
    capacityOf: (t) => (t === 'S2' ? { cpu: 2, memGiB: 1 } : undefined),
    executor: {
      usage: async (as: readonly { key: string; handle: Handle }[]) => {
        reads.push(as.map((a) => a.key));
        return new Map(as.flatMap((a) => (live.has(a.key) ? [[a.key, live.get(a.key)!] as const] : [])));
      },
    },
  });
  mons.push(mon);
  mon.start();
  const attempt = (key: string, startTime: number): RunningAttempt => ({
    key, handle: { executor: 'fake' }, jobId: 'job-aaaaaaaa', taskName: key, index: 0, attempt: 1, instanceType: 'S2', startTime,
  });
  return { clock, t0, mon, stored, reads, live, running, attempt };
}

const mons: MonitorService[] = [];
const stores: { store: SqliteStore; dir: string }[] = [];
afterEach(async () => {
  for (const { store, dir } of stores.splice(0)) {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const m of mons.splice(0)) m.stop();
});

const turn = () => new Promise((r) => setImmediate(r));

async function until(cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await turn();
  }
}

describe('monitor samples', () => {
  it('samples an attempt soon after it starts and as it ends, whatever the interval', async () => {
    const { clock, t0, mon, stored, reads, live, attempt } = setup();
    const a = attempt('A', t0);
    mon.attemptsStarted([a]);
    clock.advance(400);
    expect(reads).toEqual([]);
    live.set('A', { cpuSeconds: 0.75, memoryBytes: 0.25 * GiB, ageSeconds: 0.75, diskPercent: 40 });
    clock.advance(350);
    await turn();
    expect(reads).toEqual([['A']]);
    // 0.75 CPU seconds in 0.75 s of 2 vCPUs; a quarter of 1 GiB
    await until(async () => (await stored()).length > 0);
    expect(await stored()).toEqual([{ jobId: 'job-aaaaaaaa', taskName: 'A', index: 0, attempt: 1, ts: Math.floor((t0 + 750) / 1000), cpu: 50, mem: 25, disk: 40 }]);
    // it ends at 3 s: 1.5 more CPU seconds over the 2.25 s since that sample; its peak was half a GiB
    clock.advance(2250);
    const end = mon.attemptEnded(a, { exitCode: 0, signal: null, usage: { cpuSeconds: 2.25, maxMemoryBytes: 0.5 * GiB } }, clock.now());
    expect(end).toEqual({ jobId: 'job-aaaaaaaa', taskName: 'A', index: 0, attempt: 1, ts: Math.floor((t0 + 3000) / 1000), cpu: 33.33, mem: 50, disk: 40 });
  });

  it('gives starts close together one reading, and waits for those that started just now', async () => {
    const { clock, t0, mon, reads, attempt } = setup();
    mon.attemptsStarted([attempt('A', t0)]);
    clock.advance(100);
    mon.attemptsStarted([attempt('B', t0 + 100), attempt('C', t0 + 100)]);
    clock.advance(300);
    mon.attemptsStarted([attempt('D', t0 + 400)]);
    clock.advance(350); // 750 ms after A: A, B and C are read, D (350 ms old) waits
    expect(reads).toEqual([['A', 'B', 'C']]);
    clock.advance(400); // 750 ms after D
    expect(reads).toEqual([['A', 'B', 'C'], ['D']]);
    clock.advance(5000);
    expect(reads).toHaveLength(2);
  });

  it('measures an attempt that ended before its first sample over its whole life, and skips its start sample', async () => {
    const { clock, t0, mon, stored, reads, attempt } = setup();
    const a = attempt('A', t0);
    mon.attemptsStarted([a]);
    clock.advance(300);
    // 0.3 s at one full vCPU of two; no peak known and no sample before: no memory to tell
    const end = mon.attemptEnded(a, { exitCode: 0, signal: null, usage: { cpuSeconds: 0.3, diskPercent: 12.5 } }, clock.now());
    clock.advance(1000);
    await turn();
    expect(reads).toEqual([]);
    expect(await stored()).toEqual([]);
    expect([end]).toEqual([{ jobId: 'job-aaaaaaaa', taskName: 'A', index: 0, attempt: 1, ts: Math.floor((t0 + 300) / 1000), cpu: 50, mem: 0, disk: 12.5 }]);
  });

  it('falls back to the last sample\'s memory and disk, and to the whole life when the last sample was just before the end', async () => {
    const { clock, t0, mon, stored, live, running, attempt } = setup();
    const a = attempt('A', t0);
    running.push(a);
    clock.advance(2000);
    live.set('A', { cpuSeconds: 1, memoryBytes: 0.1 * GiB, ageSeconds: 2, diskPercent: 30 });
    await mon.sample();
    clock.advance(100);
    const end = mon.attemptEnded(a, { exitCode: 1, signal: null, usage: { cpuSeconds: 2.1 } }, clock.now());
    // 2.1 CPU seconds over its 2.1 s of life, of 2 vCPUs
    expect([...(await stored()), end!].map((s) => [s.cpu, s.mem, s.disk])).toEqual([[25, 10, 30], [50, 10, 30]]);
  });

  it('invents no sample where the executor measured nothing, nor while sampling is off', async () => {
    const { clock, t0, mon, stored, attempt } = setup();
    expect(mon.attemptEnded(attempt('A', t0), { exitCode: null, signal: 'SIGKILL' }, clock.now())).toBeUndefined();
    mon.stop();
    mon.attemptsStarted([attempt('B', t0)]);
    clock.advance(1000);
    expect(mon.attemptEnded(attempt('B', t0), { exitCode: 0, signal: null, usage: { cpuSeconds: 1 } }, clock.now())).toBeUndefined();
    await turn();
    expect([...(await stored('A')), ...(await stored('B'))]).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});
