// cos:// parsing (every accepted and rejected form), the BucketRef a store is handed for it, and the
// listing helpers. The stores themselves: test/contract/objectstore.contract.ts (every backend) and
// objectstore-fs.test.ts (the embedded fs store).
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/domain/errors.ts';
import { bucketRef, joinKey, parseCosUrl } from '../../src/objectstore/cos-url.ts';
import { checkListOptions, compareKeys } from '../../src/objectstore/list.ts';
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

describe('bucketRef', () => {
  it.each([
    ['cos://dondonbatch-1251783334.cosgz.myqcloud.com/hello2/logs/', { bucket: 'dondonbatch-1251783334', region: 'ap-guangzhou', host: 'dondonbatch-1251783334.cosgz.myqcloud.com' }],
    ['cos://b-1250000000.cossh.myqcloud.com/x', { bucket: 'b-1250000000', region: 'ap-shanghai', host: 'b-1250000000.cossh.myqcloud.com' }],
    ['cos://b-1250000000.costj.myqcloud.com/x', { bucket: 'b-1250000000', region: 'ap-beijing-1', host: 'b-1250000000.costj.myqcloud.com' }],
    ['cos://b-1250000000.cosbj.myqcloud.com/x', { bucket: 'b-1250000000', region: 'ap-beijing', host: 'b-1250000000.cosbj.myqcloud.com' }],
    ['cos://b-1250000000.coscd.myqcloud.com/x', { bucket: 'b-1250000000', region: 'ap-chengdu', host: 'b-1250000000.coscd.myqcloud.com' }],
    ['cos://b-1250000000.cossgp.myqcloud.com/x', { bucket: 'b-1250000000', region: 'ap-singapore', host: 'b-1250000000.cossgp.myqcloud.com' }],
    ['cos://b-1250000000.coshk.myqcloud.com/x', { bucket: 'b-1250000000', region: 'ap-hongkong', host: 'b-1250000000.coshk.myqcloud.com' }],
    ['cos://b-1250000000.cosca.myqcloud.com/x', { bucket: 'b-1250000000', region: 'na-toronto', host: 'b-1250000000.cosca.myqcloud.com' }],
    ['cos://b-1250000000.cosger.myqcloud.com/x', { bucket: 'b-1250000000', region: 'eu-frankfurt', host: 'b-1250000000.cosger.myqcloud.com' }],
    ['cos://b-1250000000.cos.ap-guangzhou.myqcloud.com/path/', { bucket: 'b-1250000000', region: 'ap-guangzhou', host: 'b-1250000000.cos.ap-guangzhou.myqcloud.com' }],
    ['cos://b-1250000000.cos.ap-beijing-1.myqcloud.com/p', { bucket: 'b-1250000000', region: 'ap-beijing-1', host: 'b-1250000000.cos.ap-beijing-1.myqcloud.com' }],
    ['cos://b-1250000000.cos.ap-beijing.tencentcos.cn/p/', { bucket: 'b-1250000000', region: 'ap-beijing', host: 'b-1250000000.cos.ap-beijing.tencentcos.cn' }],
    // COMPAT: accepted, but they name no region: the host is kept for the backend
    ['cos://b-1250000000.cos.accelerate.myqcloud.com/p', { bucket: 'b-1250000000', host: 'b-1250000000.cos.accelerate.myqcloud.com' }],
    ['cos://b-1250000000.cosxyz.myqcloud.com/p', { bucket: 'b-1250000000', host: 'b-1250000000.cosxyz.myqcloud.com' }],
    // the short form: the bucket alone
    ['cos://my-bucket-1250000000/out/', { bucket: 'my-bucket-1250000000' }],
    ['cos://b/', { bucket: 'b' }],
  ])('%s', (url, ref) => {
    expect(bucketRef(parseCosUrl(url))).toStrictEqual(ref);
  });
});

describe('listing helpers', () => {
  it('orders keys by UTF-8 bytes', () => {
    expect(['b', 'a/', 'a-', '\u{1F600}', '\uFF61', 'a'].sort(compareKeys)).toEqual(['a', 'a-', 'a/', 'b', '\uFF61', '\u{1F600}']);
    expect(compareKeys('x', 'x')).toBe(0);
  });
  it('checks listPage options', () => {
    expect(checkListOptions()).toEqual({ maxKeys: 1000 });
    expect(checkListOptions({ maxKeys: 1 }).maxKeys).toBe(1);
    expect(checkListOptions({ maxKeys: 1000 }).maxKeys).toBe(1000);
    expect(checkListOptions({ maxKeys: 1001 }).maxKeys).toBe(1000);
    expect(checkListOptions({ startAfter: 'k' })).toEqual({ maxKeys: 1000, startAfter: 'k' });
    for (const maxKeys of [0, -3, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => checkListOptions({ maxKeys })).toThrow(RangeError);
    expect(() => checkListOptions({ startAfter: 'a', continuationToken: 't' })).toThrow(RangeError);
  });
});

describe('ObjectStoreError', () => {
  it('is retryable for Unavailable only, unless told otherwise', () => {
    expect(new ObjectStoreError('Unavailable', 'x').retryable).toBe(true);
    for (const code of ['NoSuchKey', 'NoSuchBucket', 'AccessDenied', 'KeyConflict'] as const) {
      expect(new ObjectStoreError(code, 'x').retryable).toBe(false);
    }
    expect(new ObjectStoreError('Unavailable', 'x', { retryable: false }).retryable).toBe(false);
    const cause = new Error('EIO');
    expect(new ObjectStoreError('Unavailable', 'x', { cause }).cause).toBe(cause);
  });
});
