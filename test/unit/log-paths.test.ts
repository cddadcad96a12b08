// Log file-name templates and RedirectLocalInfo paths confined to the emulated node filesystem.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/domain/errors.ts';
import {
  DEFAULT_STDERR_FILE,
  DEFAULT_STDOUT_FILE,
  checkFileName,
  expandFileName,
  resolveFileName,
  resolveLocalPath,
  validateFileNameTemplate,
} from '../../src/domain/log-paths.ts';
import { resolveLocalFile } from '../../src/services/node-files.ts';

const SEED = { jobId: 'job-97zcl3wt', taskName: 'A', index: 1 };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

async function asyncCodeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

describe('expandFileName', () => {
  it("gives the seed's names from the defaults", () => {
    expect(expandFileName(DEFAULT_STDOUT_FILE, SEED)).toBe('stdout.job-97zcl3wt.A.1.log');
    expect(expandFileName(DEFAULT_STDERR_FILE, SEED)).toBe('stderr.job-97zcl3wt.A.1.log');
  });

  it('replaces only the three placeholders, every occurrence, and leaves other $ text verbatim', () => {
    expect(expandFileName('${BATCH_JOB_ID}-${BATCH_JOB_ID}.log', SEED)).toBe('job-97zcl3wt-job-97zcl3wt.log');
    expect(expandFileName('$HOME.${HOME}.$BATCH_JOB_ID.${BATCH_TASK_INSTANCE_NUM}.${batch_job_id}.$${BATCH_TASK_INSTANCE_INDEX}', SEED))
      .toBe('$HOME.${HOME}.$BATCH_JOB_ID.${BATCH_TASK_INSTANCE_NUM}.${batch_job_id}.$1');
    expect(expandFileName('${BATCH_JOB_ID', SEED)).toBe('${BATCH_JOB_ID');
    expect(expandFileName('plain.log', SEED)).toBe('plain.log');
    expect(expandFileName('i${BATCH_TASK_INSTANCE_INDEX}', { ...SEED, index: 0 })).toBe('i0');
  });

  it('keeps task names with shell metacharacters verbatim (no $& / $1 replacement patterns, no re-expansion)', () => {
    const taskName = "a;b|c&d`e`$(f)'g\"h*?[x]$&$1$'${BATCH_JOB_ID}";
    const name = expandFileName('out.${BATCH_TASK_NAME}.log', { ...SEED, taskName });
    expect(name).toBe(`out.${taskName}.log`);
    expect(checkFileName(name, 'RedirectInfo.StdoutRedirectFileName', 'InvalidParameterValue.RemoteStoragePath')).toBe(name);
    expect(resolveFileName('out.${BATCH_TASK_NAME}.log', { ...SEED, taskName }, 'p', 'InvalidParameterValue.LocalPath')).toBe(name);
  });

  it('rejects a task name with / once expanded', () => {
    expect(codeOf(() => resolveFileName(DEFAULT_STDOUT_FILE, { ...SEED, taskName: 'a/b' }, 'RedirectInfo.StdoutRedirectFileName', 'InvalidParameterValue.RemoteStoragePath')))
      .toBe('InvalidParameterValue.RemoteStoragePath');
    expect(codeOf(() => resolveFileName('${BATCH_TASK_NAME}', { ...SEED, taskName: '..' }, 'RedirectLocalInfo.StdoutLocalFileName', 'InvalidParameterValue.LocalPath')))
      .toBe('InvalidParameterValue.LocalPath');
  });
});

describe('validateFileNameTemplate', () => {
  it.each([DEFAULT_STDOUT_FILE, DEFAULT_STDERR_FILE, 'my log.txt', '$HOME', 'a..b', '.hidden', '日志.log', 'x'.repeat(255)])('accepts %j', (t) => {
    expect(() => validateFileNameTemplate(t, 'RedirectInfo.StdoutRedirectFileName', 'InvalidParameterValue.RemoteStoragePath')).not.toThrow();
  });

  it.each([
    ['', 'empty'],
    ['.', 'dot'],
    ['..', 'dot-dot'],
    ['a/b', 'slash'],
    ['${BATCH_JOB_ID}/x.log', 'slash after placeholder'],
    ['/abs.log', 'absolute'],
    ['a\\b', 'backslash'],
    ['a\u0000b', 'NUL'],
    ['a\tb', 'tab'],
    ['a\nb', 'newline'],
    ['x'.repeat(256), 'over 255 bytes'],
    ['é'.repeat(128), 'over 255 bytes in UTF-8'],
  ])('rejects %j (%s) with the given code', (t) => {
    expect(codeOf(() => validateFileNameTemplate(t, 'RedirectInfo.StdoutRedirectFileName', 'InvalidParameterValue.RemoteStoragePath')))
      .toBe('InvalidParameterValue.RemoteStoragePath');
    expect(codeOf(() => validateFileNameTemplate(t, 'RedirectLocalInfo.StdoutLocalFileName', 'InvalidParameterValue.LocalPath')))
      .toBe('InvalidParameterValue.LocalPath');
  });

  it('uses real sample values when given, so a name that only overflows with them is caught', () => {
    const t = `${'x'.repeat(240)}.\${BATCH_TASK_NAME}`;
    expect(() => validateFileNameTemplate(t, 'p', 'InvalidParameterValue.RemoteStoragePath')).not.toThrow();
    expect(codeOf(() => validateFileNameTemplate(t, 'p', 'InvalidParameterValue.RemoteStoragePath', { taskName: 'y'.repeat(20) })))
      .toBe('InvalidParameterValue.RemoteStoragePath');
  });

  it('says which parameter and quotes the template', () => {
    expect(() => validateFileNameTemplate('a/b', 'RedirectInfo.StdoutRedirectFileName', 'InvalidParameterValue.RemoteStoragePath'))
      .toThrow(/RedirectInfo\.StdoutRedirectFileName "a\/b" expands to "a\/b", which contains '\/'/);
  });
});

describe('resolveLocalPath', () => {
  const root = path.resolve('/data/nodes/node-1');

  it.each([
    ['/home/logs/', path.join(root, 'home', 'logs')],
    ['/home/logs', path.join(root, 'home', 'logs')],
    ['/home//logs/', path.join(root, 'home', 'logs')],
    ['/', root],
    ['/a..b/.x/%2e%2e', path.join(root, 'a..b', '.x', '%2e%2e')],
    ['/home/$(rm -rf)/;x', path.join(root, 'home', '$(rm -rf)', ';x')],
  ])('maps %j inside the root', (userPath, expected) => {
    const result = resolveLocalPath(root, userPath, 'RedirectLocalInfo.StdoutLocalPath');
    expect(result).toBe(expected);
    expect(result === root || result.startsWith(root + path.sep)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['home/logs/', 'relative'],
    ['./logs', 'relative dot'],
    ['../etc', 'relative dot-dot'],
    ['/../etc', 'dot-dot'],
    ['/home/../../etc', 'inner dot-dot'],
    ['/home/..', 'trailing dot-dot'],
    ['/home/./logs', 'dot'],
    ['/home\\logs', 'backslash'],
    ['C:\\logs', 'windows path'],
    ['/home/a\u0000b', 'NUL'],
    ['/home/a\nb', 'newline'],
    [`/${'x'.repeat(256)}`, 'segment over 255 bytes'],
  ])('rejects %j (%s) with LocalPath', (userPath) => {
    expect(codeOf(() => resolveLocalPath(root, userPath, 'RedirectLocalInfo.StdoutLocalPath'))).toBe('InvalidParameterValue.LocalPath');
  });

  it('quotes the path in the message', () => {
    expect(() => resolveLocalPath(root, 'home/logs', 'RedirectLocalInfo.StdoutLocalPath'))
      .toThrow(/RedirectLocalInfo\.StdoutLocalPath "home\/logs" is not an absolute path/);
  });
});

describe('resolveLocalFile', () => {
  let tmp: string;
  let root: string;
  let outside: string;

  beforeEach(() => {
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ob-logpaths-')));
    root = path.join(tmp, 'node-root');
    outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside);
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('creates the directories inside the root and returns the file path', async () => {
    const file = await resolveLocalFile(root, '/home/logs/', 'stdout.job-97zcl3wt.A.1.log');
    expect(file).toBe(path.join(root, 'home', 'logs', 'stdout.job-97zcl3wt.A.1.log'));
    expect(fs.statSync(path.join(root, 'home', 'logs')).isDirectory()).toBe(true);
    fs.writeFileSync(file, 'x');
    // existing file is fine (appended/overwritten by the caller)
    expect(await resolveLocalFile(root, '/home/logs', 'stdout.job-97zcl3wt.A.1.log')).toBe(file);
    expect(await resolveLocalFile(root, '/', 'top.log')).toBe(path.join(root, 'top.log'));
  });

  it('refuses a directory symlink inside the root that leads outside', async () => {
    fs.mkdirSync(path.join(root, 'home'), { recursive: true });
    fs.symlinkSync(outside, path.join(root, 'home', 'logs'));
    expect(await asyncCodeOf(resolveLocalFile(root, '/home/logs/', 'out.log'))).toBe('InvalidParameterValue.LocalPath');
    expect(await asyncCodeOf(resolveLocalFile(root, '/home/logs/deeper/', 'out.log'))).toBe('InvalidParameterValue.LocalPath');
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('refuses a file symlink (or a dangling one) that leads outside', async () => {
    fs.mkdirSync(path.join(root, 'logs'), { recursive: true });
    fs.symlinkSync(path.join(outside, 'target'), path.join(root, 'logs', 'dangling.log'));
    fs.writeFileSync(path.join(outside, 'exists'), 'secret');
    fs.symlinkSync(path.join(outside, 'exists'), path.join(root, 'logs', 'out.log'));
    expect(await asyncCodeOf(resolveLocalFile(root, '/logs', 'dangling.log'))).toBe('InvalidParameterValue.LocalPath');
    expect(await asyncCodeOf(resolveLocalFile(root, '/logs', 'out.log'))).toBe('InvalidParameterValue.LocalPath');
    expect(fs.readdirSync(outside)).toEqual(['exists']);
  });

  it('tolerates symlinks that stay inside the root', async () => {
    fs.mkdirSync(path.join(root, 'real'), { recursive: true });
    fs.symlinkSync(path.join(root, 'real'), path.join(root, 'alias'));
    expect(await resolveLocalFile(root, '/alias/', 'x.log')).toBe(path.join(root, 'real', 'x.log'));
  });

  it('refuses a path component that is a file, and a file name that is a directory', async () => {
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'file'), '');
    expect(await asyncCodeOf(resolveLocalFile(root, '/file/logs/', 'x.log'))).toBe('InvalidParameterValue.LocalPath');
    fs.mkdirSync(path.join(root, 'logs', 'x.log'), { recursive: true });
    expect(await asyncCodeOf(resolveLocalFile(root, '/logs/', 'x.log'))).toBe('InvalidParameterValue.LocalPath');
  });

  it('validates the path and the file name', async () => {
    expect(await asyncCodeOf(resolveLocalFile(root, '/home/../..', 'x.log'))).toBe('InvalidParameterValue.LocalPath');
    expect(await asyncCodeOf(resolveLocalFile(root, 'relative', 'x.log'))).toBe('InvalidParameterValue.LocalPath');
    expect(await asyncCodeOf(resolveLocalFile(root, '/logs', '../x.log'))).toBe('InvalidParameterValue.LocalPath');
    expect(await asyncCodeOf(resolveLocalFile(root, '/logs', '..'))).toBe('InvalidParameterValue.LocalPath');
    expect(fs.existsSync(path.join(tmp, 'x.log'))).toBe(false);
  });
});
