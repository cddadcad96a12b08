// The host's cache of staged objects (<dataDir>/cache): each object version (bucket, key, etag) is
// downloaded once into objects/, whoever asks and however many attempts at once (one download in
// flight per version); a directory input is a view (views/<hash>/: hard links to the cached objects
// at their relative paths) shared read-only by every attempt that maps the same listing; an unpacked
// package is a directory in packages/. Entries in use by an attempt are pinned; the rest are evicted,
// least recently used first, once the cache holds more than its bound. Only the server reads it:
// attempts see views and objects through read-only mounts.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BucketRef, ObjectEntry, ObjectInfo, ObjectStore, TransferOptions } from '../objectstore/types.ts';

/** What the cache did (the objects benchmark reads it: bytes fetched from the store). */
export interface CacheStats {
  fetchedBytes: number;
  fetches: number;
  hits: number;
}

interface Entry {
  bytes: number;
  used: number;
  pins: number;
}

export class ObjectCache {
  readonly stats: CacheStats = { fetchedBytes: 0, fetches: 0, hits: 0 };
  private readonly inflight = new Map<string, Promise<string>>();
  /** Known entries (objects, views, packages) by path, for the size bound. */
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  /** @param graceMs an entry used this recently is kept beyond the bound: the attempt that asked for
   *  it pins it only once all of its inputs are there */
  constructor(readonly root: string, private readonly maxBytes: number, private readonly graceMs = 60_000) {
    for (const d of ['objects', 'views', 'packages', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o700 });
    fs.rmSync(path.join(root, 'tmp'), { recursive: true, force: true });
    fs.mkdirSync(path.join(root, 'tmp'), { mode: 0o700 });
    this.index();
  }

  /** The local file holding this version of the object, downloaded unless the cache has it. */
  async object(store: ObjectStore, loc: BucketRef, key: string, info: ObjectInfo, opts: TransferOptions = {}): Promise<string> {
    return this.file([store.name, loc.host ?? '', loc.bucket, key, info.etag], async (tmp) => (await store.getFile(loc, key, tmp, opts)).size);
  }

  /** The local file of one version of something named by `parts`, which `download` writes (whole,
   *  or not at all) to the path it is given, answering its size. */
  async file(parts: string[], download: (tmp: string) => Promise<number>): Promise<string> {
    const file = path.join(this.root, 'objects', hashOf(parts));
    return this.once(file, async () => {
      const tmp = path.join(this.root, 'tmp', randomBytes(8).toString('hex'));
      try {
        const size = await download(tmp);
        this.stats.fetches += 1;
        this.stats.fetchedBytes += size;
        await fsp.chmod(tmp, 0o644);
        await fsp.rename(tmp, file);
        this.add(file, size);
      } catch (e) {
        await fsp.rm(tmp, { force: true });
        throw e;
      }
    });
  }

  /** A directory holding every object of `entries` (a listing of `prefix`) at its path relative to
   *  the prefix: hard links to the cached objects, built once per listing. */
  async view(store: ObjectStore, loc: BucketRef, prefix: string, entries: ObjectEntry[], opts: TransferOptions = {}): Promise<string> {
    const dir = path.join(this.root, 'views', hashOf([store.name, loc.host ?? '', loc.bucket, prefix, ...entries.flatMap((e) => [e.key, e.etag])]));
    return this.once(dir, async () => {
      const files = await mapLimit(entries, 8, (e) => this.object(store, loc, e.key, e, opts));
      const tmp = path.join(this.root, 'tmp', randomBytes(8).toString('hex'));
      // every attempt's user reads it (through a read-only mount): modes set whatever the umask
      const made = new Set<string>();
      const mkdir = async (d: string) => {
        if (made.has(d)) return;
        if (d !== tmp) await mkdir(path.dirname(d));
        await fsp.mkdir(d).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        await fsp.chmod(d, 0o755);
        made.add(d);
      };
      await mkdir(tmp);
      for (const [i, e] of entries.entries()) {
        const dest = path.join(tmp, ...e.key.slice(prefix.length).split('/').filter((s) => s !== ''));
        await mkdir(path.dirname(dest));
        // a key that is also a "directory" of another key (`a` and `a/b`) cannot be both here: the
        // file wins over nothing, the directory over the file
        await fsp.link(files[i]!, dest).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST' && err.code !== 'EISDIR' && err.code !== 'ENOTDIR') throw err;
        });
      }
      await fsp.rename(tmp, dir);
      this.add(dir, 0);
    });
  }

  /** A directory `make` fills once per `parts` (an unpacked package). */
  async directory(parts: string[], make: (dir: string) => Promise<void>): Promise<string> {
    const dir = path.join(this.root, 'packages', hashOf(parts));
    return this.once(dir, async () => {
      const tmp = path.join(this.root, 'tmp', randomBytes(8).toString('hex'));
      await fsp.mkdir(tmp, { mode: 0o711 });
      try {
        await make(tmp);
        await fsp.rename(tmp, dir);
      } catch (e) {
        await fsp.rm(tmp, { recursive: true, force: true });
        throw e;
      }
      this.add(dir, duBytes(dir));
    });
  }

  /** Keep these entries (cache paths) while an attempt uses them; unpin() lets them go. */
  pin(paths: readonly string[]): void {
    for (const p of paths) {
      const e = this.entries.get(p);
      if (e) {
        e.pins += 1;
        e.used = Date.now();
      }
    }
  }

  unpin(paths: readonly string[]): void {
    for (const p of paths) {
      const e = this.entries.get(p);
      if (e && e.pins > 0) e.pins -= 1;
    }
    this.evict();
  }

  /** Bytes the cache holds now. */
  get bytes(): number {
    return this.total;
  }

  private async once(target: string, make: () => Promise<void>): Promise<string> {
    const known = this.entries.get(target);
    if (known) {
      known.used = Date.now();
      this.stats.hits += 1;
      return target;
    }
    let p = this.inflight.get(target);
    if (!p) {
      p = (async () => {
        if (fs.existsSync(target)) {
          this.add(target, 0);
          return target;
        }
        await make();
        return target;
      })().finally(() => this.inflight.delete(target));
      this.inflight.set(target, p);
    } else {
      this.stats.hits += 1;
    }
    return p;
  }

  private add(p: string, bytes: number): void {
    if (this.entries.has(p)) return;
    this.entries.set(p, { bytes, used: Date.now(), pins: 0 });
    this.total += bytes;
    this.evict(p);
  }

  /** Least recently used first, never what is pinned; a cached object still linked from a view
   *  (nlink > 1) frees nothing until the view goes, so views are evicted before objects. */
  private evict(keep?: string): void {
    if (this.total <= this.maxBytes) return;
    const recent = Date.now() - this.graceMs;
    const free = [...this.entries].filter(([p, e]) => e.pins === 0 && p !== keep && e.used <= recent).sort((a, b) => a[1].used - b[1].used);
    const order = [...free.filter(([p]) => !p.includes(`${path.sep}objects${path.sep}`)), ...free.filter(([p]) => p.includes(`${path.sep}objects${path.sep}`))];
    for (const [p, e] of order) {
      if (this.total <= this.maxBytes) break;
      if (e.bytes === 0 && !p.includes(`${path.sep}views${path.sep}`)) continue;
      try {
        if (fs.statSync(p).nlink > 1 && fs.statSync(p).isFile()) continue;
      } catch {
        // gone already
      }
      fs.rmSync(p, { recursive: true, force: true });
      this.entries.delete(p);
      this.total -= e.bytes;
    }
  }

  /** What an earlier service process left: known again, least recent by modification time. */
  private index(): void {
    for (const kind of ['objects', 'views', 'packages']) {
      const dir = path.join(this.root, kind);
      for (const name of fs.readdirSync(dir)) {
        const p = path.join(dir, name);
        try {
          const st = fs.statSync(p);
          const bytes = kind === 'objects' ? st.size : kind === 'packages' ? duBytes(p) : 0;
          this.entries.set(p, { bytes, used: st.mtimeMs, pins: 0 });
          this.total += bytes;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
}

function hashOf(parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 40);
}

/** Runs `fn` over `items` with at most `limit` at once; results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function duBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += duBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}
