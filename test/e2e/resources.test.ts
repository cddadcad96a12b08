// The resources of instance types through the official SDK: an attempt that needs more memory than
// its type ends OutOfMemory, a CPU burner on a one-vCPU type gets about one CPU (measured from its
// cgroup), the host is never promised more than it has (LimitExceeded.CpuQuota, anonymous instances
// wait with a reason), and what a process cannot be given fails at submission while any command up to
// the request limit runs. Parts that need root or cgroup controllers skip, saying why.
import fs from 'node:fs';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execArgBytes, MAX_ARG_STRLEN } from '../../src/lib/exec-limits.ts';
import { errorOf, sharedDir, simpleJob, startServer, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

const ROOT = process.getuid?.() === 0;

/** Where the cgroup controllers are mounted here (cgroup v1 hierarchies by controller, or v2). */
function mounts(): { v1: Map<string, string>; v2?: string } {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4]!;
    const [fstype, , opts = ''] = right.split(' ');
    if (fstype === 'cgroup') for (const o of opts.split(',')) v1.set(o, mountPoint);
    if (fstype === 'cgroup2') v2 ??= mountPoint;
  }
  return { v1, v2 };
}
const M = mounts();
const V1 = M.v1.has('memory') && M.v1.has('cpu') && M.v1.has('pids');
const CGROUPS = !ROOT ? 'needs root (cgroups)' : V1 || M.v2 ? '' : 'no cgroup controllers mounted';

let srv: TestServer;
let c: BatchClient;
const shared = sharedDir('openbatch-res-');

beforeAll(async () => {
  srv = await startServer({ args: ['--monitor-interval', '1'] });
  c = srv.client();
  if (CGROUPS) console.warn(`cgroup tests skipped: ${CGROUPS}`);
  else if (srv.output().includes('are not enforced')) console.warn(`cgroup tests will fail: ${srv.output()}`);
});
afterAll(async () => {
  await srv?.stop();
});

async function instance(JobId: string, index = 0): Promise<Record<string, any>> {
  return (await c.DescribeTask!({ JobId, TaskName: 'A', Offset: index, Limit: 1 })).TaskInstanceSet[0];
}

function stdout(JobId: string, attempt = 1): string {
  return fs.readFileSync(`${srv.dataDir}/logs/${JobId}/A/0.${attempt}.stdout`, 'utf8');
}

describe.skipIf(!!CGROUPS)('the instance type\'s resources', () => {
  it('ends an attempt that needs more memory than its type OutOfMemory, read from its memory cgroup', async () => {
    // tail keeps a line without newlines in memory: 1.3 GB of zeros against S1.SMALL1's 1 GiB
    const big = await c.SubmitJob!(simpleJob('head -c 1300000000 /dev/zero | tail > /dev/null'));
    // 100 MB fit, and a failure that is not about memory keeps its own reason
    const fits = await c.SubmitJob!(simpleJob('head -c 100000000 /dev/zero | tail > /dev/null'));
    const other = await c.SubmitJob!(simpleJob('head -c 100000000 /dev/zero | tail > /dev/null; exit 137'));
    expect((await waitJobDone(c, big.JobId)).JobState).toBe('FAILED');
    const i = await instance(big.JobId);
    expect([i.TaskInstanceState, i.StateReason]).toEqual(['FAILED', 'OutOfMemory']);
    expect(i.StateDetailedReason).toMatch(/more than the 1 GiB of memory of its instance type S1\.SMALL1/);
    expect((await waitJobDone(c, fits.JobId)).JobState).toBe('SUCCEED');
    expect((await waitJobDone(c, other.JobId)).JobState).toBe('FAILED');
    expect((await instance(other.JobId)).StateReason).toBe('Exit code 137');
  });

  it('keeps a CPU burner on a one-vCPU type near one CPU (CFS quota), measured from its cgroup', async () => {
    // three busy loops for 3 s; the attempt reads its cgroup's CPU time and throttling itself
    const usage = V1
      ? `u() { cat ${M.v1.get('cpuacct') ?? M.v1.get('cpu')}$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ {print $3}' /proc/self/cgroup)/cpuacct.usage; }`
      : `u() { echo $(( $(grep usage_usec ${M.v2}$(grep '^0::' /proc/self/cgroup | cut -d: -f3)/cpu.stat | cut -d' ' -f2) * 1000 )); }`;
    const stat = V1
      ? `${M.v1.get('cpu')}$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' /proc/self/cgroup)/cpu.stat`
      : `${M.v2}$(grep '^0::' /proc/self/cgroup | cut -d: -f3)/cpu.stat`;
    const cmd = [
      usage,
      't0=$(date +%s%N); u0=$(u)',
      'for i in 1 2 3; do sh -c "while :; do :; done" & done',
      'sleep 3',
      't1=$(date +%s%N); u1=$(u)',
      'echo "$((u1 - u0)) $((t1 - t0))"',
      `grep nr_throttled ${stat}`,
      V1 ? `cat $(dirname ${stat})/cpu.cfs_quota_us $(dirname ${stat})/cpu.cfs_period_us` : `cat $(dirname ${stat})/cpu.max`,
    ].join('\n');
    const { JobId } = await c.SubmitJob!(simpleJob(cmd));
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
    const [times, throttled, ...quota] = stdout(JobId).trim().split('\n');
    const [cpuNs, wallNs] = times!.split(' ').map(Number);
    const cpus = cpuNs! / wallNs!;
    // its cgroup allows one CPU per period
    expect(quota).toEqual(V1 ? ['100000', '100000'] : ['100000 100000']);
    // without the quota, three loops get every CPU of the host (2 here); with it, about one
    expect(cpus).toBeGreaterThan(0.1);
    expect(cpus).toBeLessThan(1.5);
    // where it got about a CPU's worth (not a machine busy with other work), it was held to it
    if (cpus > 0.9) expect(Number(throttled!.split(' ')[1])).toBeGreaterThan(0);
    // the burners were killed with the attempt (its cgroup holds nothing)
    const i = await instance(JobId);
    expect(i.TaskInstanceState).toBe('SUCCEED');
  });
});

describe('what the host can promise', () => {
  let one: TestServer;
  let oc: BatchClient;
  const cpus = os.availableParallelism();
  beforeAll(async () => {
    one = await startServer({ overcommit: 1, slots: 8 });
    oc = one.client();
  });
  afterAll(async () => {
    await one?.stop();
  });
  const env = (n: number) => ({
    ComputeEnv: { EnvName: 'cap', EnvType: 'MANAGED', DesiredComputeNodeCount: n, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
    Placement: { Zone: 'ap-guangzhou-3' },
  });

  it('refuses compute nodes beyond the host\'s CPUs with LimitExceeded.CpuQuota, saying what is free', async () => {
    const e = await errorOf(oc.CreateComputeEnv!(env(cpus + 1)));
    expect(e.code).toBe('LimitExceeded.CpuQuota');
    expect(e.message).toContain(`need ${cpus + 1} vCPUs`);
    expect(e.message).toMatch(new RegExp(`can promise ${cpus} vCPUs? and [\\d.]+ GiB \\(its ${cpus} CPUs and [\\d.]+ GiB × overcommit 1\\), of which ${cpus} vCPUs? and [\\d.]+ GiB are free`));
    const { EnvId } = await oc.CreateComputeEnv!(env(1));
    const m = await errorOf(oc.ModifyComputeEnv!({ EnvId, DesiredComputeNodeCount: cpus + 1 }));
    expect(m.code).toBe('LimitExceeded.CpuQuota');
    expect(m.message).toContain(`of which ${cpus - 1} vCPU`);
    // anonymous instances get what the node leaves: cpus - 1 at once, the others wait with a reason
    const go = `${shared}/cap.go`;
    const { JobId } = await oc.SubmitJob!(simpleJob(`while [ ! -f ${go} ]; do sleep 0.05; done`, { TaskInstanceNum: cpus + 2 }));
    const free = cpus - 1;
    if (free > 0) await waitFor(async () => (await oc.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === free, `${free} instances to run`);
    const waiting = await waitFor(async () => {
      const set = (await oc.DescribeTask!({ JobId, TaskName: 'A', Limit: 100 })).TaskInstanceSet as Record<string, any>[];
      return set.find((i) => i.TaskInstanceState === 'RUNNABLE' && /S1\.SMALL1 needs 1 vCPU and 1 GiB/.test(i.StateDetailedReason));
    }, 'a waiting instance that says why');
    expect(waiting.StateReason).toBe('WaitingForCapacity');
    // the instances never exceed what is free, however long they run together
    await new Promise((r) => setTimeout(r, 500));
    expect((await oc.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount).toBe(free);
    // deleting the environment gives its vCPU to the waiting instances
    await oc.DeleteComputeEnv!({ EnvId });
    await waitFor(async () => (await oc.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === cpus, `${cpus} instances to run`);
    fs.writeFileSync(go, '');
    expect((await waitJobDone(oc, JobId)).JobState).toBe('SUCCEED');
    // nothing holds the host now: every CPU can go to compute nodes
    await oc.CreateComputeEnv!(env(cpus));
  });

  it('refuses at submission an instance type larger than the host can ever promise', async () => {
    const types = (await oc.DescribeAvailableCvmInstanceTypes!({})).InstanceTypeConfigSet as { InstanceType: string; Cpu: number; Mem: number }[];
    const huge = types.find((t) => t.Cpu > cpus)!;
    const e = await errorOf(oc.SubmitJob!(simpleJob('true', { ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: huge.InstanceType, ImageId: 'img-bd78fy2t' } } })));
    expect(e.code).toBe('LimitExceeded.CpuQuota');
    expect(e.message).toContain(`${huge.InstanceType} needs ${huge.Cpu} vCPUs`);
  });
});

describe('what a process can be given', () => {
  const tail = '\necho "$(( 6 * 7 ))" ran';
  const commandOf = (bytes: number) => `#${'x'.repeat(bytes - 1 - tail.length)}${tail}`;

  it('runs a command of any length up to the request limit: one argument\'s worth, one byte more, 9 MB', async () => {
    for (const bytes of [MAX_ARG_STRLEN - 1, MAX_ARG_STRLEN, 9_000_000]) {
      const cmd = commandOf(bytes);
      expect(Buffer.byteLength(cmd)).toBe(bytes);
      const { JobId } = await c.SubmitJob!(simpleJob(cmd));
      expect((await waitJobDone(c, JobId)).JobState, `${bytes} bytes`).toBe('SUCCEED');
      expect(stdout(JobId), `${bytes} bytes`).toBe('42 ran\n');
    }
  });

  it('refuses at submission EnvVars a process cannot be given; the largest that fit run', async () => {
    const one = (bytes: number, name = 'BIG') => ({ Name: name, Value: 'v'.repeat(bytes - name.length - 1) }); // "Name=Value" bytes
    const ok = await c.SubmitJob!(simpleJob('echo ${#BIG}', { EnvVars: [one(MAX_ARG_STRLEN - 1)] }));
    expect((await waitJobDone(c, ok.JobId)).JobState).toBe('SUCCEED');
    expect(stdout(ok.JobId)).toBe(`${MAX_ARG_STRLEN - 1 - 4}\n`);
    const e = await errorOf(c.SubmitJob!(simpleJob('true', { EnvVars: [one(MAX_ARG_STRLEN)] })));
    expect(e.code).toBe('InvalidParameterValue.LimitExceeded');
    expect(e.message).toContain(`at most ${MAX_ARG_STRLEN - 1} bytes`);
    // all of them together: the room of one exec here, less the longest inline command and what
    // OpenBatch adds (as the server computes it); each variable costs its bytes, a NUL and a pointer
    const budget = execArgBytes() - MAX_ARG_STRLEN - 16 * 1024;
    const vars: { Name: string; Value: string }[] = [];
    let left = budget;
    for (let k = 0; left > 0; k++) {
      const name = `V${k}`;
      const cost = Math.min(left, 100_000);
      if (cost < name.length + 2 + 9) {
        // too little left for one more variable: lengthen the previous one instead
        const last = vars.pop()!;
        vars.push({ Name: last.Name, Value: last.Value + 'v'.repeat(cost) });
        break;
      }
      vars.push({ Name: name, Value: 'v'.repeat(cost - name.length - 1 - 1 - 8) });
      left -= cost;
    }
    const total = vars.reduce((n, v) => n + Buffer.byteLength(`${v.Name}=${v.Value}`) + 1 + 8, 0);
    expect(total).toBe(budget);
    const fits = await c.SubmitJob!(simpleJob('echo ${#V0}', { EnvVars: vars }));
    expect((await waitJobDone(c, fits.JobId)).JobState).toBe('SUCCEED');
    expect(stdout(fits.JobId)).toBe(`${vars[0]!.Value.length}\n`);
    vars[0]!.Value += 'v';
    const over = await errorOf(c.SubmitJob!(simpleJob('true', { EnvVars: vars })));
    expect(over.code).toBe('InvalidParameterValue.LimitExceeded');
    expect(over.message).toContain(`take ${budget + 1} bytes`);
    // a NUL can be in JSON, but in no command or variable
    expect((await errorOf(c.SubmitJob!(simpleJob('echo a\u0000b')))).code).toBe('InvalidParameterValue');
    expect((await errorOf(c.SubmitJob!(simpleJob('true', { EnvVars: [{ Name: 'N', Value: 'a\u0000' }] })))).code).toBe('InvalidParameterValue');
  });
});
