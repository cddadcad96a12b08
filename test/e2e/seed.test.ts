// The seed document's example, end to end through the official SDK: a task `A` with 2 instances,
// DescribeTask filtered on SUCCEED returns every field of the seed's example output with its type.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, waitJobDone, type TestServer } from '../helpers/server.ts';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.stop();
});

describe('seed example (DescribeTask.txt)', () => {
  it('submits task A with 2 instances and reads DescribeTask filtered on SUCCEED', async () => {
    const c = srv.client();
    const logs = 'cos://dondonbatch-1251783334.cosgz.myqcloud.com/hello2/logs/';
    const { JobId } = await c.SubmitJob!({
      Placement: { Zone: 'ap-guangzhou-2' },
      Job: {
        JobName: 'test job',
        Priority: 1,
        Tasks: [
          {
            TaskName: 'A',
            TaskInstanceNum: 2,
            Application: { DeliveryForm: 'LOCAL', Command: 'echo hello from $BATCH_TASK_INSTANCE_INDEX' },
            ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
            RedirectInfo: { StdoutRedirectPath: logs, StderrRedirectPath: logs },
          },
        ],
      },
    });
    expect(JobId).toMatch(/^job-[a-z0-9]{8}$/);
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('SUCCEED');

    const r = await c.DescribeTask!({ JobId, TaskName: 'A', Filters: [{ Name: 'task-instance-state', Values: ['SUCCEED'] }] });
    // every top-level field of the seed's output, and nothing else
    expect(Object.keys(r).sort()).toEqual(
      ['CreateTime', 'EndTime', 'JobId', 'RequestId', 'TaskInstanceMetrics', 'TaskInstanceSet', 'TaskInstanceTotalCount', 'TaskName', 'TaskState'].sort(),
    );
    expect(r.JobId).toBe(JobId);
    expect(r.TaskName).toBe('A');
    expect(r.TaskState).toBe('SUCCEED');
    expect(r.CreateTime).toMatch(ISO);
    expect(r.EndTime).toMatch(ISO);
    expect(r.TaskInstanceTotalCount).toBe(2);
    expect(r.RequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.TaskInstanceMetrics).toEqual({
      PendingCount: 0, FailedCount: 0, StartingCount: 0, SucceedCount: 2, FailedInterruptedCount: 0,
      SubmittedCount: 0, RunnableCount: 0, RunningCount: 0,
    });
    expect(r.TaskInstanceSet).toHaveLength(2);
    for (const i of r.TaskInstanceSet) {
      expect(Object.keys(i).sort()).toEqual(
        ['ComputeNodeInstanceId', 'CreateTime', 'EndTime', 'ExitCode', 'LaunchTime', 'RedirectInfo', 'RunningTime',
          'StateDetailedReason', 'StateReason', 'TaskInstanceIndex', 'TaskInstanceState'].sort(),
      );
      expect(i.TaskInstanceState).toBe('SUCCEED');
      expect(i.ExitCode).toBe(0);
      expect(i.StateReason).toBe('');
      expect(typeof i.StateDetailedReason).toBe('string');
      expect(i.ComputeNodeInstanceId).toBeNull();
      for (const t of ['CreateTime', 'LaunchTime', 'RunningTime', 'EndTime']) expect(i[t]).toMatch(ISO);
      expect(i.CreateTime <= i.LaunchTime && i.LaunchTime <= i.RunningTime && i.RunningTime <= i.EndTime).toBe(true);
      expect(i.RedirectInfo).toEqual({
        StdoutRedirectPath: logs,
        StderrRedirectPath: logs,
        StdoutRedirectFileName: `stdout.${JobId}.A.${i.TaskInstanceIndex}.log`,
        StderrRedirectFileName: `stderr.${JobId}.A.${i.TaskInstanceIndex}.log`,
      });
    }
    expect(r.TaskInstanceSet.map((i: { TaskInstanceIndex: number }) => i.TaskInstanceIndex).sort()).toEqual([0, 1]);
    expect(r.EndTime).toBe(r.TaskInstanceSet.map((i: { EndTime: string }) => i.EndTime).sort().at(-1));

    // the logs landed in the embedded object store: bucket = first label of the COS host
    for (const idx of [0, 1]) {
      const obj = path.join(srv.dataDir, 'objects', 'dondonbatch-1251783334', 'hello2', 'logs', `stdout.${JobId}.A.${idx}.log`);
      expect(fs.readFileSync(obj, 'utf8')).toBe(`hello from ${idx}\n`);
      expect(fs.existsSync(path.join(path.dirname(obj), `stderr.${JobId}.A.${idx}.log`))).toBe(true);
    }
  });

  it('answers the same through TC3 GET, v1 HmacSHA1 and v1 HmacSHA256 requests', async () => {
    const c = srv.client();
    const { JobId } = await c.SubmitJob!({
      Placement: { Zone: 'ap-guangzhou-2' },
      Job: {
        Tasks: [{
          TaskName: 'A', TaskInstanceNum: 2, Application: { DeliveryForm: 'LOCAL', Command: 'true' },
          ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } },
        }],
      },
    });
    await waitJobDone(c, JobId);
    const req = { JobId, TaskName: 'A', Offset: 0, Limit: 100, Filters: [{ Name: 'task-instance-state', Values: ['SUCCEED'] }] };
    const base = await c.DescribeTask!(req);
    for (const o of [
      { reqMethod: 'GET' as const },
      { signMethod: 'HmacSHA1' as const },
      { signMethod: 'HmacSHA256' as const, reqMethod: 'GET' as const },
      { signMethod: 'HmacSHA256' as const, reqMethod: 'POST' as const },
    ]) {
      const r = await srv.client(o).DescribeTask!(req);
      expect({ ...r, RequestId: '' }).toEqual({ ...base, RequestId: '' });
    }
    // the intl/older filter name is accepted too
    const old = await c.DescribeTask!({ JobId, TaskName: 'A', Filters: [{ Name: 'task-instance-type', Values: ['SUCCEED'] }] });
    expect(old.TaskInstanceTotalCount).toBe(2);
  });
});
