// The ObjectStore contract: every backend (the embedded fs store, the S3 store on a real RGW) must
// pass these tests. A backend's test file calls objectStoreContract() with a factory of fresh, empty stores;
// what only one backend can do (KeyConflict, symlinks, where objects land) is tested beside it.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/domain/errors.ts';
import { compareKeys, listAll, listKeys } from '../../src/objectstore/list.ts';
import { ObjectStoreError, type BucketRef, type ObjectStore, type RequestOptions } from '../../src/objectstore/types.ts';

export interface ObjectStoreFixture {
  /** A fresh store whose buckets (below) hold nothing. */
  store: ObjectStore;
  cleanup(): Promise<void>;
  /** Buckets the store can write to (created beforehand where the backend needs that). */
  bucket?: BucketRef;
  other?: BucketRef;
  /** A bucket that does not exist. */
  missing?: BucketRef;
  /** Where writes are refused (AccessDenied), when the backend can arrange that; `undo` lifts it. */
  denied?(): Promise<{ loc: BucketRef; opts?: RequestOptions; undo(): Promise<void> }>;
}

/** What head() says of an object of `size` bytes (any etag: each backend has its own). */
export function sized(size: number): { size: number; etag: string } {
  return { size, etag: expect.stringMatching(/^[^"\s]+$/) as unknown as string };
}

const MiB = 1024 * 1024;

/** Bucket/key pairs that no store may act on (InvalidParameterValue.RemoteStoragePath). */
export const REFUSED: Array<[string, string]> = [
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
];

/** The code of the ApiError or ObjectStoreError `p` rejects with. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError || e instanceof ObjectStoreError) return e.code;
    throw e;
  }
  throw new Error('expected an error, nothing was thrown');
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, nothing was thrown');
}

/** Runs `fn` on every item, `width` at a time. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export function objectStoreContract(name: string, make: () => Promise<ObjectStoreFixture>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let fx: ObjectStoreFixture;
    let s: ObjectStore;
    let b: BucketRef;
    let other: BucketRef;
    let missing: BucketRef;
    let tmp: string;
    let src: string;
    let n = 0;
    /** A local file holding `text`. */
    const file = (text: string): string => {
      const f = path.join(tmp, `src-${++n}`);
      fs.writeFileSync(f, text);
      return f;
    };
    const text = async (loc: BucketRef, key: string, start = 0, end?: number) => (await s.getRange(loc, key, start, end)).toString();

    beforeAll(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ob-objcontract-'));
    });
    afterAll(() => {
      fs.rmSync(tmp, { recursive: true, force: true });
    });
    beforeEach(async () => {
      fx = await make();
      s = fx.store;
      b = fx.bucket ?? { bucket: 'b' };
      other = fx.other ?? { bucket: 'other' };
      missing = fx.missing ?? { bucket: 'nobucket' };
      src = file('hello, world\n');
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('round-trips an object: head gives its size, getRange its bytes', async () => {
      await s.putFile(b, 'hello2/logs/stdout.log', src);
      expect(await s.head(b, 'hello2/logs/stdout.log')).toEqual(sized(13));
      expect(await text(b, 'hello2/logs/stdout.log')).toBe('hello, world\n');
      await s.putFile(b, 'empty', file(''));
      expect(await s.head(b, 'empty')).toEqual(sized(0));
      expect((await s.getRange(b, 'empty', 0)).length).toBe(0);
      await s.putFile(b, '日志/a b%.log', src);
      expect(await text(b, '日志/a b%.log')).toBe('hello, world\n');
    });

    it('reads ranges with an exclusive end, clamped to the object', async () => {
      await s.putFile(b, 'k', src);
      expect(await text(b, 'k', 7)).toBe('world\n');
      expect(await text(b, 'k', 0, 5)).toBe('hello');
      expect(await text(b, 'k', 12, 13)).toBe('\n');
      expect(await text(b, 'k', 7, 1000)).toBe('world\n');
      expect((await s.getRange(b, 'k', 13)).length).toBe(0); // start at the end
      expect((await s.getRange(b, 'k', 500, 600)).length).toBe(0); // start past the end
      expect((await s.getRange(b, 'k', 3, 3)).length).toBe(0);
      await expect(s.getRange(b, 'k', 5, 2)).rejects.toThrow(RangeError);
      await expect(s.getRange(b, 'k', -1)).rejects.toThrow(RangeError);
      await expect(s.getRange(b, 'k', 1.5)).rejects.toThrow(RangeError);
      await expect(s.getRange(b, 'k', 0, Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
    });

    it('overwrites an existing object whole', async () => {
      await s.putFile(b, 'k', src);
      await s.putFile(b, 'k', file('second'));
      expect(await text(b, 'k')).toBe('second');
      expect(await s.head(b, 'k')).toEqual(sized(6));
    });

    it('reports missing objects: head undefined, getRange and rename NoSuchKey, delete a no-op', async () => {
      await s.putFile(b, 'present', src);
      expect(await s.head(b, 'nope')).toBeUndefined();
      const e = await rejection(s.getRange(b, 'nope', 0));
      expect(e).toBeInstanceOf(ObjectStoreError);
      expect(e).toMatchObject({ code: 'NoSuchKey', retryable: false });
      expect(await codeOf(s.rename(b, 'nope', 'present'))).toBe('NoSuchKey');
      expect(await text(b, 'present')).toBe('hello, world\n'); // the target is untouched
      await s.delete(b, 'nope');
      await s.delete(b, 'a/b/c');
      await expect(s.putFile(b, 'x', path.join(tmp, 'missing-source'))).rejects.toThrow(/ENOENT/);
      expect(await s.head(b, 'x')).toBeUndefined();
    });

    it('a prefix is not an object', async () => {
      await s.putFile(b, 'dir/file', src);
      expect(await s.head(b, 'dir')).toBeUndefined();
      expect(await codeOf(s.getRange(b, 'dir', 0))).toBe('NoSuchKey');
      await s.delete(b, 'dir'); // no-op
      expect(await listKeys(s, b, '')).toEqual(['dir/file']);
    });

    it('renames, replacing the target; deletes; a deleted a/b leaves room for an object a', async () => {
      await s.putFile(b, 'tmp/attempt-1/stdout.log', src);
      await s.rename(b, 'tmp/attempt-1/stdout.log', 'logs/stdout.log');
      expect(await s.head(b, 'tmp/attempt-1/stdout.log')).toBeUndefined();
      expect(await text(b, 'logs/stdout.log')).toBe('hello, world\n');
      await s.putFile(b, 'other', file('newer'));
      await s.rename(b, 'other', 'logs/stdout.log');
      expect(await text(b, 'logs/stdout.log')).toBe('newer');
      expect(await listKeys(s, b, '')).toEqual(['logs/stdout.log']);
      await s.rename(b, 'logs/stdout.log', 'logs/stdout.log'); // onto itself: kept
      expect(await text(b, 'logs/stdout.log')).toBe('newer');
      expect(await codeOf(s.rename(b, 'gone', 'gone'))).toBe('NoSuchKey');
      await s.delete(b, 'logs/stdout.log');
      expect(await s.head(b, 'logs/stdout.log')).toBeUndefined();
      expect(await listKeys(s, b, '')).toEqual([]);
      await s.putFile(b, 'a/b', src);
      await s.delete(b, 'a/b');
      await s.putFile(b, 'a', src);
      expect(await listKeys(s, b, '')).toEqual(['a']);
    });

    it('lists by plain string prefix, recursively, sorted, with sizes, bucket by bucket', async () => {
      for (const k of ['logs/stdout.1.log', 'logs/stderr.1.log', 'logs/sub/x', 'logsx', 'out/a', 'z', 'logs/st/y']) {
        await s.putFile(b, k, src);
      }
      await s.putFile(other, 'logs/stdout.1.log', src);
      expect(await listKeys(s, b, '')).toEqual(['logs/st/y', 'logs/stderr.1.log', 'logs/stdout.1.log', 'logs/sub/x', 'logsx', 'out/a', 'z']);
      expect(await listKeys(s, b, 'logs/')).toEqual(['logs/st/y', 'logs/stderr.1.log', 'logs/stdout.1.log', 'logs/sub/x']);
      expect(await listKeys(s, b, 'logs')).toEqual(['logs/st/y', 'logs/stderr.1.log', 'logs/stdout.1.log', 'logs/sub/x', 'logsx']);
      expect(await listKeys(s, b, 'logs/std')).toEqual(['logs/stderr.1.log', 'logs/stdout.1.log']);
      expect(await listKeys(s, b, 'logs/stdo')).toEqual(['logs/stdout.1.log']);
      expect(await listKeys(s, b, 'logs/st')).toEqual(['logs/st/y', 'logs/stderr.1.log', 'logs/stdout.1.log']);
      expect(await listKeys(s, b, 'logs/sub/x')).toEqual(['logs/sub/x']);
      expect(await listKeys(s, b, 'missing/')).toEqual([]);
      expect(await listKeys(s, b, 'z/')).toEqual([]);
      expect(await listKeys(s, other, '')).toEqual(['logs/stdout.1.log']);
      expect(await s.listPage(b, 'out/')).toEqual({ keys: [{ key: 'out/a', ...sized(13) }] });
    });

    it('sorts by UTF-8 bytes, across "directories", page after page', async () => {
      // '-' < '.' < '/' < '0' in bytes; U+FF61 < U+1F600 in UTF-8 (not in UTF-16)
      const keys = ['o/a0', 'o/a/b', 'o/a.b', 'o/a-b', 'o/\u{1F600}', 'o/\uFF61', 'o/a/c/d', 'o/a/bc'];
      for (const k of keys) await s.putFile(b, k, src);
      const sorted = ['o/a-b', 'o/a.b', 'o/a/b', 'o/a/bc', 'o/a/c/d', 'o/a0', 'o/\uFF61', 'o/\u{1F600}'];
      expect([...keys].sort(compareKeys)).toEqual(sorted);
      expect(await listKeys(s, b, 'o/')).toEqual(sorted);
      const oneByOne: string[] = [];
      for await (const e of listAll(s, b, 'o/', { maxKeys: 1 })) oneByOne.push(e.key);
      expect(oneByOne).toEqual(sorted);
      const twoByTwo = await s.listPage(b, 'o/', { maxKeys: 2, startAfter: 'o/a.b' });
      expect(twoByTwo.keys.map((e) => e.key)).toEqual(['o/a/b', 'o/a/bc']);
      expect(await listKeys(s, b, 'o/a/')).toEqual(['o/a/b', 'o/a/bc', 'o/a/c/d']);
      expect(await listKeys(s, b, 'o/a/b')).toEqual(['o/a/b', 'o/a/bc']);
    });

    it('pages a listing of 2,500 keys by 1,000, with a token or startAfter', async () => {
      const all = Array.from({ length: 2500 }, (_, i) => `many/d${i % 5}/k${String(i).padStart(4, '0')}`);
      await inParallel(all, 8, (k) => s.putFile(b, k, src));
      await s.putFile(b, 'many-x', src); // not under the prefix `many/`
      await s.putFile(b, 'manz', src);
      const sorted = [...all].sort(compareKeys);
      const p1 = await s.listPage(b, 'many/');
      expect(p1.keys).toHaveLength(1000);
      expect(p1.nextToken).toBeDefined();
      const p2 = await s.listPage(b, 'many/', { continuationToken: p1.nextToken });
      expect(p2.keys).toHaveLength(1000);
      const p3 = await s.listPage(b, 'many/', { continuationToken: p2.nextToken });
      expect(p3.keys).toHaveLength(500);
      expect(p3.nextToken).toBeUndefined();
      expect([...p1.keys, ...p2.keys, ...p3.keys].map((e) => e.key)).toEqual(sorted);
      expect(p1.keys[0]).toEqual({ key: sorted[0], ...sized(13) });
      // startAfter: strictly after a key, which need not exist
      const after = await s.listPage(b, 'many/', { startAfter: sorted[1499], maxKeys: 3 });
      expect(after.keys.map((e) => e.key)).toEqual(sorted.slice(1500, 1503));
      expect((await s.listPage(b, 'many/', { startAfter: 'many/d2/' })).keys[0]?.key).toBe(sorted[1000]);
      expect(await s.listPage(b, 'many/', { startAfter: 'many/e' })).toEqual({ keys: [] });
      // maxKeys above the limit is clamped; listAll walks every page
      expect((await s.listPage(b, 'many/', { maxKeys: 5000 })).keys).toHaveLength(1000);
      expect(await listKeys(s, b, 'many/')).toEqual(sorted);
      expect(await listKeys(s, b, 'many')).toEqual(['many-x', ...sorted]);
      expect(await listKeys(s, b, 'many/d1/k00')).toEqual(sorted.filter((k) => k.startsWith('many/d1/k00')));
      expect(await listKeys(s, b, 'many/d1/k00')).toHaveLength(20);
    });

    it('refuses impossible listing options', async () => {
      for (const maxKeys of [0, -1, 1.5, Number.NaN]) {
        await expect(s.listPage(b, '', { maxKeys })).rejects.toThrow(RangeError);
      }
      await s.putFile(b, 'a', src);
      await s.putFile(b, 'b', src);
      const p = await s.listPage(b, '', { maxKeys: 1 });
      expect(p.keys.map((e) => e.key)).toEqual(['a']);
      await expect(s.listPage(b, '', { continuationToken: p.nextToken, startAfter: 'a' })).rejects.toThrow(RangeError);
      await expect(s.listPage(b, '', { continuationToken: 'not a token' })).rejects.toThrow(RangeError);
    });

    it('a missing bucket lists as empty and holds no objects', async () => {
      expect(await s.listPage(missing, '')).toEqual({ keys: [] });
      expect(await s.head(missing, 'k')).toBeUndefined();
      expect(['NoSuchKey', 'NoSuchBucket']).toContain(await codeOf(s.getRange(missing, 'k', 0)));
      expect(['NoSuchKey', 'NoSuchBucket']).toContain(await codeOf(s.rename(missing, 'k', 'l')));
      try {
        await s.delete(missing, 'k');
      } catch (e) {
        expect(e).toMatchObject({ code: 'NoSuchBucket' });
      }
    });

    it.each(REFUSED)('refuses bucket %j key %j on every operation', async (bucket, key) => {
      const code = 'InvalidParameterValue.RemoteStoragePath';
      const loc = { bucket };
      expect(await codeOf(s.putFile(loc, key, src))).toBe(code);
      expect(await codeOf(s.getRange(loc, key, 0))).toBe(code);
      expect(await codeOf(s.head(loc, key))).toBe(code);
      expect(await codeOf(s.delete(loc, key))).toBe(code);
      expect(await codeOf(s.rename(loc, key, 'ok'))).toBe(code);
      if (bucket === 'b') expect(await codeOf(s.rename(loc, 'ok', key))).toBe(code);
    });

    it('refuses listing prefixes with traversal', async () => {
      const code = 'InvalidParameterValue.RemoteStoragePath';
      expect(await codeOf(s.listPage(b, '../'))).toBe(code);
      expect(await codeOf(s.listPage(b, 'a/../../x'))).toBe(code);
      expect(await codeOf(s.listPage(b, '/etc/'))).toBe(code);
      expect(await codeOf(s.listPage({ bucket: 'B' }, ''))).toBe(code);
    });

    it('says AccessDenied (not retryable) where writes are refused', async (ctx) => {
      if (!fx.denied) ctx.skip('this backend\'s fixture has no way to make it refuse writes');
      const d = await fx.denied!();
      try {
        const e = await rejection(s.putFile(d.loc, 'refused', src, d.opts));
        expect(e).toBeInstanceOf(ObjectStoreError);
        expect(e).toMatchObject({ code: 'AccessDenied', retryable: false });
      } finally {
        await d.undo();
      }
      await s.putFile(d.loc, 'allowed', src, d.opts);
      expect(await s.head(d.loc, 'allowed', d.opts)).toEqual(sized(13));
    });

    it('tells an etag: the same from head, listPage and getFile, another once the object is replaced', async () => {
      await s.putFile(b, 'v/k', src);
      const first = (await s.head(b, 'v/k'))!;
      expect(first).toEqual(sized(13));
      expect((await s.listPage(b, 'v/')).keys).toEqual([{ key: 'v/k', ...first }]);
      expect(await s.getFile(b, 'v/k', path.join(tmp, `etag-${++n}`))).toEqual(first);
      await s.putFile(b, 'v/k', file('another version'));
      const second = (await s.head(b, 'v/k'))!;
      expect(second.size).toBe(15);
      expect(second.etag).not.toBe(first.etag);
      expect((await s.listPage(b, 'v/')).keys).toEqual([{ key: 'v/k', ...second }]);
    });

    it('getFile downloads a whole object, small or of several MiB, replacing the file', async () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'get-'));
      const dest = path.join(dir, 'small');
      fs.writeFileSync(dest, 'an older file, longer than the object');
      await s.putFile(b, 'g/small', src);
      expect(await s.getFile(b, 'g/small', dest)).toEqual(await s.head(b, 'g/small'));
      expect(fs.readFileSync(dest, 'utf8')).toBe('hello, world\n');
      const bytes = randomBytes(6 * MiB + 12345);
      const big = path.join(tmp, `big-${++n}`);
      fs.writeFileSync(big, bytes);
      await s.putFile(b, 'g/big', big);
      const info = await s.getFile(b, 'g/big', path.join(dir, 'big'));
      expect(info).toEqual({ ...sized(bytes.length), etag: (await s.head(b, 'g/big'))!.etag });
      expect(fs.readFileSync(path.join(dir, 'big')).equals(bytes)).toBe(true);
      await s.putFile(b, 'g/empty', file(''));
      expect(await s.getFile(b, 'g/empty', path.join(dir, 'empty'))).toEqual(sized(0));
      expect(fs.readFileSync(path.join(dir, 'empty')).length).toBe(0);
      expect(fs.readdirSync(dir).sort()).toEqual(['big', 'empty', 'small']); // no temp file left
    });

    it('getFile of a missing object (or bucket) fails and leaves nothing', async () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'get-'));
      const e = await rejection(s.getFile(b, 'nope', path.join(dir, 'x')));
      expect(e).toBeInstanceOf(ObjectStoreError);
      expect(e).toMatchObject({ code: 'NoSuchKey', retryable: false });
      expect(['NoSuchKey', 'NoSuchBucket']).toContain(await codeOf(s.getFile(missing, 'k', path.join(dir, 'y'))));
      expect(fs.readdirSync(dir)).toEqual([]);
      // a destination that cannot be written is the caller's error, not the store's
      await s.putFile(b, 'present', src);
      const local = await rejection(s.getFile(b, 'present', path.join(dir, 'no-such-dir', 'x')));
      expect(local).not.toBeInstanceOf(ObjectStoreError);
      expect(local).toMatchObject({ code: 'ENOENT' });
    });

    it('an aborted getFile rejects and leaves nothing, before or during the transfer', async () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'get-'));
      const big = path.join(tmp, `big-${++n}`);
      fs.writeFileSync(big, randomBytes(24 * MiB));
      await s.putFile(b, 'g/big', big);
      const before = new AbortController();
      before.abort(new Error('stopped before'));
      await expect(s.getFile(b, 'g/big', path.join(dir, 'x'), { signal: before.signal })).rejects.toThrow('stopped before');
      const during = new AbortController();
      const p = s.getFile(b, 'g/big', path.join(dir, 'y'), { signal: during.signal });
      setTimeout(() => during.abort(new Error('stopped during')), 2);
      expect(await rejection(p)).toBeInstanceOf(Error);
      expect(fs.readdirSync(dir)).toEqual([]);
      expect(await s.getFile(b, 'g/big', path.join(dir, 'z'))).toEqual(sized(24 * MiB)); // the object is unharmed
    });

    it('putFile sends a file larger than its part size in parts, and an aborted put stores nothing', async () => {
      const bytes = randomBytes(12 * MiB + 7);
      const big = path.join(tmp, `big-${++n}`);
      fs.writeFileSync(big, bytes);
      await s.putFile(b, 'mp/big', big, { partSizeBytes: 5 * MiB, concurrency: 2 });
      expect(await s.head(b, 'mp/big')).toEqual(sized(bytes.length));
      const dest = path.join(tmp, `dl-${++n}`);
      await s.getFile(b, 'mp/big', dest);
      expect(fs.readFileSync(dest).equals(bytes)).toBe(true);
      // across the boundary of the first two parts
      expect((await s.getRange(b, 'mp/big', 5 * MiB - 3, 5 * MiB + 3)).equals(bytes.subarray(5 * MiB - 3, 5 * MiB + 3))).toBe(true);
      const aborted = new AbortController();
      aborted.abort(new Error('no'));
      await expect(s.putFile(b, 'mp/none', big, { signal: aborted.signal })).rejects.toThrow('no');
      expect(await s.head(b, 'mp/none')).toBeUndefined();
    });

    it('takes per-request options on every call', async () => {
      const opts: RequestOptions = {};
      await s.putFile(b, 'k', src, opts);
      expect(await s.head(b, 'k', opts)).toEqual(sized(13));
      expect((await s.getRange(b, 'k', 0, 5, opts)).toString()).toBe('hello');
      await s.rename(b, 'k', 'l', opts);
      expect(await s.listPage(b, '', { ...opts, maxKeys: 10 })).toEqual({ keys: [{ key: 'l', ...sized(13) }] });
      await s.delete(b, 'l', opts);
      expect(await s.head(b, 'l', opts)).toBeUndefined();
    });
  });
}
