// DescribeJobMonitorData through the official SDK: real CPU and memory samples of a running instance.
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
    expect((await c.DescribeJobMonitorData!(q)).DataPoints).toEqual({ Timestamps: [], Values: [] });
  });
});
