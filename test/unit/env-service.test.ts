// CreateComputeEnv on a real SQLite store and a real (not started) scheduler: one store call writes the
// env with its nodes and activities; a ClientToken retry answers the first env's id (also when the host
// could no longer promise the nodes, or the quota is reached); the quota answers its Tencent code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config/config.ts';
import { LocalExecutor } from '../../src/executors/local/executor.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { HostCapacity } from '../../src/domain/capacity.ts';
import { EnvPools } from '../../src/scheduler/env-pools.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { EnvService } from '../../src/services/envs.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

async function setup(maxComputeEnvs: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-envsvc-'));
  const store = new SqliteStore(path.join(dir, 'db'));
  const executor = new LocalExecutor({ stateDir: path.join(dir, 'attempts'), slots: 2 });
  const capacity = new HostCapacity({ cpus: 4, memGiB: 8 }, 1);
  const pools = new EnvPools(store, systemClock, silentLogger, capacity);
  const scheduler = new Scheduler({ store, executor, clock: systemClock, logger: silentLogger, pools,
    capacity, resourcesOf: () => ({ cpus: 1, memGiB: 1 }) });
  const envs = new EnvService({
    store, commands: scheduler, view: scheduler, clock: systemClock, limits: { ...DEFAULT_LIMITS, maxComputeEnvs }, localRoot: path.join(dir, 'local'),
    capacityOf: (t) => (t === 'S1.SMALL1' ? { cpu: 1, memGiB: 1 } : undefined), attachable: [], capacity,
  });
  // commands reach it through the store, as in the server
  await scheduler.start();
  const close = async () => {
    await scheduler.close();
    await executor.close();
    await store.close();
  };
  return { store, envs, close };
}

const caller = { account: 'acc', region: 'ap-guangzhou' };
const req = (count: number, over: Record<string, unknown> = {}) => ({
  ComputeEnv: { EnvName: 'pool', EnvType: 'MANAGED', DesiredComputeNodeCount: count, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
  Placement: { Zone: 'ap-guangzhou-3' },
  ...over,
});

describe('CreateComputeEnv', () => {
  it('answers a ClientToken retry with the first env, even once the host could not promise its nodes again', async () => {
    const { store, envs, close } = await setup(10);
    const { EnvId } = await envs.create(caller, req(3, { ClientToken: 'tok-1' }));
    const nodes = await store.nodesOf(EnvId);
    expect(nodes).toHaveLength(3);
    expect((await store.activitiesOf(EnvId, undefined, 0, 10)).total).toBe(3);
    expect((await store.getEnvById(EnvId))?.clientToken).toBe('tok-1');
    // 3 of the host's 4 CPUs are held now: a new env of 3 nodes is refused, its retry is not
    expect(await envs.create(caller, req(3, { ClientToken: 'tok-1' }))).toEqual({ EnvId });
    await expect(envs.create(caller, req(3, { ClientToken: 'tok-2' }))).rejects.toMatchObject({ code: 'LimitExceeded.CpuQuota' });
    expect(await store.nodesOf(EnvId)).toEqual(nodes);
    expect((await store.listEnvs('acc', 'ap-guangzhou', { offset: 0, limit: 10 })).total).toBe(1);
    // another account's token is its own
    const other = await envs.create({ ...caller, account: 'acc-2' }, req(0, { ClientToken: 'tok-1' }));
    expect(other.EnvId).not.toBe(EnvId);
    await close();
  });

  it('refuses an env beyond the quota with LimitExceeded.ComputeEnvQuota and writes none of its nodes', async () => {
    const { store, envs, close } = await setup(1);
    const { EnvId } = await envs.create(caller, req(1, { ClientToken: 'only' }));
    await expect(envs.create(caller, req(1))).rejects.toMatchObject({ code: 'LimitExceeded.ComputeEnvQuota' });
    expect((await store.listEnvs('acc', 'ap-guangzhou', { offset: 0, limit: 10 })).envs.map((e) => e.id)).toEqual([EnvId]);
    expect((await store.allEnvs()).flatMap((e) => e.id)).toEqual([EnvId]);
    // a retry of the env that exists is still answered at the quota
    expect(await envs.create(caller, req(1, { ClientToken: 'only' }))).toEqual({ EnvId });
    await close();
  });
});
