// THPC_QUEUE environments in the env service, on a real SQLite store (no cluster is asked here: the
// e2e tests on real Slurm show their nodes): stable EnvIds from the queue's name, seen by every
// account of the queue's region and by no other region, merged before the stored envs in
// DescribeComputeEnvs with its filters and paging, and refused for every change with a message that
// says the Slurm cluster manages them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config/config.ts';
import { LocalExecutor } from '../../src/executors/local/executor.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { HostCapacity } from '../../src/domain/capacity.ts';
import { EnvPools } from '../../src/scheduler/env-pools.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { EnvService } from '../../src/services/envs.ts';
import { QueueEnvs } from '../../src/services/queue-envs.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function setup(queues = new QueueEnvs([{ name: 'hpc', partition: 'batch' }, { name: 'gpu', partition: 'gpu', zone: 'ap-shanghai-2' }], 'ap-guangzhou', undefined, Date.UTC(2026, 11, 2))) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-queues-'));
  const store = new SqliteStore(path.join(dir, 'db'));
  const executor = new LocalExecutor({ stateDir: path.join(dir, 'attempts'), slots: 2 });
  const capacity = new HostCapacity({ cpus: 4, memGiB: 8 }, 1);
  const scheduler = new Scheduler({ store, executor, clock: systemClock, logger: silentLogger, pools: new EnvPools(store, systemClock, silentLogger, capacity),
    capacity, resourcesOf: () => ({ cpus: 1, memGiB: 1 }) });
  const envs = new EnvService({
    store, commands: scheduler, view: scheduler, clock: systemClock, limits: DEFAULT_LIMITS, localRoot: path.join(dir, 'local'),
    capacityOf: (t) => (t === 'S1.SMALL1' ? { cpu: 1, memGiB: 1 } : undefined), attachable: [], capacity, queues,
  });
  await scheduler.start();
  closers.push(async () => {
    await scheduler.close();
    await executor.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { envs, queues };
}

const gz = (account: string) => ({ account, region: 'ap-guangzhou' });
const managed = (name: string) => ({
  ComputeEnv: { EnvName: name, EnvType: 'MANAGED', DesiredComputeNodeCount: 0, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
  Placement: { Zone: 'ap-guangzhou-3' },
});

describe('THPC_QUEUE environments', () => {
  it('have an EnvId derived from the queue name: the same after a restart, different per name', () => {
    const a = new QueueEnvs([{ name: 'hpc', partition: 'batch' }], 'ap-guangzhou', undefined, 0);
    const b = new QueueEnvs([{ name: 'other', partition: 'x' }, { name: 'hpc', partition: 'batch' }], 'ap-guangzhou', undefined, 1);
    const id = a.list('ap-guangzhou')[0]!.id;
    expect(id).toMatch(/^env-[a-z0-9]{8}$/);
    expect(b.byQueueName('hpc')?.id).toBe(id);
    expect(b.byQueueName('other')?.id).not.toBe(id);
    // the zone defaults to the region's first, and decides where it is seen
    expect(a.byQueueName('hpc')).toMatchObject({ zone: 'ap-guangzhou-1', region: 'ap-guangzhou' });
    expect(() => new QueueEnvs([{ name: 'x', partition: 'p', zone: 'mars-1' }], 'ap-guangzhou', undefined, 0)).toThrow(/zone mars-1/);
  });

  it('are seen by every account of their region, first in DescribeComputeEnvs, with filters and paging', async () => {
    const { envs, queues } = await setup();
    const hpc = queues.byQueueName('hpc')!.id;
    const { EnvId: own } = await envs.create(gz('a1'), managed('mine'));
    for (const account of ['a1', 'a2']) {
      const d = await envs.describe(gz(account), { EnvId: hpc });
      expect(d).toMatchObject({ EnvId: hpc, EnvName: 'hpc', EnvType: 'THPC_QUEUE', Placement: { Zone: 'ap-guangzhou-1' }, ComputeNodeSet: [], NextAction: '' });
      expect(await envs.usable(gz(account), hpc)).toBe(true);
    }
    const all = await envs.describeEnvs(gz('a1'), {});
    expect(all.TotalCount).toBe(2);
    expect(all.ComputeEnvSet.map((e) => [e.EnvId, e.EnvType])).toEqual([[hpc, 'THPC_QUEUE'], [own, 'MANAGED']]);
    expect((await envs.describeEnvs(gz('a1'), { Offset: 1, Limit: 5 })).ComputeEnvSet.map((e) => e.EnvId)).toEqual([own]);
    expect((await envs.describeEnvs(gz('a1'), { Offset: 0, Limit: 1 })).ComputeEnvSet.map((e) => e.EnvId)).toEqual([hpc]);
    expect((await envs.describeEnvs(gz('a1'), { Filters: [{ Name: 'env-name', Values: ['hpc'] }] })).ComputeEnvSet.map((e) => e.EnvId)).toEqual([hpc]);
    expect((await envs.describeEnvs(gz('a1'), { Filters: [{ Name: 'env-name', Values: ['mine'] }] })).ComputeEnvSet.map((e) => e.EnvId)).toEqual([own]);
    expect((await envs.describeEnvs(gz('a1'), { Filters: [{ Name: 'tag-key', Values: ['k'] }] })).TotalCount).toBe(0);
    expect((await envs.describeEnvs(gz('a1'), { EnvIds: [hpc] })).TotalCount).toBe(1);
    expect((await envs.describeCreateInfos(gz('a1'), {})).ComputeEnvCreateInfoSet.map((e) => e.EnvType)).toEqual(['THPC_QUEUE', 'MANAGED']);
    expect(await envs.describeActivities(gz('a1'), { EnvId: hpc })).toEqual({ ActivitySet: [], TotalCount: 0 });
    // another region sees its own queue only
    const sh = await envs.describeEnvs({ account: 'a1', region: 'ap-shanghai' }, {});
    expect(sh.ComputeEnvSet.map((e) => e.EnvName)).toEqual(['gpu']);
    await expect(envs.describe({ account: 'a1', region: 'ap-shanghai' }, { EnvId: hpc })).rejects.toMatchObject({ code: 'ResourceNotFound.ComputeEnv' });
  });

  it('refuse every change with UnsupportedOperation: the Slurm cluster manages them', async () => {
    const { envs, queues } = await setup();
    const EnvId = queues.byQueueName('hpc')!.id;
    const c = gz('a1');
    const calls: [string, () => Promise<unknown>][] = [
      ['ModifyComputeEnv', () => envs.modify(c, { EnvId, DesiredComputeNodeCount: 3 })],
      ['DeleteComputeEnv', () => envs.delete(c, { EnvId })],
      ['AttachInstances', () => envs.attach(c, { EnvId, Instances: [{ InstanceId: 'ins-12345678' }] })],
      ['DetachInstances', () => envs.detach(c, { EnvId, InstanceIds: ['ins-12345678'] })],
      ['TerminateComputeNode', () => envs.terminateNode(c, { EnvId, ComputeNodeId: 'node-12345678' })],
      ['TerminateComputeNodes', () => envs.terminateNodes(c, { EnvId, ComputeNodeIds: ['node-12345678'] })],
    ];
    for (const [what, call] of calls) {
      const e = await call().then(() => undefined, (err: unknown) => err as { code: string; message: string });
      expect(e?.code, what).toBe('UnsupportedOperation');
      expect(e?.message, what).toContain('managed by the Slurm cluster');
      expect(e?.message, what).toContain(what);
    }
  });
});
