// The start-up check of the `slurm` config section against the test cluster: missing or
// non-executable commands (a binDir with only some of them, a PATH without them), an unknown
// partition, a sharedDir that cannot be created, a controller that does not answer; and the limits
// read from `scontrol show config` (also parsed from a captured fixture).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SlurmConfig } from '../../src/config/config.ts';
import { SLURM_COMMANDS, SlurmCli } from '../../src/executors/slurm/cli.ts';
import { checkSlurm, parseSlurmConfig, SlurmSetupError } from '../../src/executors/slurm/setup.ts';
import { slurmTestCluster } from '../support/slurm.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/slurm');

describe('parseSlurmConfig', () => {
  it('reads MaxArraySize, MinJobAge and the version of real scontrol show config output', () => {
    expect(parseSlurmConfig(fs.readFileSync(path.join(FIXTURES, 'scontrol-show-config.txt'), 'utf8')))
      .toEqual({ maxArraySize: 100001, minJobAge: 300, version: '22.05.8' });
  });
  it('says which setting is missing or not a number', () => {
    expect(() => parseSlurmConfig('MinJobAge = 300 sec\nSLURM_VERSION = 22.05.8\n')).toThrow(/did not give MaxArraySize/);
    expect(() => parseSlurmConfig('MaxArraySize = lots\nMinJobAge = 300 sec\nSLURM_VERSION = 1\n')).toThrow(/MaxArraySize = "lots", not a number/);
  });
});

const slurm = await slurmTestCluster();

describe.skipIf(!slurm.ok)(`checkSlurm on the test cluster${slurm.ok ? '' : ` (skipped: ${slurm.why})`}`, () => {
  const binDir = slurm.ok ? slurm.binDir : undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ob-slurm-setup-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const cfg = (o: Partial<SlurmConfig> = {}): SlurmConfig => ({
    sharedDir: path.join(tmp, 'shared'), queues: [{ name: 'hpc', partition: 'batch', zone: 'ap-guangzhou-2' }], ...o,
  });
  const cli = new SlurmCli(binDir ? { binDir } : {});
  /** Where a command of the test cluster is. */
  const real = (cmd: string) => binDir ? path.join(binDir, cmd) : execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
  const refused = async (p: Promise<unknown>): Promise<string> => {
    const e = await p.then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(SlurmSetupError);
    return (e as Error).message;
  };

  it('passes a good section, creates sharedDir, and gives the cluster\'s limits (two Slurm calls)', async () => {
    const c = new SlurmCli(binDir ? { binDir } : {});
    const limits = await checkSlurm(cfg(), c);
    expect(c.totalCalls()).toBe(2);
    expect(Number.isInteger(limits.maxArraySize) && limits.maxArraySize > 0).toBe(true);
    expect(Number.isInteger(limits.minJobAge) && limits.minJobAge >= 0).toBe(true);
    expect(limits.version).toMatch(/^\d+\.\d+/);
    const show = execFileSync(real('scontrol'), ['show', 'config'], { encoding: 'utf8' });
    expect(limits).toEqual(parseSlurmConfig(show));
    expect(fs.statSync(path.join(tmp, 'shared')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(tmp, 'shared'))).toEqual([]);
  });

  it('names the commands a binDir lacks, and one that is not executable', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'bin-'));
    for (const cmd of ['sbatch', 'sinfo', 'scontrol']) fs.symlinkSync(real(cmd), path.join(dir, cmd));
    fs.writeFileSync(path.join(dir, 'squeue'), '#!/bin/sh\n', { mode: 0o644 });
    fs.mkdirSync(path.join(dir, 'scancel'));
    const msg = await refused(checkSlurm(cfg({ binDir: dir }), new SlurmCli({ binDir: dir })));
    expect(msg).toBe(`Slurm commands squeue (not executable), scancel (not a file), sacct (not found) missing in slurm.binDir ${dir}: it must hold ${SLURM_COMMANDS.join(', ')}, each an executable file`);
  });

  it('names the commands not on the PATH when there is no binDir', async () => {
    const msg = await refused(checkSlurm(cfg(), new SlurmCli({ env: { PATH: `${tmp}/nothing:/nonexistent` } })));
    expect(msg).toMatch(/^Slurm commands sbatch, squeue, scancel, sinfo, scontrol, sacct not found on the PATH \(.*\/nothing:\/nonexistent\): install .*slurm-client.* or set slurm\.binDir$/);
  });

  it('names a queue whose partition the cluster does not have, and the partitions it has', async () => {
    const msg = await refused(checkSlurm(cfg({
      queues: [{ name: 'hpc', partition: 'batch', zone: 'z' }, { name: 'gpu', partition: 'no-such-partition', zone: 'z' }],
    }), cli));
    expect(msg).toMatch(/^slurm queue "gpu": partition "no-such-partition" is not a partition of the Slurm cluster \(its partitions: .*\bbatch\b.*\)$/);
  });

  it('names a sharedDir that cannot be created (a file in the way)', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    const msg = await refused(checkSlurm(cfg({ sharedDir: path.join(file, 'shared') }), cli));
    expect(msg).toBe(`slurm.sharedDir ${path.join(file, 'shared')} cannot be created (ENOTDIR: a file is in the way)`);
    expect(await refused(checkSlurm(cfg({ sharedDir: file }), cli))).toMatch(/^slurm\.sharedDir .*a-file (cannot be created \(EEXIST|is not a directory)/);
  });

  it('says the controller does not answer (a slurm.conf naming a port nobody listens on)', async () => {
    const show = execFileSync(real('scontrol'), ['show', 'config'], { encoding: 'utf8' });
    const conf = /^SLURM_CONF\s*=\s*(\S+)/m.exec(show)![1]!;
    const copy = path.join(tmp, 'slurm.conf');
    fs.writeFileSync(copy, fs.readFileSync(conf, 'utf8').replace(/^SlurmctldPort=.*$/m, '').concat('\nSlurmctldPort=1\n'));
    const away = new SlurmCli({ ...(binDir ? { binDir } : {}), env: { PATH: process.env.PATH, SLURM_CONF: copy }, timeoutMs: 5_000 });
    const t0 = Date.now();
    const msg = await refused(checkSlurm(cfg(), away, { retryForMs: 1_000 }));
    expect(msg).toMatch(/^the Slurm controller does not answer: Slurm is not answering \((sinfo|scontrol): .*\)$/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
