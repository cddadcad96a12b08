// `openbatch serve --help` against the README's configuration table: every flag and environment
// variable the README documents is in the help the real command prints (and the help names no
// environment variable the README does not document); the same for the settings of the config file's
// `slurm` section and the README's table of them, and for its `objectStore` section.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The rows of the README's table whose header begins `| Flag | Environment |`, as cells. */
function configurationTable(): string[][] {
  const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^\|\s*Flag\s*\|\s*Environment\s*\|/.test(l));
  expect(start, 'the README has a "| Flag | Environment |" table').toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

describe('openbatch serve --help', () => {
  it('names every flag and environment variable of the README table', () => {
    const rows = configurationTable();
    const flags = rows.flatMap((r) => [...(r[0] ?? '').matchAll(/`(--[a-z-]+)`/g)].map((m) => m[1]!));
    const envs = rows.flatMap((r) => [...(r[1] ?? '').matchAll(/`(OPENBATCH_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
    // the table as the README has it today (so that a parse that finds nothing cannot pass)
    expect(flags).toContain('--attempt-nice');
    expect(envs).toContain('OPENBATCH_ATTEMPT_NICE');
    expect(envs).toContain('OPENBATCH_SECRET_KEY');
    expect(envs.length).toBeGreaterThanOrEqual(16);

    const help = execFileSync(process.execPath, [path.join(ROOT, 'bin/openbatch.mjs'), 'serve', '--help'], { encoding: 'utf8' });
    const words = new Set(help.split(/[\s,;:()]+/));
    expect(flags.filter((f) => !words.has(f))).toEqual([]);
    expect(envs.filter((e) => !words.has(e))).toEqual([]);
    // and the help documents nothing the README does not (OPENBATCH_CONFIG is in the text above the table)
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const inHelp = [...new Set(help.match(/OPENBATCH_[A-Z0-9_]+/g) ?? [])];
    expect(inHelp.filter((e) => !readme.includes(`\`${e}\``))).toEqual([]);
  }, 30_000);

  it('names every setting of the slurm section, as the README\'s table does', () => {
    const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
    const start = lines.findIndex((l) => /^\|\s*Config file\s*\|\s*Default\s*\|/.test(l));
    expect(start, 'the README has a "| Config file | Default |" table').toBeGreaterThanOrEqual(0);
    const keys: string[] = [];
    for (const line of lines.slice(start + 2)) {
      if (!line.startsWith('|')) break;
      keys.push(...[...(line.split('|')[1] ?? '').matchAll(/`(slurm\.[A-Za-z]+)`/g)].map((m) => m[1]!));
    }
    expect(keys).toEqual(['slurm.binDir', 'slurm.sharedDir', 'slurm.queues', 'slurm.anonymousQueue']);
    const help = execFileSync(process.execPath, [path.join(ROOT, 'bin/openbatch.mjs'), 'serve', '--help'], { encoding: 'utf8' });
    expect([...new Set(help.match(/\bslurm\.[A-Za-z]+/g))]).toEqual(keys);
  }, 30_000);

  it('names every setting of the objectStore section, as the README\'s configuration table does', () => {
    const keys = configurationTable().flatMap((r) => [...(r[2] ?? '').matchAll(/`(objectStore\.[A-Za-z]+)`/g)].map((m) => m[1]!));
    expect(keys).toEqual(['objectStore.type', 'objectStore.endpoint', 'objectStore.region', 'objectStore.forcePathStyle', 'objectStore.accessKeyId', 'objectStore.secretAccessKey']);
    const help = execFileSync(process.execPath, [path.join(ROOT, 'bin/openbatch.mjs'), 'serve', '--help'], { encoding: 'utf8' });
    const section = help.slice(help.indexOf('Config file section "objectStore"'));
    expect([...new Set(section.match(/^ {2}objectStore\.[A-Za-z]+/gm)?.map((k) => k.trim()))].sort()).toEqual([...keys].sort());
  }, 30_000);
});
