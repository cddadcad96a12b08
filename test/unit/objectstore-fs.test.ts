// The embedded FsObjectStore on a real temp dir: the ObjectStore contract, then what only a
// directory-backed store has: where objects land on disk, KeyConflict, pruned directories, symlinks
// planted inside the root, buckets addressed by name alone, and errno codes turned into
// ObjectStoreErrors (an immutable directory for AccessDenied, a full tmpfs for Unavailable).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../src/objectstore/fs/fs-store.ts';
import { listKeys } from '../../src/objectstore/list.ts';
import { ObjectStoreError } from '../../src/objectstore/types.ts';
import { codeOf as asyncCodeOf, objectStoreContract, REFUSED, sized } from '../contract/objectstore.contract.ts';

const isRoot = process.getuid?.() === 0;

/** Sets or clears the immutable attribute (refuses writes even to root), where the file system has it. */
function chattr(flag: '+i' | '-i', target: string): boolean {
  try {
    execFileSync('chattr', [flag, target], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

objectStoreContract('fs', async () => {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ob-objstore-c-')));
  const store = new FsObjectStore(path.join(tmp, 'objects'));
  return {
    store,
    cleanup: async () => fs.rmSync(tmp, { recursive: true, force: true }),
    denied: isRoot
      ? async () => {
          // root ignores file modes; an immutable bucket directory refuses even root
          const dir = path.join(store.root, 'locked');
          fs.mkdirSync(dir);
          if (!chattr('+i', dir)) throw new Error('chattr +i failed');
          return { loc: { bucket: 'locked' }, undo: async () => void chattr('-i', dir) };
        }
      : undefined,
  };
});

describe('FsObjectStore', () => {
  let tmp: string;
  let root: string;
  let store: FsObjectStore;
  let src: string;
  const b = { bucket: 'b' };

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

  it('stores <root>/<bucket>/<key> through its temp dir, leaving nothing there', async () => {
    await store.putFile(b, 'hello2/logs/stdout.log', src);
    expect(fs.readFileSync(path.join(root, 'b', 'hello2', 'logs', 'stdout.log'), 'utf8')).toBe('hello, world\n');
    expect(await store.head(b, 'hello2/logs/stdout.log')).toEqual(sized(13));
    // no temp files left behind, and the temp dir is not a bucket
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
    expect(await store.listPage({ bucket: 'b' }, '')).toEqual({ keys: [{ key: 'hello2/logs/stdout.log', ...sized(13) }] });
  });

  it('addresses a bucket by its name alone: region, host and credentials are ignored', async () => {
    const full = { bucket: 'b-1250000000', region: 'ap-guangzhou', host: 'b-1250000000.cos.ap-guangzhou.myqcloud.com' };
    const creds = { credentials: { secretId: 'AKIDnotused', secretKey: 'not used', token: 't' } };
    await store.putFile(full, 'k', src, creds);
    expect(fs.existsSync(path.join(root, 'b-1250000000', 'k'))).toBe(true);
    for (const loc of [{ bucket: 'b-1250000000' }, { bucket: 'b-1250000000', region: 'ap-shanghai', host: 'b-1250000000.cossh.myqcloud.com' }]) {
      expect(await store.head(loc, 'k')).toEqual(sized(13));
      expect(await listKeys(store, loc, '')).toEqual(['k']);
    }
  });

  it('a missing bucket is an empty one: NoSuchKey, never NoSuchBucket', async () => {
    expect(await store.head({ bucket: 'nobucket' }, 'nope')).toBeUndefined();
    expect(await asyncCodeOf(store.getRange(b, 'nope', 0))).toBe('NoSuchKey');
    expect(await asyncCodeOf(store.rename(b, 'nope', 'other'))).toBe('NoSuchKey');
    await store.delete(b, 'nope');
    expect(await listKeys(store, b, '')).toEqual([]);
    expect(fs.readdirSync(root)).toEqual([]); // reading made no bucket
  });

  it('cannot hold both an object and objects under it (KeyConflict)', async () => {
    await store.putFile(b, 'dir/file', src);
    expect(await asyncCodeOf(store.putFile(b, 'dir', src))).toBe('KeyConflict');
    expect(await asyncCodeOf(store.putFile(b, 'dir/file/sub', src))).toBe('KeyConflict');
    await store.putFile(b, 'x', src);
    expect(await asyncCodeOf(store.rename(b, 'x', 'dir'))).toBe('KeyConflict');
    expect(await asyncCodeOf(store.rename(b, 'x', 'dir/file/sub'))).toBe('KeyConflict');
    expect(await listKeys(store, b, '')).toEqual(['dir/file', 'x']);
  });

  it('prunes directories left empty by a rename or a delete', async () => {
    await store.putFile(b, 'tmp/attempt-1/stdout.log', src);
    await store.rename(b, 'tmp/attempt-1/stdout.log', 'logs/stdout.log');
    expect(fs.existsSync(path.join(root, 'b', 'tmp'))).toBe(false);
    await store.delete(b, 'logs/stdout.log');
    expect(fs.readdirSync(path.join(root, 'b'))).toEqual([]);
  });

  it.each(REFUSED)('a refused bucket %j key %j writes nothing anywhere', async (bucket, key) => {
    const loc = { bucket };
    const ops = [() => store.putFile(loc, key, src), () => store.getRange(loc, key, 0), () => store.head(loc, key), () => store.delete(loc, key), () => store.rename(loc, key, 'ok')];
    for (const op of ops) expect(await asyncCodeOf(op())).toBe('InvalidParameterValue.RemoteStoragePath');
    expect(fs.readdirSync(tmp).sort()).toEqual(['objects', 'src.txt']);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('continuation tokens are its own', async () => {
    await store.putFile(b, 'a', src);
    await store.putFile(b, 'b', src);
    const p = await store.listPage(b, '', { maxKeys: 1 });
    expect(p.nextToken).toMatch(/^fs1\./);
    expect((await store.listPage(b, '', { continuationToken: p.nextToken })).keys.map((e) => e.key)).toEqual(['b']);
    for (const bad of ['fs1.', 'fs1.!!', 's3token', `fs1.${Buffer.from([0xff]).toString('base64url')}`]) {
      await expect(store.listPage(b, '', { continuationToken: bad })).rejects.toThrow(RangeError);
    }
  });

  describe('errors of the file system', () => {
    it.skipIf(!isRoot)(`an immutable directory refuses writes with AccessDenied, not retryable${isRoot ? '' : ' (skipped: chattr +i needs root)'}`, async () => {
      await store.putFile(b, 'logs/old', src);
      const dir = path.join(root, 'b', 'logs');
      expect(chattr('+i', dir)).toBe(true);
      try {
        const ops = [() => store.putFile(b, 'logs/new', src), () => store.rename(b, 'logs/old', 'moved'), () => store.delete(b, 'logs/old'), () => store.putFile(b, 'logs/sub/new', src)];
        for (const op of ops) {
          const e = await op().then(() => undefined, (x: unknown) => x);
          expect(e).toBeInstanceOf(ObjectStoreError);
          expect(e).toMatchObject({ code: 'AccessDenied', retryable: false });
          expect((e as Error).message).toMatch(/b\/logs|EPERM/);
        }
        expect(await store.head(b, 'logs/old')).toEqual(sized(13)); // reads still work
        expect(await listKeys(store, b, '')).toEqual(['logs/old']);
      } finally {
        chattr('-i', dir);
      }
    });

    it('a source file that cannot be read is the caller\'s error, not the store\'s', async () => {
      const e = await store.putFile(b, 'x', path.join(tmp, 'missing-source')).then(() => undefined, (x: unknown) => x);
      expect(e).not.toBeInstanceOf(ObjectStoreError);
      expect(e).toMatchObject({ code: 'ENOENT' });
    });

    it.skipIf(!isRoot)('a full disk is Unavailable and retryable; the same call succeeds once space returns', async () => {
      const mnt = path.join(tmp, 'small');
      fs.mkdirSync(mnt);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
      try {
        const small = new FsObjectStore(path.join(mnt, 'objects'));
        const big = path.join(tmp, 'big');
        fs.writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 1));
        const e = await small.putFile(b, 'big', big).then(() => undefined, (x: unknown) => x);
        expect(e).toBeInstanceOf(ObjectStoreError);
        expect(e).toMatchObject({ code: 'Unavailable', retryable: true });
        expect((e as Error).message).toMatch(/ENOSPC/);
        expect(fs.readdirSync(path.join(mnt, 'objects', '.tmp'))).toEqual([]); // the partial copy is gone
        expect(await small.head(b, 'big')).toBeUndefined();
        fs.truncateSync(big, 1000);
        await small.putFile(b, 'big', big);
        expect(await small.head(b, 'big')).toEqual(sized(1000));
      } finally {
        execFileSync('umount', ['-l', mnt]);
      }
    });
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
      expect(await asyncCodeOf(store.putFile(b, 'evil/planted', src))).toBe(code);
      expect(await asyncCodeOf(store.putFile(b, 'evil/deeper/planted', src))).toBe(code);
      expect(fs.readdirSync(outside)).toEqual(['secret']);
      expect(await asyncCodeOf(store.getRange(b, 'evil/secret', 0))).toBe(code);
      expect(await asyncCodeOf(store.head(b, 'evil/secret'))).toBe(code);
      expect(await asyncCodeOf(store.delete(b, 'evil/secret'))).toBe(code);
      expect(await asyncCodeOf(store.rename(b, 'evil/secret', 'stolen'))).toBe(code);
      expect(await asyncCodeOf(store.listPage(b, 'evil/'))).toBe(code);
      expect(await listKeys(store, b, '')).toEqual([]); // not descended into
      expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('top secret');
    });

    it('a file symlink leading outside is not read and is replaced (not followed) on write', async () => {
      fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'b', 'link'));
      expect(await asyncCodeOf(store.getRange(b, 'link', 0))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(await listKeys(store, b, '')).toEqual([]);
      await store.putFile(b, 'link', src);
      expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('top secret');
      expect(fs.lstatSync(path.join(root, 'b', 'link')).isSymbolicLink()).toBe(false);
      expect((await store.getRange(b, 'link', 0)).toString()).toBe('hello, world\n');
    });

    it('a bucket directory that is a symlink is refused', async () => {
      fs.symlinkSync(outside, path.join(root, 'evilbucket'));
      const evil = { bucket: 'evilbucket' };
      expect(await asyncCodeOf(store.putFile(evil, 'x', src))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(await asyncCodeOf(store.getRange(evil, 'secret', 0))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(await asyncCodeOf(store.listPage(evil, ''))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(fs.readdirSync(outside)).toEqual(['secret']);
    });

    it('a symlink to another bucket is refused (containment is per bucket)', async () => {
      await store.putFile({ bucket: 'other' }, 'x/file', src);
      fs.symlinkSync(path.join(root, 'other', 'x'), path.join(root, 'b', 'cross'));
      expect(await asyncCodeOf(store.getRange(b, 'cross/file', 0))).toBe('InvalidParameterValue.RemoteStoragePath');
      expect(await asyncCodeOf(store.putFile(b, 'cross/new', src))).toBe('InvalidParameterValue.RemoteStoragePath');
    });

    it('a symlink staying inside the bucket is tolerated, and listed with its target\'s size', async () => {
      await store.putFile(b, 'real/file', src);
      fs.symlinkSync(path.join(root, 'b', 'real'), path.join(root, 'b', 'alias'));
      expect(await store.head(b, 'alias/file')).toEqual(sized(13));
      await store.putFile(b, 'alias/new', src);
      expect(await store.head(b, 'real/new')).toEqual(sized(13));
      fs.symlinkSync(path.join(root, 'b', 'real', 'file'), path.join(root, 'b', 'flink'));
      fs.symlinkSync(path.join(root, 'b', 'nowhere'), path.join(root, 'b', 'dangling'));
      expect((await store.listPage(b, '')).keys).toEqual([
        { key: 'flink', ...sized(13) }, { key: 'real/file', ...sized(13) }, { key: 'real/new', ...sized(13) },
      ]);
    });

    it('a temp dir that is a symlink is refused', async () => {
      fs.symlinkSync(outside, path.join(root, '.tmp'));
      await expect(store.putFile(b, 'x', src)).rejects.toThrow(/symbolic link/);
      expect(fs.readdirSync(outside)).toEqual(['secret']);
    });
  });
});
