// The Slurm executor and what a launch group asks of an attempt's files, on the real cluster of this
// machine: a seed directory (PACKAGE) in every element's working directory, its user's, and instances
// with private mounts refused (privateMounts() says why). Skipped, saying why, when no Slurm
// controller answers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunUser } from '../../src/executors/local/run-as.ts';
import type { SlurmExecutor } from '../../src/executors/slurm/executor.ts';
import { attemptKey, type LaunchGroup, type LaunchResult, type Observation } from '../../src/executors/types.ts';
import { until as waitUntil } from '../support/until.ts';
import { cancelLeftovers, shareRoot, SlurmCli, slurmExecutor, testUser } from './support.ts';
import { slurmTestCluster } from '../support/slurm.ts';

const cluster = await slurmTestCluster();
const missing = cluster.ok ? undefined : cluster.why;
const until = <T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms?: number) => waitUntil(what, f, ms, 50);

describe.skipIf(missing !== undefined)(`Slurm executor: seed directories and mounts${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const user: RunUser | undefined = testUser();
  let root: string;
  let shared: string;
  const made: SlurmExecutor[] = [];
  const prefix = `job-d${process.pid}x`;
  let seq = 0;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-slurm-seed-'));
    shared = shareRoot(root, user);
  });
  afterEach(async () => {
    for (const ex of made.splice(0)) await ex.close();
    await cancelLeftovers(new SlurmCli(), prefix);
    fs.rmSync(root, { recursive: true, force: true });
  });
  afterAll(async () => {
    await cancelLeftovers(new SlurmCli(), prefix);
  });

  function make() {
    const ex = slurmExecutor(new SlurmCli(), shared, user);
    made.push(ex);
    const events: Observation[] = [];
    ex.onEvents((batch) => events.push(...batch));
    const end = (key: string) => until(`the end of ${key}`, () => events.find((e) => e.key === key && (e.state === 'exited' || e.state === 'lost')));
    return { ex, end };
  }

  function group(command: string, n: number, more: Partial<LaunchGroup> = {}): LaunchGroup {
    const jobId = `${prefix}${++seq}`;
    return {
      jobId, taskName: 'T', account: 'acc', command, env: {}, limits: { timeoutSec: 0, maxConcurrent: 0 },
      instances: Array.from({ length: n }, (_, index) => ({ key: attemptKey({ jobId, taskName: 'T', index, attempt: 1 }), index, attempt: 1 })),
      ...more,
    };
  }

  async function launch(ex: SlurmExecutor, g: LaunchGroup): Promise<LaunchResult[]> {
    const rs: LaunchResult[] = [];
    await ex.launch(g, (r) => rs.push(r));
    return g.instances.map((i) => rs.find((r) => r.key === i.key)!);
  }

  const log = (g: LaunchGroup, index: number, stream: 'stdout' | 'stderr') =>
    fs.readFileSync(path.join(shared, 'logs', g.jobId, 'T', `${index}.1.${stream}`), 'utf8');

  it('copies the seed directory into each element\'s working directory, its user\'s, scripts executable, symlinks as symlinks', async () => {
    const { ex, end } = make();
    // the server's own directory (it need not be in the shared one, nor readable by the user)
    const seed = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-seed-'));
    try {
      fs.mkdirSync(path.join(seed, 'lib'));
      fs.writeFileSync(path.join(seed, 'run.sh'), '#!/bin/sh\necho "run $BATCH_TASK_INSTANCE_INDEX by $(id -u)"\n', { mode: 0o755 });
      fs.writeFileSync(path.join(seed, 'lib', 'data.txt'), 'data\n', { mode: 0o640 });
      fs.symlinkSync('lib/data.txt', path.join(seed, 'link'));
      const g = group('./run.sh; cat link; stat -c "%a %U" run.sh lib/data.txt; echo mine > lib/data.txt', 2, { seedDir: seed });
      const rs = await launch(ex, g);
      expect(rs.every((r) => r.ok)).toBe(true);
      const uid = user?.uid ?? process.getuid!();
      const name = user?.name ?? os.userInfo().username;
      for (const [n, i] of g.instances.entries()) {
        expect(await end(i.key)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
        expect(log(g, n, 'stdout')).toBe(`run ${n} by ${uid}\ndata\n755 ${name}\n640 ${name}\n`);
        const wd = path.join(shared, 'work', g.jobId, 'T', `${n}.1`);
        expect(fs.lstatSync(path.join(wd, 'link')).isSymbolicLink()).toBe(true);
        expect(fs.statSync(path.join(wd, 'lib', 'data.txt')).uid).toBe(uid);
      }
      // each had its own copy; the seed is untouched
      expect(fs.readFileSync(path.join(seed, 'lib', 'data.txt'), 'utf8')).toBe('data\n');
      // the shared copy is the user's, below directories of the server's
      const copies = fs.readdirSync(path.join(shared, 'seeds', g.jobId));
      expect(copies).toHaveLength(1);
      expect(fs.statSync(path.join(shared, 'seeds', g.jobId, copies[0]!)).uid).toBe(uid);
      expect(fs.statSync(path.join(shared, 'seeds', g.jobId)).mode & 0o777).toBe(0o711);
      await ex.logs.removeJob(g.jobId);
      expect(fs.existsSync(path.join(shared, 'seeds', g.jobId))).toBe(false);
    } finally {
      fs.rmSync(seed, { recursive: true, force: true });
    }
  });

  it('fails the launch when the seed cannot be copied, and refuses instances with private mounts', async () => {
    const { ex, end } = make();
    const rs = await launch(ex, group('true', 1, { seedDir: path.join(root, 'missing') }));
    expect(!rs[0]!.ok && rs[0]!.error).toMatch(/^could not copy the package .*missing into .*ENOENT/);
    expect(ex.privateMounts()).toMatch(/no private mount namespace/);
    const g = group('true', 2);
    g.instances[0]!.mounts = [{ source: root, target: '/data/input', readOnly: true }];
    const [withMounts, plain] = await launch(ex, g);
    expect(!withMounts!.ok && withMounts!.error).toMatch(/^the attempt cannot have private mounts: attempts on Slurm have no private mount namespace/);
    expect(plain!.ok).toBe(true);
    expect(await end(g.instances[1]!.key)).toMatchObject({ state: 'exited', exit: { exitCode: 0 } });
  });
});
