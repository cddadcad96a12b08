// FsObjectStore: the embedded object store inside the data dir — object `<bucket>/<key>` is the file
// `<root>/<bucket>/<key>`, written to `<root>/.tmp/` and renamed into place, so it is never seen
// partial (`.tmp` is no bucket name). Buckets and keys are validated again, and every path is checked
// after resolving symlinks to stay inside `<root>/<bucket>/` (a symlink leading out is refused).
// COMPAT: a bucket is its name alone (region, host, credentials ignored), exists from its first
// object, and reads as empty while missing (never NoSuchBucket). Renames are atomic.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ApiError } from '../../domain/errors.ts';
import { bucketNameProblem, keyProblem, listPrefixProblem } from '../cos-url.ts';
import { checkListOptions, compareKeys } from '../list.ts';
import {
  ObjectStoreError, type BucketRef, type ListPage, type ListPageOptions, type ObjectEntry, type ObjectInfo, type ObjectStore, type PutOptions,
  type RequestOptions, type TransferOptions,
} from '../types.ts';
import { errCode, isInside, mkdirsWithin } from '../../lib/dirs-within.ts';
import { fsStoreError } from './fs-errors.ts';

const TMP_DIR = '.tmp';
/** Continuation tokens are the last key of the page, base64url-encoded behind this tag. */
const TOKEN_TAG = 'fs1.';

function refuse(bucket: string, key: string, problem: string): ApiError {
  return new ApiError('InvalidParameterValue.RemoteStoragePath',
    `object ${JSON.stringify(`cos://${bucket}/${key}`)} ${problem}.`);
}

export class FsObjectStore implements ObjectStore {
  readonly name = 'fs';
  /** The root with symlinks resolved; all containment checks compare against it. */
  readonly root: string;

  constructor(root: string) {
    fs.mkdirSync(root, { recursive: true });
    this.root = fs.realpathSync(path.resolve(root));
  }

  /** A failure to read `sourcePath` (the caller's file) is not the store's: it is thrown as is. */
  async putFile(loc: BucketRef, key: string, sourcePath: string, opts?: PutOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    const bucket = loc.bucket;
    const { segs } = this.check(bucket, key);
    await fsp.access(sourcePath, fs.constants.R_OK);
    return this.mapped(bucket, key, () => this.put(bucket, key, segs, sourcePath));
  }

  private async put(bucket: string, key: string, segs: string[], sourcePath: string): Promise<void> {
    const tmpDir = await this.tmpDir();
    const tmp = path.join(tmpDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    try {
      await fsp.copyFile(sourcePath, tmp, fs.constants.COPYFILE_EXCL);
      const parent = await this.ensureParent(bucket, key, segs);
      const target = path.join(parent, segs[segs.length - 1] ?? '');
      try {
        await fsp.rename(tmp, target);
      } catch (e) {
        if (errCode(e) === 'EISDIR' || errCode(e) === 'ENOTEMPTY' || errCode(e) === 'EEXIST') {
          throw new ObjectStoreError('KeyConflict', `cannot store ${bucket}/${key}: other objects exist under "${key}/"`);
        }
        throw e;
      }
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async getRange(loc: BucketRef, key: string, start: number, end?: number, _opts?: RequestOptions): Promise<Buffer> {
    const bucket = loc.bucket;
    if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
      throw new RangeError(`invalid byte range [${start}, ${end ?? ''}) for ${bucket}/${key}`);
    }
    return this.mapped(bucket, key, () => this.read(bucket, key, start, end));
  }

  private async read(bucket: string, key: string, start: number, end: number | undefined): Promise<Buffer> {
    const file = await this.existingFile(bucket, key);
    if (file === undefined) throw new ObjectStoreError('NoSuchKey', `no object ${bucket}/${key}`);
    const fh = await fsp.open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const stop = Math.min(end ?? size, size);
      if (start >= stop) return Buffer.alloc(0);
      const buf = Buffer.alloc(stop - start);
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
        if (bytesRead === 0) break; // truncated meanwhile
        off += bytesRead;
      }
      return off === buf.length ? buf : buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  async head(loc: BucketRef, key: string, _opts?: RequestOptions): Promise<ObjectInfo | undefined> {
    return this.mapped(loc.bucket, key, () => this.stat(loc.bucket, key));
  }

  private async stat(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    const file = await this.existingFile(bucket, key);
    if (file === undefined) return undefined;
    try {
      return infoOf(await fsp.stat(file, { bigint: true }));
    } catch (e) {
      if (errCode(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Copies the object's file (a copy, not a link: the object may be replaced or removed while the
   *  copy is used) to a temporary name beside `destPath`, renamed into place once complete. */
  async getFile(loc: BucketRef, key: string, destPath: string, opts?: TransferOptions): Promise<ObjectInfo> {
    opts?.signal?.throwIfAborted();
    const bucket = loc.bucket;
    return this.mapped(bucket, key, async () => {
      const file = await this.existingFile(bucket, key);
      if (file === undefined) throw new ObjectStoreError('NoSuchKey', `no object ${bucket}/${key}`);
      const tmp = `${destPath}.part-${randomBytes(6).toString('hex')}`;
      try {
        const src = await fsp.open(file, 'r');
        let info: ObjectInfo;
        try {
          // the version copied is the one opened: its etag is read from the same file
          info = infoOf(await src.stat({ bigint: true }));
          await pipelineTo(src, tmp, opts?.signal);
        } finally {
          await src.close();
        }
        await fsp.rename(tmp, destPath);
        return info;
      } catch (e) {
        await fsp.rm(tmp, { force: true });
        throw e;
      }
    });
  }

  /** Atomic here (one rename(2)); the interface promises less (see ObjectStore.rename). */
  async rename(loc: BucketRef, fromKey: string, toKey: string, _opts?: RequestOptions): Promise<void> {
    return this.mapped(loc.bucket, fromKey, () => this.move(loc.bucket, fromKey, toKey));
  }

  private async move(bucket: string, fromKey: string, toKey: string): Promise<void> {
    const from = this.check(bucket, fromKey);
    const to = this.check(bucket, toKey);
    if (fromKey === toKey) {
      if ((await this.existingFile(bucket, fromKey)) === undefined) throw new ObjectStoreError('NoSuchKey', `no object ${bucket}/${fromKey}`);
      return;
    }
    const fromParent = await this.existingParent(bucket, fromKey, from.segs);
    const source = fromParent === undefined ? undefined : path.join(fromParent, from.segs[from.segs.length - 1] ?? '');
    if (source === undefined || !(await this.isObjectFile(bucket, fromKey, source))) {
      throw new ObjectStoreError('NoSuchKey', `no object ${bucket}/${fromKey}`);
    }
    const toParent = await this.ensureParent(bucket, toKey, to.segs);
    try {
      await fsp.rename(source, path.join(toParent, to.segs[to.segs.length - 1] ?? ''));
    } catch (e) {
      if (errCode(e) === 'ENOENT') throw new ObjectStoreError('NoSuchKey', `no object ${bucket}/${fromKey}`);
      if (errCode(e) === 'EISDIR' || errCode(e) === 'ENOTEMPTY' || errCode(e) === 'EEXIST') {
        throw new ObjectStoreError('KeyConflict', `cannot store ${bucket}/${toKey}: other objects exist under "${toKey}/"`);
      }
      throw e;
    }
    await this.pruneEmptyDirs(bucket, fromParent ?? '');
  }

  async delete(loc: BucketRef, key: string, _opts?: RequestOptions): Promise<void> {
    return this.mapped(loc.bucket, key, () => this.remove(loc.bucket, key));
  }

  private async remove(bucket: string, key: string): Promise<void> {
    const { segs } = this.check(bucket, key);
    const parent = await this.existingParent(bucket, key, segs);
    if (parent === undefined) return;
    const file = path.join(parent, segs[segs.length - 1] ?? '');
    try {
      const st = await fsp.lstat(file);
      if (st.isDirectory()) return; // a "prefix", not an object
      await fsp.unlink(file); // removes a symlink itself, never its target
    } catch (e) {
      if (errCode(e) === 'ENOENT') return;
      throw e;
    }
    await this.pruneEmptyDirs(bucket, parent);
  }

  async listPage(loc: BucketRef, prefix: string, opts?: ListPageOptions): Promise<ListPage> {
    const { maxKeys, startAfter, continuationToken } = checkListOptions(opts);
    const after = continuationToken === undefined ? startAfter : decodeToken(continuationToken);
    return this.mapped(loc.bucket, prefix, async () => {
      const keys: ObjectEntry[] = [];
      for await (const entry of this.walkPrefix(loc.bucket, prefix, after)) {
        if (keys.length === maxKeys) return { keys, nextToken: encodeToken(keys[keys.length - 1]!.key) };
        keys.push(entry);
      }
      return { keys };
    });
  }

  /** The objects under `prefix` after `after`, in listing order (UTF-8 bytes), read lazily: a page
   *  reads only the directories it needs. */
  private async *walkPrefix(bucket: string, prefix: string, after: string | undefined): AsyncGenerator<ObjectEntry> {
    const bp = bucketNameProblem(bucket);
    if (bp) throw refuse(bucket, prefix, `names an invalid ${bp}`);
    // A prefix is a plain string (`logs/std` is fine); only its directory part is walked, and that
    // part must obey the key rules so it cannot smuggle traversal into the walk.
    const pp = listPrefixProblem(prefix);
    if (pp) throw refuse(bucket, prefix, `has a prefix that ${pp}`);
    const cut = prefix.lastIndexOf('/');
    const dirKey = cut === -1 ? '' : prefix.slice(0, cut);
    const bucketDir = await this.realBucketDir(bucket);
    if (bucketDir === undefined) return;
    let start = bucketDir;
    if (dirKey !== '') {
      try {
        start = await fsp.realpath(path.join(bucketDir, ...dirKey.split('/')));
      } catch (e) {
        if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return;
        throw e;
      }
      if (!isInside(start, bucketDir)) throw refuse(bucket, prefix, 'leads outside its bucket through a symbolic link');
      if (!(await fsp.stat(start)).isDirectory()) return;
    }
    yield* this.walkDir(bucketDir, start, dirKey === '' ? '' : `${dirKey}/`, prefix, after);
  }

  private async *walkDir(bucketDir: string, dir: string, keyPrefix: string, prefix: string, after: string | undefined): AsyncGenerator<ObjectEntry> {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return; // deleted meanwhile
      throw e;
    }
    // A directory `d` holds the keys `d/…`, so it sorts as `d/` among its siblings: then walking the
    // entries in that order yields keys in listing order (no name holds a '/').
    const sorted = entries
      .map((ent) => ({ ent, sortKey: Buffer.from(ent.isDirectory() ? `${ent.name}/` : ent.name, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    for (const { ent } of sorted) {
      const key = keyPrefix + ent.name;
      const file = path.join(dir, ent.name);
      if (ent.isDirectory()) {
        const sub = `${key}/`;
        if (!(sub.startsWith(prefix) || prefix.startsWith(sub))) continue;
        if (after !== undefined && !after.startsWith(sub) && compareKeys(after, sub) > 0) continue; // all of it precedes `after`
        yield* this.walkDir(bucketDir, file, sub, prefix, after);
        continue;
      }
      if (!key.startsWith(prefix) || (after !== undefined && compareKeys(key, after) <= 0)) continue;
      try {
        if (ent.isFile()) {
          yield { key, ...infoOf(await fsp.lstat(file, { bigint: true })) };
        } else if (ent.isSymbolicLink()) {
          // Tolerated only when it resolves to a regular file inside the bucket; never descended into.
          const real = await fsp.realpath(file);
          const st = await fsp.stat(real, { bigint: true });
          if (isInside(real, bucketDir) && st.isFile()) yield { key, ...infoOf(st) };
        }
      } catch (e) {
        if (errCode(e) !== 'ENOENT' && errCode(e) !== 'ENOTDIR' && errCode(e) !== 'ELOOP') throw e; // gone, or dangling
      }
    }
  }

  /** Runs `fn`, turning the file system's own failures into ObjectStoreErrors (fs-errors.ts). */
  private async mapped<T>(bucket: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw fsStoreError(e, bucket, key);
    }
  }

  // ---- path safety -------------------------------------------------------------------------

  private check(bucket: string, key: string): { segs: string[] } {
    const bp = bucketNameProblem(bucket);
    if (bp) throw refuse(bucket, key, `names an invalid ${bp}`);
    const kp = keyProblem(key);
    if (kp) throw refuse(bucket, key, `has a key that ${kp}`);
    const segs = key.split('/');
    const lexical = path.resolve(this.root, bucket, ...segs);
    if (!isInside(lexical, path.join(this.root, bucket))) throw refuse(bucket, key, 'resolves outside its bucket');
    return { segs };
  }

  private async tmpDir(): Promise<string> {
    const dir = path.join(this.root, TMP_DIR);
    await fsp.mkdir(dir, { recursive: true });
    if ((await fsp.realpath(dir)) !== dir) throw new Error(`object store temp dir ${dir} is a symbolic link; refusing to write through it`);
    return dir;
  }

  /** Real path of `<root>/<bucket>`, or undefined when the bucket does not exist yet. */
  private async realBucketDir(bucket: string): Promise<string | undefined> {
    const dir = path.join(this.root, bucket);
    let real: string;
    try {
      real = await fsp.realpath(dir);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    if (real !== dir) throw refuse(bucket, '', 'has a bucket directory that is a symbolic link');
    return real;
  }

  /** Create the key's parent directories one level at a time, resolving each with realpath before
   *  going deeper, so a planted symlink can never make us create or write anything outside. */
  private async ensureParent(bucket: string, key: string, segs: string[]): Promise<string> {
    const bucketDir = path.join(this.root, bucket);
    try {
      await fsp.mkdir(bucketDir);
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw e;
    }
    const root = await this.realBucketDir(bucket);
    if (root === undefined) throw new Error(`bucket directory ${bucketDir} vanished`);
    return mkdirsWithin(root, segs.slice(0, -1), (problem, _seg, real) => {
      if (problem === 'dangling') return refuse(bucket, key, 'passes through a dangling symbolic link');
      if (problem === 'outside') return refuse(bucket, key, 'leads outside its bucket through a symbolic link');
      return new ObjectStoreError('KeyConflict', `cannot store ${bucket}/${key}: "${path.relative(root, real!)}" is an object, not a prefix`);
    });
  }

  /** Real path of the key's parent directory (checked inside the bucket), or undefined if missing. */
  private async existingParent(bucket: string, key: string, segs: string[]): Promise<string | undefined> {
    const bucketDir = await this.realBucketDir(bucket);
    if (bucketDir === undefined) return undefined;
    if (segs.length === 1) return bucketDir;
    let real: string;
    try {
      real = await fsp.realpath(path.join(bucketDir, ...segs.slice(0, -1)));
    } catch (e) {
      if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return undefined;
      throw e;
    }
    if (!isInside(real, bucketDir)) throw refuse(bucket, key, 'leads outside its bucket through a symbolic link');
    return real;
  }

  /** Real path of the object's file when it exists as a regular file inside the bucket. */
  private async existingFile(bucket: string, key: string): Promise<string | undefined> {
    const { segs } = this.check(bucket, key);
    const parent = await this.existingParent(bucket, key, segs);
    if (parent === undefined) return undefined;
    const file = path.join(parent, segs[segs.length - 1] ?? '');
    return (await this.isObjectFile(bucket, key, file)) ? fsp.realpath(file) : undefined;
  }

  private async isObjectFile(bucket: string, key: string, file: string): Promise<boolean> {
    let real: string;
    try {
      real = await fsp.realpath(file);
    } catch (e) {
      if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return false;
      throw e;
    }
    const bucketDir = path.join(this.root, bucket);
    if (!isInside(real, bucketDir)) throw refuse(bucket, key, 'leads outside its bucket through a symbolic link');
    return (await fsp.stat(real)).isFile();
  }

  /** Remove now-empty directories from `dir` up to (not including) the bucket directory, so a
   *  deleted `a/b` does not leave a directory `a` that would block a later object `a`. */
  private async pruneEmptyDirs(bucket: string, dir: string): Promise<void> {
    const bucketDir = path.join(this.root, bucket);
    let cur = dir;
    while (isInside(cur, bucketDir)) {
      try {
        await fsp.rmdir(cur);
      } catch {
        return; // not empty (or already gone): stop
      }
      cur = path.dirname(cur);
    }
  }
}

function encodeToken(lastKey: string): string {
  return TOKEN_TAG + Buffer.from(lastKey, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const key = token.startsWith(TOKEN_TAG) ? Buffer.from(token.slice(TOKEN_TAG.length), 'base64url').toString('utf8') : undefined;
  if (key === undefined || key === '' || encodeToken(key) !== token) throw new RangeError(`malformed continuation token ${JSON.stringify(token)}`);
  return key;
}

/** An object file's size and etag: every put and rename gives the file a new inode or change time,
 *  so the pair (inode, ctime in ns) with the size names one version of the object. */
function infoOf(st: fs.BigIntStats): ObjectInfo {
  return { size: Number(st.size), etag: `${st.size.toString(16)}-${st.ino.toString(16)}-${st.ctimeNs.toString(16)}` };
}

async function pipelineTo(src: fsp.FileHandle, dest: string, signal: AbortSignal | undefined): Promise<void> {
  await pipeline(src.createReadStream({ autoClose: false }), fs.createWriteStream(dest, { flags: 'wx' }), signal ? { signal } : {});
}
