// cos:// parsing (every accepted and rejected form) and the embedded FsObjectStore on a real temp dir.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/domain/errors.ts';
import { joinKey, parseCosUrl } from '../../src/objectstore/cos-url.ts';
import { FsObjectStore } from '../../src/objectstore/fs/fs-store.ts';
import { ObjectStoreError } from '../../src/objectstore/types.ts';

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
    if (e instanceof ApiError || e instanceof ObjectStoreError) return e.code;
    throw e;
  }
  throw new Error('expected an error, nothing was thrown');
}

describe('parseCosUrl', () => {
  it('parses the seed host form (legacy cosgz endpoint)', () => {
    expect(parseCosUrl('cos://dondonbatch-1251783334.cosgz.myqcloud.com/hello2/logs/')).toEqual({
      bucket: 'dondonbatch-1251783334',
      prefix: 'hello2/logs/',
      host: 'dondonbatch-1251783334.cosgz.myqcloud.com',
    });
  });

  it.each([
    ['cos://b/x', 'b', 'x'],
    ['cos://b/', 'b', ''],
    ['cos://b/a/b/', 'b', 'a/b/'],
    ['cos://my-bucket-1250000000/out/put/file.txt', 'my-bucket-1250000000', 'out/put/file.txt'],
    ['cos://bucket-1250000000.cos.ap-guangzhou.myqcloud.com/path/', 'bucket-1250000000', 'path/'],
    ['cos://bucket-1250000000.cos.accelerate.myqcloud.com/p', 'bucket-1250000000', 'p'],
    ['cos://bucket-1250000000.cos.ap-beijing.tencentcos.cn/p/', 'bucket-1250000000', 'p/'],
    ['cos://bucket-1250000000.cosbj.myqcloud.com/a/', 'bucket-1250000000', 'a/'],
    ['cos://b/a%2eb/c', 'b', 'a%2eb/c'], // a %2e inside a name is not a '.' segment; kept verbatim
    ['cos://b/100%/x', 'b', '100%/x'], // a lone % is a literal character
    ['cos://b/日志/a b.log', 'b', '日志/a b.log'],
    ['cos://b/a/..x/x..', 'b', 'a/..x/x..'],
    ['cos://0/x', '0', 'x'],
    [`cos://${'a'.repeat(63)}/x`, 'a'.repeat(63), 'x'],
  ])('accepts %s', (url, bucket, prefix) => {
    const loc = parseCosUrl(url);
    expect(loc.bucket).toBe(bucket);
    expect(loc.prefix).toBe(prefix);
  });

  it.each([
    's3://b/x',
    'http://b.cos.ap-guangzhou.myqcloud.com/x',
    'https://b/x',
    'cfs://10.0.0.1/x',
    'COS://b/x',
    '/home/logs/',
    'b/x',
    'C:\\logs',
  ])('rejects %s with RemoteStorageSchemeType', (url) => {
    expect(codeOf(() => parseCosUrl(url))).toBe('InvalidParameterValue.RemoteStorageSchemeType');
  });

  it.each([
    ['', 'empty'],
    ['cos:/b/x', 'single slash'],
    ['cos:b/x', 'no slashes'],
    ['cos://b', 'no path after the bucket'],
    ['cos:///x', 'no bucket'],
    ['cos://B/x', 'upper-case bucket'],
    ['cos://Dondon-1251783334.cosgz.myqcloud.com/x/', 'upper-case bucket in endpoint host'],
    ['cos://my_bucket/x', 'underscore in bucket'],
    ['cos://my.bucket/x', 'dot in plain bucket'],
    ['cos://-b/x', 'leading hyphen'],
    ['cos://b-/x', 'trailing hyphen'],
    [`cos://${'a'.repeat(64)}/x`, 'bucket longer than 63'],
    ['cos://b:8080/x', 'port'],
    ['cos://user@b/x', 'userinfo'],
    ['cos://b.cvm.ap-guangzhou.myqcloud.com/x', 'non-COS myqcloud host'],
    ['cos://myqcloud.com/x', 'bare domain'],
    ['cos://b.cos.ap-guangzhou.extra.myqcloud.com/x', 'too many labels'],
    ['cos://b/../x', 'dot-dot segment'],
    ['cos://b/..', 'dot-dot at end'],
    ['cos://b/a/../x', 'inner dot-dot'],
    ['cos://b/./x', 'dot segment'],
    ['cos://b/a/.', 'dot at end'],
    ['cos://b/a//b', 'empty segment'],
    ['cos://b//x', 'leading empty segment'],
    ['cos://b/a\\b', 'backslash'],
    ['cos://b/a\u0000b', 'NUL'],
    ['cos://b/a\nb', 'newline'],
    ['cos://b/a\u007fb', 'DEL'],
    ['cos://b/a/%2e%2e/x', 'encoded dot-dot'],
    ['cos://b/a/%2E%2E/x', 'encoded dot-dot upper case'],
    ['cos://b/a/.%2e/x', 'half-encoded dot-dot'],
    ['cos://b/a/%2e/x', 'encoded dot'],
    ['cos://b/a%2fb', 'encoded slash'],
    ['cos://b/a%2Fb', 'encoded slash upper case'],
    ['cos://b/a%5cb', 'encoded backslash'],
    ['cos://b/a%00b', 'encoded NUL'],
    ['cos://b/a/%252e%252e/x', 'double-encoded dot-dot'],
    ['cos://b/a%252fb', 'double-encoded slash'],
    ['cos://b/a?x=1', 'query'],
    ['cos://b/a#frag', 'fragment'],
    [`cos://b/${'k'.repeat(851)}`, 'key longer than 850 bytes'],
    [`cos://b/${'k'.repeat(256)}/x`, 'segment longer than 255 bytes'],
    ['cos://b/a\ud800b', 'lone surrogate'],
  ])('rejects %j (%s) with RemoteStoragePath', (url) => {
    expect(codeOf(() => parseCosUrl(url))).toBe('InvalidParameterValue.RemoteStoragePath');
  });

  it('says what was wrong and quotes the path', () => {
    expect(() => parseCosUrl('cos://b/a/../x', 'RedirectInfo.StdoutRedirectPath')).toThrow(
      /RedirectInfo\.StdoutRedirectPath "cos:\/\/b\/a\/\.\.\/x" has a path that contains a '\.\.' path segment/,
    );
    expect(() => parseCosUrl('s3://b/x')).toThrow(/"s3:\/\/b\/x" uses scheme "s3:\/\/"/);
    expect(() => parseCosUrl('cos://B/x')).toThrow(/bucket "B" is invalid/);
    expect(() => parseCosUrl('cos://b/a\u0000')).toThrow(/"cos:\/\/b\/a\\u0000" contains a control character/);
  });
});

describe('joinKey', () => {
  it('joins under a directory prefix, with or without the trailing slash (COMPAT)', () => {
    expect(joinKey('hello2/logs/', 'stdout.job-97zcl3wt.A.1.log')).toBe('hello2/logs/stdout.job-97zcl3wt.A.1.log');
    expect(joinKey('hello2/logs', 'stdout.log')).toBe('hello2/logs/stdout.log');
    expect(joinKey('', 'stdout.log')).toBe('stdout.log');
  });
  it.each(['', 'a/b', '..', '.', 'a\\b', 'a\u0001'])('rejects file name %j', (name) => {
    expect(codeOf(() => joinKey('logs/', name))).toBe('InvalidParameterValue.RemoteStoragePath');
  });
  it('rejects a key that becomes too long', () => {
    expect(codeOf(() => joinKey(`${'p/'.repeat(420)}`, 'x'.repeat(20)))).toBe('InvalidParameterValue.RemoteStoragePath');
  });
});

describe('FsObjectStore', () => {
  let tmp: string;
  let root: string;
  let store: FsObjectStore;
  let src: string;

  beforeEach(() => {
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ob-objstore-')));
    root = path.join(tmp, 'objects');
    store = new FsObjectStore(root);
    src = path.join(tmp, 'src.txt');
    fs.writeFileSync(src, 'hello, world\n');
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('stores <root>/<bucket>/<key> and round-trips head/getRange', async () => {
    await store.putFile('b', 'hello2/logs/stdout.log', src);
    expect(fs.readFileSync(path.join(root, 'b', 'hello2', 'logs', 'stdout.log'), 'utf8')).toBe('hello, world\n');
    expect(await store.head('b', 'hello2/logs/stdout.log')).toEqual({ size: 13 });
    expect((await store.getRange('b', 'hello2/logs/stdout.log', 0)).toString()).toBe('hello, world\n');
    expect((await store.getRange('b', 'hello2/logs/stdout.log', 7)).toString()).toBe('world\n');
    expect((await store.getRange('b', 'hello2/logs/stdout.log', 0, 5)).toString()).toBe('hello');
    expect((await store.getRange('b', 'hello2/logs/stdout.log', 7, 1000)).toString()).toBe('world\n');
    expect((await store.getRange('b', 'hello2/logs/stdout.log', 13)).length).toBe(0);
    expect((await store.getRange('b', 'hello2/logs/stdout.log', 500, 600)).length).toBe(0);
    expect((await store.getRange('b', 'hello2/logs/stdout.log', 3, 3)).length).toBe(0);
    await expect(store.getRange('b', 'hello2/logs/stdout.log', 5, 2)).rejects.toThrow(RangeError);
    await expect(store.getRange('b', 'hello2/logs/stdout.log', -1)).rejects.toThrow(RangeError);
    // no temp files left behind, and the temp dir is not a bucket
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
  });

  it('overwrites an existing object atomically', async () => {
    await store.putFile('b', 'k', src);
    const src2 = path.join(tmp, 'src2.txt');
    fs.writeFileSync(src2, 'second');
    await store.putFile('b', 'k', src2);
    expect((await store.getRange('b', 'k', 0)).toString()).toBe('second');
  });

  it('reports missing objects', async () => {
    expect(await store.head('b', 'nope')).toBeUndefined();
    expect(await store.head('nobucket', 'nope')).toBeUndefined();
    expect(await asyncCodeOf(store.getRange('b', 'nope', 0))).toBe('NoSuchKey');
    expect(await asyncCodeOf(store.rename('b', 'nope', 'other'))).toBe('NoSuchKey');
    await store.delete('b', 'nope'); // idempotent
    await store.delete('b', 'a/b/c');
    await expect(store.putFile('b', 'x', path.join(tmp, 'missing-source'))).rejects.toThrow(/ENOENT/);
    expect(await store.list('b', '')).toEqual([]);
  });

  it('a prefix is not an object', async () => {
    await store.putFile('b', 'dir/file', src);
    expect(await store.head('b', 'dir')).toBeUndefined();
    expect(await asyncCodeOf(store.getRange('b', 'dir', 0))).toBe('NoSuchKey');
    await store.delete('b', 'dir'); // no-op
    expect(await store.list('b', '')).toEqual(['dir/file']);
    expect(await asyncCodeOf(store.putFile('b', 'dir', src))).toBe('KeyConflict');
    expect(await asyncCodeOf(store.putFile('b', 'dir/file/sub', src))).toBe('KeyConflict');
  });

  it('renames and deletes, pruning empty directories', async () => {
    await store.putFile('b', 'tmp/attempt-1/stdout.log', src);
    await store.rename('b', 'tmp/attempt-1/stdout.log', 'logs/stdout.log');
    expect(await store.head('b', 'tmp/attempt-1/stdout.log')).toBeUndefined();
    expect(fs.existsSync(path.join(root, 'b', 'tmp'))).toBe(false);
    expect((await store.getRange('b', 'logs/stdout.log', 0)).toString()).toBe('hello, world\n');
    // rename onto an existing object replaces it
    await store.putFile('b', 'other', src);
    await store.rename('b', 'other', 'logs/stdout.log');
    expect(await store.list('b', '')).toEqual(['logs/stdout.log']);
    await store.rename('b', 'logs/stdout.log', 'logs/stdout.log');
    await store.delete('b', 'logs/stdout.log');
    expect(await store.head('b', 'logs/stdout.log')).toBeUndefined();
    expect(fs.readdirSync(path.join(root, 'b'))).toEqual([]);
    // after deleting a/b, a plain object `a` can be stored again
    await store.putFile('b', 'a/b', src);
    await store.delete('b', 'a/b');
    await store.putFile('b', 'a', src);
    expect(await store.list('b', '')).toEqual(['a']);
  });

  it('lists by plain string prefix, recursively, sorted', async () => {
    for (const k of ['logs/stdout.1.log', 'logs/stderr.1.log', 'logs/sub/x', 'logsx', 'out/a', 'z', 'logs/st/y']) {
      await store.putFile('b', k, src);
    }
    await store.putFile('other', 'logs/stdout.1.log', src);
    expect(await store.list('b', '')).toEqual(['logs/st/y', 'logs/stderr.1.log', 'logs/stdout.1.log', 'logs/sub/x', 'logsx', 'out/a', 'z']);
    expect(await store.list('b', 'logs/')).toEqual(['logs/st/y', 'logs/stderr.1.log', 'logs/stdout.1.log', 'logs/sub/x']);
    expect(await store.list('b', 'logs')).toEqual(['logs/st/y', 'logs/stderr.1.log', 'logs/stdout.1.log', 'logs/sub/x', 'logsx']);
    expect(await store.list('b', 'logs/std')).toEqual(['logs/stderr.1.log', 'logs/stdout.1.log']);
    expect(await store.list('b', 'logs/stdo')).toEqual(['logs/stdout.1.log']);
    expect(await store.list('b', 'logs/st')).toEqual(['logs/st/y', 'logs/stderr.1.log', 'logs/stdout.1.log']);
    expect(await store.list('b', 'logs/sub/x')).toEqual(['logs/sub/x']);
    expect(await store.list('b', 'missing/')).toEqual([]);
    expect(await store.list('b', 'z/')).toEqual([]);
    expect(await store.list('nobucket', '')).toEqual([]);
  });

  it.each([
    ['b', '../escape'],
    ['b', 'a/../../escape'],
    ['b', './x'],
    ['b', '/abs'],
    ['b', 'a//b'],
    ['b', 'dir/'],
    ['b', ''],
    ['b', 'a\\b'],
    ['b', 'a\u0000b'],
    ['b', 'a/%2e%2e/b'],
    ['B', 'x'],
    ['..', 'x'],
    ['.tmp', 'x'],
    ['a/b', 'x'],
    ['', 'x'],
  ])('refuses bucket %j key %j on every operation', async (bucket, key) => {
    const expected = 'InvalidParameterValue.RemoteStoragePath';
    expect(await asyncCodeOf(store.putFile(bucket, key, src))).toBe(expected);
    expect(await asyncCodeOf(store.getRange(bucket, key, 0))).toBe(expected);
    expect(await asyncCodeOf(store.head(bucket, key))).toBe(expected);
    expect(await asyncCodeOf(store.delete(bucket, key))).toBe(expected);
    expect(await asyncCodeOf(store.rename(bucket, key, 'ok'))).toBe(expected);
    expect(fs.readdirSync(tmp).sort()).toEqual(['objects', 'src.txt']);
  });

  it('refuses list prefixes with traversal', async () => {
    expect(await asyncCodeOf(store.list('b', '../'))).toBe('InvalidParameterValue.RemoteStoragePath');
    expect(await asyncCodeOf(store.list('b', 'a/../../x'))).toBe('InvalidParameterValue.RemoteStoragePath');
    expect(await asyncCodeOf(store.list('b', '/etc/'))).toBe('InvalidParameterValue.RemoteStoragePath');
    expect(await asyncCodeOf(store.list('B', ''))).toBe('InvalidParameterValue.RemoteStoragePath');
  });

  describe('symlinks planted inside the root', () => {
    let outside: string;
    beforeEach(() => {
      outside = path.join(tmp, 'outside');
      fs.mkdirSync(outside);
      fs.writeFileSync(path.join(outside, 'secret'), 'top secret');
      fs.mkdirSync(path.join(root, 'b'), { recursive: true });
    });

    it('a directory symlink leading outside is never written, read, listed or deleted through', async () => {
      fs.symlinkSync(outside, path.join(root, 'b', 'evil'));
      const code = 'InvalidParameterValue.RemoteStoragePath';
      expect(await asyncCodeOf(store.putFile('b', 'evil/planted', src))).toBe(code);
      expect(await asyncCodeOf(store.putFile('b', 'evil/deeper/planted', src))).toBe(code);
      expect(fs.readdirSync(outside)).toEqual(['secret']);
      expect(await asyncCodeOf(store.getRange('b', 'evil/secret', 0))).toBe(code);
      expect(await asyncCodeOf(store.head('b', 'evil/secret'))).toBe(code);
      expect(await asyncCodeOf(store.delete('b', 'evil/secret'))).toBe(code);
      expect(await asyncCodeOf(store.rename('b', 'evil/secret', 'stolen'))).toBe(code);
      expect(await asyncCodeOf(store.list('b', 'evil/'))).toBe(code);
      expect(await store.list('b', '')).toEqual([]); // not descended into
      expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('top secret');
    });

    it('a file symlink leading outside is not read and is replaced (not followed) on write', async () => {
      fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'b', 'link'));
      expect(await asyncCodeOf(store.getRange('b', 'link', 0))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(await store.list('b', '')).toEqual([]);
      await store.putFile('b', 'link', src);
      expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('top secret');
      expect(fs.lstatSync(path.join(root, 'b', 'link')).isSymbolicLink()).toBe(false);
      expect((await store.getRange('b', 'link', 0)).toString()).toBe('hello, world\n');
    });

    it('a bucket directory that is a symlink is refused', async () => {
      fs.symlinkSync(outside, path.join(root, 'evilbucket'));
      expect(await asyncCodeOf(store.putFile('evilbucket', 'x', src))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(await asyncCodeOf(store.getRange('evilbucket', 'secret', 0))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(await asyncCodeOf(store.list('evilbucket', ''))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(fs.readdirSync(outside)).toEqual(['secret']);
    });

    it('a symlink to another bucket is refused (containment is per bucket)', async () => {
      await store.putFile('other', 'x/file', src);
      fs.symlinkSync(path.join(root, 'other', 'x'), path.join(root, 'b', 'cross'));
      expect(await asyncCodeOf(store.getRange('b', 'cross/file', 0))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(await asyncCodeOf(store.putFile('b', 'cross/new', src))).toBe('InvalidParameterValue.RemoteStoragePath');
    });

    it('a symlink staying inside the bucket is tolerated', async () => {
      await store.putFile('b', 'real/file', src);
      fs.symlinkSync(path.join(root, 'b', 'real'), path.join(root, 'b', 'alias'));
      expect(await store.head('b', 'alias/file')).toEqual({ size: 13 });
      await store.putFile('b', 'alias/new', src);
      expect(await store.head('b', 'real/new')).toEqual({ size: 13 });
    });

    it('a temp dir that is a symlink is refused', async () => {
      fs.symlinkSync(outside, path.join(root, '.tmp'));
      await expect(store.putFile('b', 'x', src)).rejects.toThrow(/symbolic link/);
      expect(fs.readdirSync(outside)).toEqual(['secret']);
    });
  });
});
