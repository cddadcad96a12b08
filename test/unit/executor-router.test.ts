// The executor router between the local executor and the engine of queues, on two scripted engines:
// a group goes where its queue says, stops and releases follow the handle's executor, an attempt whose
// launch was never recorded is looked for in both (a find wins over "lost"), logs are read where they
// are, and a queue without an engine is refused per instance.
import { describe, expect, it } from 'vitest';
import { ExecutorRouter } from '../../src/executors/router.ts';
import type { LaunchGroup, LaunchResult } from '../../src/executors/types.ts';
import { ScriptedExecutor } from '../support/scripted-executor.ts';

const group = (key: string, queue?: string): LaunchGroup => ({
  jobId: 'job-00000001', taskName: 'A', account: 'acc', command: 'true', env: {}, limits: { timeoutSec: 0, maxConcurrent: 0 },
  ...(queue ? { queue } : {}), instances: [{ key, index: 0, attempt: 1 }],
});

async function launch(r: ExecutorRouter, g: LaunchGroup): Promise<LaunchResult[]> {
  const got: LaunchResult[] = [];
  await r.launch(g, (x) => got.push(x));
  return got;
}

describe('executor router', () => {
  it('sends a group naming a queue to the queue engine, others to the local executor; stops and releases follow the handle', async () => {
    const local = new ScriptedExecutor({ name: 'local' });
    const slurm = new ScriptedExecutor({ name: 'slurm', capacity: { queue: 'slurm' } });
    const r = new ExecutorRouter(local, slurm);
    expect(r.capacity()).toEqual({ kind: 'slots', slots: 4 });
    const [a] = await launch(r, group('job-00000001.A.0.1'));
    const [b] = await launch(r, group('job-00000001.A.1.1', 'hpc'));
    expect(local.launchedKeys()).toEqual(['job-00000001.A.0.1']);
    expect(slurm.launchedKeys()).toEqual(['job-00000001.A.1.1']);
    expect(slurm.launches[0]?.queue).toBe('hpc');
    if (!a?.ok || !b?.ok) throw new Error('launch failed');
    r.stop(b.key, b.handle, 'terminate', 100);
    r.release(a.key, a.handle);
    expect(slurm.stops.map((s) => s.key)).toEqual([b.key]);
    expect(local.stops).toEqual([]);
    expect(local.releases.map((x) => x.key)).toEqual([a.key]);
    expect(slurm.releases).toEqual([]);
  });

  it('refuses each instance of a group naming a queue when no queue engine is configured', async () => {
    const r = new ExecutorRouter(new ScriptedExecutor({ name: 'local' }));
    const got = await launch(r, group('job-00000001.A.0.1', 'hpc'));
    expect(got).toEqual([{ key: 'job-00000001.A.0.1', ok: false, error: 'no engine of queues is configured for queue hpc' }]);
  });

  it('after a restart asks the handle\'s executor, and looks for a never-recorded attempt in both engines', async () => {
    const local = new ScriptedExecutor({ name: 'local', observe: () => ({ state: 'lost', reason: 'no pid file' }) });
    const slurm = new ScriptedExecutor({
      name: 'slurm', capacity: { queue: 'slurm' },
      observe: (x) => (x.handle === null ? { state: 'running', handle: { executor: 'slurm', job: '7', task: 0 } } : { state: 'exited', exit: { exitCode: 3, signal: null } }),
    });
    const r = new ExecutorRouter(local, slurm);
    const seen = await r.observe([
      { key: 'k-slurm', handle: { executor: 'slurm', job: '6', task: 1 } },
      { key: 'k-null', handle: null },
      { key: 'k-other', handle: { executor: 'kubernetes', name: 'x' } },
    ]);
    expect(seen).toEqual([
      { key: 'k-slurm', state: 'exited', exit: { exitCode: 3, signal: null } },
      { key: 'k-null', state: 'running', handle: { executor: 'slurm', job: '7', task: 0 } },
      { key: 'k-other', state: 'lost', reason: 'no engine of this server made it (kubernetes)' },
    ]);
    expect(local.observeCalls).toEqual([[{ key: 'k-null', handle: null }]]);
  });

  it('reads an attempt\'s logs from the engine that has them, and removes a job\'s logs from both', async () => {
    const local = new ScriptedExecutor({ name: 'local' });
    const slurm = new ScriptedExecutor({ name: 'slurm', capacity: { queue: 'slurm' } });
    const r = new ExecutorRouter(local, slurm);
    const id = { jobId: 'job-00000001', taskName: 'A', index: 0, attempt: 1 };
    slurm.logs.write(id, 'stdout', 'from slurm');
    expect((await r.logs.tail(id, 'stdout', 100))?.toString()).toBe('from slurm');
    expect((await r.logs.read(id, 'stdout', 5))?.toString()).toBe('slurm');
    expect(await r.logs.tail({ ...id, index: 1 }, 'stdout', 100)).toBeUndefined();
    await r.logs.removeJob('job-00000001');
    expect(local.logs.removedJobs).toEqual(['job-00000001']);
    expect(slurm.logs.removedJobs).toEqual(['job-00000001']);
  });
});
