// DescribeJobMonitorData through the official SDK: real CPU and memory samples of a running instance,
// and of an attempt far shorter than the sampling interval (its start and end samples).
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, sharedDir, simpleJob, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;
beforeAll(async () => {
  srv = await startServer({ args: ['--monitor-interval', '1'] });
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});

describe('DescribeJobMonitorData', () => {
  it('returns CPU, memory and disk samples of a running instance, clamped to its lifetime', async () => {
    const go = path.join(sharedDir('openbatch-mon-'), 'go');
    // busy until told to stop: real CPU use
    const { JobId } = await c.SubmitJob!(simpleJob(`while [ ! -f ${go} ]; do :; done`, { TaskName: 'burn' }));
    const q = { JobId, TaskName: 'burn', TaskInstanceIndex: 0 };
    const cpu = await waitFor(async () => {
      const r = await c.DescribeJobMonitorData!({ ...q, MetricName: 'CpuUsage' });
      return r.DataPoints.Timestamps.length >= 3 ? r : undefined;
    }, 'three samples', 30_000, 200);
    fs.writeFileSync(go, '');
    await waitJobDone(c, JobId);
    expect(cpu.Period).toBe(1);
    const { Timestamps, Values } = cpu.DataPoints;
    expect(Values).toHaveLength(Timestamps.length);
    for (let i = 1; i < Timestamps.length; i++) expect(Timestamps[i]).toBeGreaterThan(Timestamps[i - 1]);
    expect(Values.every((v: number) => typeof v === 'number' && v >= 0 && v <= 100)).toBe(true);
    expect(Math.max(...Values)).toBeGreaterThan(0);
    const mem = await c.DescribeJobMonitorData!({ ...q, MetricName: 'MemUsage' });
    expect(mem.DataPoints.Values.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...mem.DataPoints.Values)).toBeGreaterThan(0);
    const disk = await c.DescribeJobMonitorData!({ ...q, MetricName: 'MaxDiskUsage' });
    expect(disk.DataPoints.Values.every((v: number) => v > 0 && v <= 100)).toBe(true);
    // a window before the instance existed is clamped to nothing; a window inside it narrows the set
    const early = await c.DescribeJobMonitorData!({ ...q, MetricName: 'CpuUsage', StartTime: '2000-01-01T00:00:00Z', EndTime: '2000-01-02T00:00:00Z' });
    expect(early.DataPoints.Timestamps).toEqual([]);
    const first = new Date(Timestamps[1] * 1000).toISOString().replace('.000Z', 'Z');
    const later = await c.DescribeJobMonitorData!({ ...q, MetricName: 'CpuUsage', StartTime: first });
    expect(later.DataPoints.Timestamps[0]).toBe(Timestamps[1]);
  });

  it('answers the error codes', async () => {
    const { JobId } = await c.SubmitJob!(simpleJob('true'));
    await waitJobDone(c, JobId);
    const q = { JobId, TaskName: 'A', TaskInstanceIndex: 0, MetricName: 'CpuUsage' };
    const code = async (r: Record<string, unknown>) => (await errorOf(c.DescribeJobMonitorData!({ ...q, ...r }))).code;
    expect(await code({ JobId: 'job_x' })).toBe('InvalidParameter.JobIdMalformed');
    expect(await code({ JobId: 'job-zzzzzzzz' })).toBe('ResourceNotFound.Job');
    expect(await code({ TaskName: 'B' })).toBe('ResourceNotFound.Task');
    expect(await code({ TaskInstanceIndex: 1 })).toBe('ResourceNotFound.TaskInstance');
    expect(await code({ MetricName: 'Heat' })).toBe('InvalidParameterValue');
    expect(await code({ MetricName: 'LanOuttraffic' })).toBe('UnsupportedOperation');
    expect(await code({ StartTime: '2024-01-01 00:00:00' })).toBe('InvalidParameterValue');
    expect(await code({ StartTime: '2024-01-02T00:00:00Z', EndTime: '2024-01-01T00:00:00Z' })).toBe('InvalidParameterValue');
    // an instance that ran for a moment still has its end sample (and at most a start sample too)
    const { DataPoints } = await c.DescribeJobMonitorData!(q);
    expect(DataPoints.Timestamps.length).toBeGreaterThanOrEqual(1);
    expect(DataPoints.Timestamps.length).toBeLessThanOrEqual(2);
    expect(DataPoints.Values).toHaveLength(DataPoints.Timestamps.length);
  });
});

describe('DescribeJobMonitorData of an attempt shorter than the interval', () => {
  let slow: TestServer;
  beforeAll(async () => {
    slow = await startServer({ args: ['--monitor-interval', '60'] });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  it('has a sample soon after its start and one as it ends', async () => {
    const sc = slow.client();
    // ~20 MB held in the shell, then 2-3 s of busy CPU: far shorter than the 60 s interval
    const burn = [
      "x=$(head -c 20000000 /dev/zero | tr '\\0' a)",
      'end=$(( $(date +%s) + 3 ))',
      'while [ "$(date +%s)" -lt $end ]; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; done',
      'echo ${#x}',
    ].join('; ');
    const { JobId } = await sc.SubmitJob!(simpleJob(burn, { TaskName: 'short' }));
    const done = await waitJobDone(sc, JobId);
    expect(done.JobState).toBe('SUCCEED');
    const q = { JobId, TaskName: 'short', TaskInstanceIndex: 0 };
    // the end sample is stored right after the end is recorded: wait for it with a deadline
    const cpu = await waitFor(async () => {
      const r = await sc.DescribeJobMonitorData!({ ...q, MetricName: 'CpuUsage' });
      return r.DataPoints.Timestamps.length >= 2 ? r : undefined;
    }, 'a start and an end sample', 30_000, 200);
    expect(cpu.Period).toBe(60);
    const { Timestamps, Values } = cpu.DataPoints;
    expect(Values).toHaveLength(Timestamps.length);
    for (let i = 1; i < Timestamps.length; i++) expect(Timestamps[i]).toBeGreaterThan(Timestamps[i - 1]);
    expect(Values.every((v: number) => typeof v === 'number' && v > 0 && v <= 100)).toBe(true);
    const mem = await sc.DescribeJobMonitorData!({ ...q, MetricName: 'MemUsage' });
    expect(mem.DataPoints.Timestamps).toEqual(Timestamps);
    expect(mem.DataPoints.Values.every((v: number) => typeof v === 'number' && v > 0)).toBe(true);
    const disk = await sc.DescribeJobMonitorData!({ ...q, MetricName: 'MaxDiskUsage' });
    expect(disk.DataPoints.Values.every((v: number) => v > 0 && v <= 100)).toBe(true);
  });
});
