// Store faults: the data dir's disk fills up. API calls answer a clear FailedOperation (never 5xx,
// never InternalError), nothing is corrupted, and the service recovers by itself when space returns.
// A read-only data dir: the kernel refuses to remount a file system read-only while the database is
// open for writing, so the test does what a failing disk does: ext4 (errors=remount-ro, on a loop
// device) is told to report an error and turns read-only under the running server. That disk lives in
// a mount namespace of its own (the server runs in it): every mount namespace made while a file system
// is mounted keeps it mounted, and the attempts of the other test files' servers (each in a mount
// namespace of its own) would keep the disk mounted after the operator's umount.
// Needs root (tmpfs and loop mounts, mount namespaces), as CI runs.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
import { errorOf, simpleJob, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

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
    // some acknowledged, more in flight (however slow the machine is today)
    await waitFor(async () => accepted.length >= 2, 'two acknowledged submissions', 60_000, 20);
    await s1.kill9();
    stop = true;
    await Promise.all(submitters);
    s1 = await startServer({ dataDir, slots: 2 });
    const c2 = s1.client();
    const listed: { JobId: string }[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await c2.DescribeJobs!({ Offset: offset, Limit: 100 });
      listed.push(...page.JobSet);
      if (listed.length >= page.TotalCount) break;
    }
    // every job the server acknowledged survived, and every job that exists is whole
    for (const id of accepted) expect(listed.map((j) => j.JobId)).toContain(id);
    for (const j of listed) {
      const d = await c2.DescribeJob!({ JobId: j.JobId });
      expect(d.TaskSet).toHaveLength(tasks);
      expect(d.DependenceSet).toHaveLength(tasks - 1);
      const total = Object.values(d.TaskInstanceMetrics as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(total).toBe(tasks * 1000);
      await c2.TerminateJob!({ JobId: j.JobId }).catch(() => undefined);
    }
    expect(listed.length).toBeGreaterThan(0);
    await s1.stop();
  });
});

describe('a data dir whose file system turns read-only', () => {
  it('answers FailedOperation and keeps serving reads; a restart on it is refused; after a repair nothing is lost', async () => {
    const dir = tempDir('openbatch-ext4-');
    const img = path.join(dir, 'disk.img');
    const mnt2 = path.join(dir, 'mnt');
    fs.mkdirSync(mnt2);
    execFileSync('truncate', ['-s', '64M', img]);
    execFileSync('mkfs.ext4', ['-q', '-F', img]);
    // the disk's own mount namespace, kept by a file
    const nsFile = path.join(dir, 'mnt.ns');
    fs.writeFileSync(nsFile, '');
    execFileSync('unshare', [`--mount=${nsFile}`, '--propagation', 'private', 'true']);
    const inNs = ['nsenter', `--mount=${nsFile}`, '--'];
    const run = (cmd: string, ...args: string[]) => execFileSync(inNs[0]!, [...inNs.slice(1), cmd, ...args], { encoding: 'utf8' });
    const mountDisk = () => run('mount', '-o', 'loop,errors=remount-ro', img, mnt2);
    mountDisk();
    const dataDir = path.join(mnt2, 'data');
    try {
      let s = await startServer({ dataDir, wrap: inNs });
      let cl = s.client();
      const before = await cl.SubmitJob!(simpleJob('echo before'));
      expect((await waitJobDone(cl, before.JobId)).JobState).toBe('SUCCEED');
      execFileSync('sync');
      // the disk reports an error: the kernel turns the file system read-only under the server
      const dev = path.basename(run('findmnt', '-no', 'SOURCE', mnt2).trim());
      fs.writeFileSync(`/sys/fs/ext4/${dev}/trigger_fs_error`, 'openbatch store-faults test');
      const e = await errorOf(cl.SubmitJob!(simpleJob('echo during')));
      expect(e.code).toBe('FailedOperation');
      expect(e.message).toContain('the data directory is read-only');
      expect((await cl.DescribeJob!({ JobId: before.JobId })).JobState).toBe('SUCCEED');
      const logs = await cl.DescribeTaskLogs!({ JobId: before.JobId, TaskName: 'A' });
      expect(Buffer.from(logs.TaskInstanceLogSet[0].StdoutLog.replace(/^data:[^,]*,/, ''), 'base64').toString()).toBe('before\n');
      // SIGTERM still stops it, and a new start on the read-only disk is refused with the reason
      expect(await s.stop()).toBe(0);
      await expect(startServer({ dataDir, wrap: inNs })).rejects.toThrow(/data directory .* is on a read-only file system/);
      // the operator repairs the disk and mounts it again: everything acknowledged is there
      run('umount', mnt2);
      expect([0, 1]).toContain(spawnSync('e2fsck', ['-fy', img]).status); // 1: errors corrected
      mountDisk();
      // (SQLite resolves the links of a path, /proc/<pid>/root too: it checks from inside)
      const check = `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))}); const db = new D(${JSON.stringify(path.join(dataDir, 'openbatch.db'))}); process.stdout.write(db.pragma('integrity_check', { simple: true })); db.close();`;
      expect(run(process.execPath, '-e', check)).toBe('ok');
      s = await startServer({ dataDir, wrap: inNs });
      cl = s.client();
      expect((await cl.DescribeJob!({ JobId: before.JobId })).JobState).toBe('SUCCEED');
      const after = await cl.SubmitJob!(simpleJob('echo after'));
      expect((await waitJobDone(cl, after.JobId)).JobState).toBe('SUCCEED');
      await s.stop();
    } finally {
      spawnSync(inNs[0]!, [...inNs.slice(1), 'umount', '-l', mnt2]);
      spawnSync('umount', [nsFile]);
    }
  }, 120_000);
});
