// Transfers between an attempt and object storage, with retries: what an input mapping resolves to
// (one object, or every object under a prefix, through the host's cache), the package of a PACKAGE
// application (a .tgz fetched from cos:// or http(s):// and unpacked, as the attempt's user, once
// per version and user), and the upload of an output directory (every regular file under it, its
// relative path kept, WorkerNum at once, multipart in WorkerPartSize parts). Failures are
// StagingErrors whose message names the path and the store's error.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bucketRef, parseCosUrl } from '../objectstore/cos-url.ts';
import { listAll } from '../objectstore/list.ts';
import { ObjectStoreError, type ObjectCredentials, type ObjectEntry, type ObjectStore } from '../objectstore/types.ts';
import { mapLimit, type ObjectCache } from './cache.ts';

/** A staging step that failed for good: its message is the instance's StateDetailedReason. */
export class StagingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StagingError';
  }
}

/** Retries of a transfer that failed for a reason that may pass (the store's 5xx, network). */
export const TRANSFER_RETRIES = 3;
const BACKOFF_MS = [500, 2000, 5000];
/** The most objects one directory input may hold. */
export const MAX_INPUT_OBJECTS = 100_000;
/** A package larger than this is refused (a download that never ends is bounded too). */
export const MAX_PACKAGE_BYTES = 8 * 2 ** 30;
const HTTP_TIMEOUT_MS = 30_000;

export interface TransferContext {
  store: ObjectStore;
  cache: ObjectCache;
  credentials?: ObjectCredentials;
  signal?: AbortSignal;
}

/** What an input mapping gives the attempt: a directory view or one object's file, in the cache. */
export interface ResolvedInput {
  kind: 'dir' | 'file';
  path: string;
  objects: number;
  bytes: number;
}

/** `source`: a cos:// URL. An object when it names one (and does not end in `/`), else the objects
 *  under it as a directory. */
export async function resolveInput(source: string, ctx: TransferContext): Promise<ResolvedInput> {
  const loc = parseCosUrl(source, 'InputMapping SourcePath');
  const bucket = bucketRef(loc);
  const opts = { ...(ctx.credentials ? { credentials: ctx.credentials } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) };
  return withRetries(source, async () => {
    if (loc.prefix !== '' && !loc.prefix.endsWith('/')) {
      const info = await ctx.store.head(bucket, loc.prefix, opts);
      if (info) {
        const file = await ctx.cache.object(ctx.store, bucket, loc.prefix, info, opts);
        return { kind: 'file', path: file, objects: 1, bytes: info.size };
      }
    }
    const prefix = loc.prefix === '' || loc.prefix.endsWith('/') ? loc.prefix : `${loc.prefix}/`;
    const entries: ObjectEntry[] = [];
    for await (const e of listAll(ctx.store, bucket, prefix, opts)) {
      // "directory marker" objects (`dir/`) hold nothing
      if (e.key.endsWith('/')) continue;
      entries.push(e);
      if (entries.length > MAX_INPUT_OBJECTS) throw new StagingError(`${source} holds more than ${MAX_INPUT_OBJECTS} objects`);
    }
    if (entries.length === 0) {
      throw new StagingError(`no object ${loc.prefix.endsWith('/') || loc.prefix === '' ? 'under' : 'at or under'} ${source} (or its bucket does not exist)`);
    }
    const view = await ctx.cache.view(ctx.store, bucket, prefix, entries, opts);
    return { kind: 'dir', path: view, objects: entries.length, bytes: entries.reduce((n, e) => n + e.size, 0) };
  });
}

/** The unpacked package of `packagePath` for the user uid:gid (its files theirs), in the cache. */
export async function resolvePackage(packagePath: string, user: { uid: number; gid: number } | undefined, ctx: TransferContext): Promise<string> {
  return withRetries(packagePath, async () => {
    let archive: { file: string; version: string };
    if (/^https?:\/\//i.test(packagePath)) {
      archive = await fetchHttp(packagePath, ctx);
    } else {
      const loc = parseCosUrl(packagePath, 'Application.PackagePath');
      const bucket = bucketRef(loc);
      const opts = { ...(ctx.credentials ? { credentials: ctx.credentials } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) };
      const info = await ctx.store.head(bucket, loc.prefix, opts);
      if (!info) throw new StagingError(`no object at ${packagePath} (or its bucket does not exist)`);
      if (info.size > MAX_PACKAGE_BYTES) throw new StagingError(`${packagePath} is larger than ${MAX_PACKAGE_BYTES} bytes`);
      archive = { file: await ctx.cache.object(ctx.store, bucket, loc.prefix, info, opts), version: info.etag };
    }
    return ctx.cache.directory(['package', packagePath, archive.version, String(user?.uid ?? -1)], (dir) => untar(archive.file, dir, user, packagePath));
  });
}

/** Uploads every regular file under `dir` below the cos:// prefix `target`. Symbolic links and
 *  special files are skipped (never followed: an attempt cannot make the server upload what it
 *  could not read). Returns how many files went. */
export async function uploadDir(dir: string, target: string, cfg: { workers: number; partMB: number }, ctx: TransferContext): Promise<number> {
  const loc = parseCosUrl(target, 'OutputMapping DestinationPath');
  const bucket = bucketRef(loc);
  const prefix = loc.prefix === '' || loc.prefix.endsWith('/') ? loc.prefix : `${loc.prefix}/`;
  const files = await regularFiles(dir);
  const partSizeBytes = Math.max(5, cfg.partMB) * 2 ** 20;
  await mapLimit(files, Math.max(1, cfg.workers), async (rel) => {
    const key = prefix + rel.split(path.sep).join('/');
    const where = `cos://${loc.host}/${key}`;
    await withRetries(where, async () => {
      // opened without following a link, and read through that descriptor: what the attempt swaps in
      // after the walk is not followed either
      const fh = await fsp.open(path.join(dir, rel), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        if (!(await fh.stat()).isFile()) return;
        await ctx.store.putFile(bucket, key, `/proc/self/fd/${fh.fd}`, {
          partSizeBytes, concurrency: 4,
          ...(ctx.credentials ? { credentials: ctx.credentials } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
      } finally {
        await fh.close();
      }
    });
  });
  return files.length;
}

async function regularFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const e of entries) {
      const r = rel === '' ? e.name : path.join(rel, e.name);
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

/** Runs `fn`, again after a pause when the store failed for a reason that may pass; a failure for
 *  good becomes a StagingError naming `where` and the store's error. */
export async function withRetries<T>(where: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof StagingError) throw e;
      signal?.throwIfAborted();
      const retryable = e instanceof ObjectStoreError ? e.retryable : isTransient(e);
      if (!retryable || attempt >= TRANSFER_RETRIES) throw asStagingError(where, e, attempt + 1);
      await new Promise((r) => setTimeout(r, BACKOFF_MS[attempt] ?? 5000));
    }
  }
}

function asStagingError(where: string, e: unknown, tries: number): StagingError {
  if (e instanceof ObjectStoreError) {
    const after = e.retryable ? ` (after ${tries} tries)` : '';
    return new StagingError(`${where}: ${e.code}: ${e.message}${after}`);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new StagingError(`${where}: ${msg}`);
}

function isTransient(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'EAI_AGAIN' || (e instanceof Error && e.name === 'TimeoutError');
}

/** An http(s) package, cached by its ETag (else Last-Modified and length): a HEAD request tells the
 *  version, a GET fetches it when the cache lacks it. */
async function fetchHttp(url: string, ctx: TransferContext): Promise<{ file: string; version: string }> {
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, AbortSignal.timeout(HTTP_TIMEOUT_MS)]) : AbortSignal.timeout(HTTP_TIMEOUT_MS);
  const head = await fetch(url, { method: 'HEAD', signal, redirect: 'follow' });
  if (!head.ok) throw new StagingError(`${url}: HTTP ${head.status} ${head.statusText}`);
  const version = head.headers.get('etag') ?? `${head.headers.get('last-modified') ?? ''}/${head.headers.get('content-length') ?? ''}`;
  const file = await ctx.cache.file(['http', url, version], async (tmp) => {
    const res = await fetch(url, { signal: ctx.signal ?? null, redirect: 'follow' });
    if (!res.ok || !res.body) throw new StagingError(`${url}: HTTP ${res.status} ${res.statusText}`);
    const len = Number(res.headers.get('content-length') ?? 0);
    if (len > MAX_PACKAGE_BYTES) throw new StagingError(`${url} is larger than ${MAX_PACKAGE_BYTES} bytes`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), fs.createWriteStream(tmp, { flags: 'wx' }));
    return (await fsp.stat(tmp)).size;
  });
  return { file, version };
}

/** Unpacks a gzipped tar into `dir` as the user (so nothing in the archive can write where that user
 *  could not), the archive on its stdin. */
async function untar(archive: string, dir: string, user: { uid: number; gid: number } | undefined, name: string): Promise<void> {
  if (user) await fsp.chown(dir, user.uid, user.gid);
  await new Promise<void>((resolve, reject) => {
    // tar runs in `dir` (entered before it drops to the user, who need not reach the cache by path)
    const child = spawn('tar', ['-xzf', '-', '--no-same-owner', '--no-overwrite-dir', '-C', '.'], {
      cwd: dir, stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 2000) err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new StagingError(`${name} could not be unpacked as a .tar.gz: ${err.trim().split('\n').slice(-2).join('; ') || `tar exited with ${code}`}`));
    });
    fs.createReadStream(archive).on('error', reject).pipe(child.stdin!).on('error', () => {});
  });
}
