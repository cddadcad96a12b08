// Store faults: the data dir's disk fills up. API calls answer a clear FailedOperation (never 5xx,
// never InternalError), nothing is corrupted, and the service recovers by itself when space returns.
// Needs root (a tmpfs mount), as CI runs. (A read-only remount is refused while the database is open
// for writing, so the read-only case is mapped the same way but not exercised here.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, simpleJob, startServer, tempDir, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

const mnt = tempDir('openbatch-tmpfs-');
let srv: TestServer;
let c: BatchClient;

beforeAll(async () => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
  srv = await startServer({ dataDir: path.join(mnt, 'data') });
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
  execFileSync('umount', ['-l', mnt]);
});

function fill(): string {
  const filler = path.join(mnt, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=64'], { stdio: 'ignore' });
  } catch {
    // dd stops with "No space left on device": that is the point
  }
  return filler;
}

describe('store faults', () => {
  it('answers FailedOperation while the disk is full, keeps what it had, and recovers', async () => {
    const before = await c.SubmitJob!(simpleJob('echo before'));
    expect((await waitJobDone(c, before.JobId)).JobState).toBe('SUCCEED');
    const filler = fill();
    let failed = 0;
    for (let i = 0; i < 20; i++) {
      // a few writes may still fit in free pages; once the disk is really full they must fail cleanly
      const e = await errorOf(c.SubmitJob!(simpleJob('echo during', { TaskInstanceNum: 50, EnvVars: [{ Name: 'PAD', Value: 'x'.repeat(20_000) }] }))).catch(() => undefined);
      if (e) {
        expect(e.code).toBe('FailedOperation');
        expect(e.message).toContain('disk of the data directory is full');
        failed++;
        break;
      }
    }
    expect(failed).toBe(1);
    // reads still work and nothing is corrupted
    expect((await c.DescribeJob!({ JobId: before.JobId })).JobState).toBe('SUCCEED');
    fs.rmSync(filler);
    const after = await c.SubmitJob!(simpleJob('echo after'));
    expect((await waitJobDone(c, after.JobId)).JobState).toBe('SUCCEED');
    expect((await c.DescribeJob!({ JobId: before.JobId })).JobState).toBe('SUCCEED');
  });


  it('never leaves a job half-submitted when the server is killed in the middle of submissions', async () => {
    const dataDir = tempDir();
    let s1 = await startServer({ dataDir, slots: 2 });
    const c1 = s1.client();
    const tasks = 120;
    const big = {
      Placement: { Zone: 'ap-guangzhou-2' },
      Job: {
        JobName: 'big',
        Tasks: Array.from({ length: tasks }, (_, i) => ({
          TaskName: `T${i}`, TaskInstanceNum: 1000, Application: { DeliveryForm: 'LOCAL', Command: 'true' },
          ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } },
        })),
        Dependences: Array.from({ length: tasks - 1 }, (_, i) => ({ StartTask: `T${i}`, EndTask: `T${i + 1}` })),
      },
    };
    // keep submitting from several clients; kill the server while requests are in flight
    const accepted: string[] = [];
    let stop = false;
    const submitters = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          accepted.push((await c1.SubmitJob!(big)).JobId);
        } catch {
          return; // the server is gone
        }
      }
    });
    await new Promise((r) => setTimeout(r, 700));
    await s1.kill9();
    stop = true;
    await Promise.all(submitters);
    s1 = await startServer({ dataDir, slots: 2 });
    const c2 = s1.client();
    const listed = await c2.DescribeJobs!({ Limit: 100 });
    // every job the server acknowledged survived, and every job that exists is whole
    for (const id of accepted) expect(listed.JobSet.map((j: { JobId: string }) => j.JobId)).toContain(id);
    for (const j of listed.JobSet as { JobId: string }[]) {
      const d = await c2.DescribeJob!({ JobId: j.JobId });
      expect(d.TaskSet).toHaveLength(tasks);
      expect(d.DependenceSet).toHaveLength(tasks - 1);
      const total = Object.values(d.TaskInstanceMetrics as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(total).toBe(tasks * 1000);
      await c2.TerminateJob!({ JobId: j.JobId }).catch(() => undefined);
    }
    expect(listed.TotalCount).toBeGreaterThan(0);
    await s1.stop();
  });
});
