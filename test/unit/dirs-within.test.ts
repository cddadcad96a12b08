// mkdirsWithin: directories created one level at a time, never leaving the root through a symlink.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mkdirsWithin, type LevelProblem } from '../../src/lib/dirs-within.ts';

const refuse = (problem: LevelProblem, seg: string) => new Error(`${problem} at ${seg}`);

function root(): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-dirs-')));
}

describe('mkdirsWithin', () => {
  it('creates missing levels and returns the real path of the last one', async () => {
    const r = root();
    fs.mkdirSync(path.join(r, 'a'));
    expect(await mkdirsWithin(r, ['a', 'b', 'c'], refuse)).toBe(path.join(r, 'a', 'b', 'c'));
    expect(fs.statSync(path.join(r, 'a', 'b', 'c')).isDirectory()).toBe(true);
    expect(await mkdirsWithin(r, [], refuse)).toBe(r);
  });

  it('follows a link that stays inside, and refuses one that leaves, dangles, loops or is not a directory', async () => {
    const r = root();
    const outside = root();
    fs.mkdirSync(path.join(r, 'real'));
    fs.symlinkSync(path.join(r, 'real'), path.join(r, 'in'));
    expect(await mkdirsWithin(r, ['in', 'x'], refuse)).toBe(path.join(r, 'real', 'x'));
    fs.symlinkSync(outside, path.join(r, 'out'));
    await expect(mkdirsWithin(r, ['out', 'x'], refuse)).rejects.toThrow('outside at out');
    expect(fs.existsSync(path.join(outside, 'x'))).toBe(false);
    fs.symlinkSync(path.join(r, 'nowhere'), path.join(r, 'dangling'));
    await expect(mkdirsWithin(r, ['dangling'], refuse)).rejects.toThrow('dangling at dangling');
    fs.symlinkSync(path.join(r, 'loop'), path.join(r, 'loop'));
    await expect(mkdirsWithin(r, ['loop', 'x'], refuse)).rejects.toThrow('dangling at loop');
    fs.writeFileSync(path.join(r, 'file'), '');
    await expect(mkdirsWithin(r, ['file', 'x'], refuse)).rejects.toThrow('not-a-directory at file');
    fs.symlinkSync(r, path.join(r, 'self'));
    await expect(mkdirsWithin(r, ['self'], refuse)).rejects.toThrow('outside at self');
  });
});
