// JobService rules that the scheduler makes hard to reach end to end (a job caught in SUBMITTED),
// on a real SQLite store and a real scheduler that has not been started yet.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config/config.ts';
import { LocalExecutor } from '../../src/executors/local/executor.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { EnvPools } from '../../src/scheduler/env-pools.ts';
import { HostCapacity } from '../../src/domain/capacity.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { JobService } from '../../src/services/jobs.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-svc-'));
  const store = new SqliteStore(path.join(dir, 'db'));
  const executor = new LocalExecutor({ stateDir: path.join(dir, 'attempts'), slots: 2 });
  const pools = new EnvPools(store, systemClock, silentLogger);
  const scheduler = new Scheduler({ store, executor, clock: systemClock, logger: silentLogger, pools,
    capacity: new HostCapacity({ cpus: 2, memGiB: 4 }, 1), resourcesOf: () => ({ cpus: 1, memGiB: 1 }) });
  const jobs = new JobService({ store, commands: scheduler, clock: systemClock, limits: DEFAULT_LIMITS, logs: executor.logs, localRoot: path.join(dir, 'local') });
  return { store, scheduler, jobs, executor };
}

const caller = { account: 'acc', region: 'ap-guangzhou' };
const req = {
  Placement: { Zone: 'ap-guangzhou-2' },
  Job: { Tasks: [{ TaskName: 'A', TaskInstanceNum: 1_000_000, Application: { DeliveryForm: 'LOCAL', Command: 'true' }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } }] },
};

describe('JobService', () => {
  it('refuses TerminateJob while the job is SUBMITTED, and lists a million instances without rows', async () => {
    const { jobs, store, scheduler, executor } = setup();
    const { JobId } = await jobs.submitJob(caller, req);
    const d = await jobs.describeJob(caller, { JobId });
    expect(d.JobState).toBe('SUBMITTED');
    expect(d.TaskInstanceMetrics.SubmittedCount).toBe(1_000_000);
    await expect(jobs.terminateJob(caller, { JobId })).rejects.toMatchObject({ code: 'UnsupportedOperation' });
    await expect(jobs.deleteJob(caller, { JobId })).rejects.toMatchObject({ code: 'ResourceInUse.Job' });
    // paging deep into instances that have no rows
    const t = await jobs.describeTask(caller, { JobId, TaskName: 'A', Offset: 999_998, Limit: 5 });
    expect(t.TaskInstanceTotalCount).toBe(1_000_000);
    expect(t.TaskInstanceSet.map((i: { TaskInstanceIndex: number; TaskInstanceState: string }) => `${i.TaskInstanceIndex}:${i.TaskInstanceState}`))
      .toEqual(['999998:SUBMITTED', '999999:SUBMITTED']);
    expect(t.TaskInstanceSet[0]?.StateReason).toBe('Submitted');
    expect(await store.countInstanceRows(JobId, 'A', undefined, 0, 1_000_000)).toBe(0);
    await scheduler.close();
    await executor.close();
    await store.close();
  });
});
