// `openbatch serve` with a config file's `slurm` section: a section that names a Slurm command, a
// partition or a shared directory that is not there is refused at start (exit code 1) with a message
// that says which; a good one starts (against the test cluster). A malformed section is a config error
// (exit code 2) whether or not there is a cluster.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, startServer } from '../helpers/server.ts';
import { slurmTestCluster } from '../support/slurm.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ob-slurm-start-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** A config file with this slurm section; its path. */
function configWith(slurm: unknown): string {
  const file = path.join(tmp, `config-${++n}.json`);
  fs.writeFileSync(file, JSON.stringify({ slurm }), { mode: 0o600 });
  return file;
}

/** `openbatch serve` with the config file, run until it exits (it should not start). */
function serveRefused(config: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/openbatch.mjs'), 'serve', '--port', '0', '--data-dir', path.join(tmp, `data-${n}`), '--config', config], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, OPENBATCH_LOG_LEVEL: 'warn' },
  });
  return { status: r.status, stderr: r.stderr };
}

describe('openbatch serve with a malformed slurm section', () => {
  it('exits 2 naming the setting', () => {
    const r = serveRefused(configWith({ queues: [{ name: 'hpc', partition: 'batch' }], anonymousQueue: 'gpu' }));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^openbatch serve: slurm\.anonymousQueue must be the name of one of slurm\.queues \(hpc\), got "gpu"\n$/);
  }, 60_000);
});

const slurm = await slurmTestCluster();

describe.skipIf(!slurm.ok)(`openbatch serve against the test cluster${slurm.ok ? '' : ` (skipped: ${slurm.why})`}`, () => {
  const binDir = slurm.ok && slurm.binDir ? { binDir: slurm.binDir } : {};
  const queues = [{ name: 'hpc', partition: 'batch', zone: 'ap-guangzhou-2' }];

  it('refuses an unknown partition, a missing command and an unwritable sharedDir, saying which (exit 1)', () => {
    let r = serveRefused(configWith({ ...binDir, queues: [...queues, { name: 'gpu', partition: 'no-such-partition' }] }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/openbatch serve: config file "slurm": slurm queue "gpu": partition "no-such-partition" is not a partition of the Slurm cluster/);

    const empty = path.join(tmp, 'empty-bin');
    fs.mkdirSync(empty);
    r = serveRefused(configWith({ binDir: empty, queues }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`openbatch serve: config file "slurm": Slurm commands sbatch (not found), squeue (not found), scancel (not found), sinfo (not found), scontrol (not found), sacct (not found) missing in slurm.binDir ${empty}`);

    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    r = serveRefused(configWith({ ...binDir, sharedDir: path.join(file, 'shared'), queues }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`openbatch serve: config file "slurm": slurm.sharedDir ${path.join(file, 'shared')} cannot be created (ENOTDIR`);
  }, 120_000);

  it('starts with a good section, its sharedDir created in the data dir by default', async () => {
    const server = await startServer({ dataDir: path.join(tmp, 'data-good'), args: ['--config', configWith({ ...binDir, queues, anonymousQueue: 'hpc' })] });
    try {
      expect(fs.statSync(path.join(server.dataDir, 'slurm')).isDirectory()).toBe(true);
    } finally {
      const code = await server.stop();
      expect(code, `signal ${server.proc.signalCode}; output:\n${server.output()}`).toBe(0);
    }
  }, 60_000);
});
