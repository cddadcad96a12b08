// Staging on the embedded object store and real files: inputs resolved through the host's cache (one
// download per object version however many attempts ask, directory views shared, eviction beyond the
// bound but never of what is pinned), packages fetched from cos:// and http:// and unpacked, output
// directories uploaded with their relative paths (links never followed), and every fault named.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../src/objectstore/fs/fs-store.ts';
import { listKeys } from '../../src/objectstore/list.ts';
import { ObjectCache } from '../../src/staging/cache.ts';
import { resolveInput, resolvePackage, StagingError, uploadDir } from '../../src/staging/transfer.ts';

const HOST = 'data-1250000000.cos.ap-guangzhou.myqcloud.com';
const B = { bucket: 'data-1250000000', region: 'ap-guangzhou', host: HOST };

let tmp: string;
let store: FsObjectStore;
let cache: ObjectCache;

async function putAsync(key: string, body: string | Buffer): Promise<void> {
  const f = path.join(tmp, `src-${Math.random()}`);
  fs.writeFileSync(f, body);
  await store.putFile(B, key, f);
}

beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ob-staging-')));
  store = new FsObjectStore(path.join(tmp, 'objects'));
  cache = new ObjectCache(path.join(tmp, 'cache'), 1 << 30);
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('inputs', () => {
  it('resolves a directory to a view of its objects at their relative paths, fetched once for many attempts', async () => {
    await putAsync('in/a.txt', 'A');
    await putAsync('in/sub/b.txt', 'BB');
    const ctx = { store, cache };
    const got = await Promise.all(Array.from({ length: 20 }, () => resolveInput(`cos://${HOST}/in/`, ctx)));
    const view = got[0]!;
    expect(view).toMatchObject({ kind: 'dir', objects: 2, bytes: 3 });
    expect(new Set(got.map((g) => g.path)).size).toBe(1);
    expect(fs.readFileSync(path.join(view.path, 'a.txt'), 'utf8')).toBe('A');
    expect(fs.readFileSync(path.join(view.path, 'sub', 'b.txt'), 'utf8')).toBe('BB');
    expect(cache.stats.fetches).toBe(2);
    expect(cache.stats.fetchedBytes).toBe(3);
    // without the trailing slash, a prefix that is no object is a directory too
    expect((await resolveInput(`cos://${HOST}/in`, ctx)).path).toBe(view.path);
    expect(cache.stats.fetches).toBe(2);
  });

  it('fetches a replaced object again (a new etag), and resolves a single object to its file', async () => {
    await putAsync('one.bin', 'first');
    const a = await resolveInput(`cos://${HOST}/one.bin`, { store, cache });
    expect(a.kind).toBe('file');
    expect(fs.readFileSync(a.path, 'utf8')).toBe('first');
    await putAsync('one.bin', 'second!');
    const b = await resolveInput(`cos://${HOST}/one.bin`, { store, cache });
    expect(b.path).not.toBe(a.path);
    expect(fs.readFileSync(b.path, 'utf8')).toBe('second!');
    expect(cache.stats.fetches).toBe(2);
  });

  it('names the path when there is nothing to stage', async () => {
    const e = await resolveInput(`cos://${HOST}/nothing/`, { store, cache }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StagingError);
    expect((e as Error).message).toContain(`cos://${HOST}/nothing/`);
  });

  it('evicts what no attempt pins, least recently used first, beyond its bound', async () => {
    const small = new ObjectCache(path.join(tmp, 'small'), 150, 0);
    await putAsync('x/1', Buffer.alloc(100));
    await putAsync('y/1', Buffer.alloc(100));
    const x = await resolveInput(`cos://${HOST}/x/1`, { store, cache: small });
    small.pin([x.path]);
    const y = await resolveInput(`cos://${HOST}/y/1`, { store, cache: small });
    // what was just fetched is there for the attempt that asked; x is pinned: y, the other one,
    // goes as soon as nothing uses it
    expect(fs.existsSync(y.path)).toBe(true);
    expect(fs.existsSync(x.path)).toBe(true);
    small.unpin([]);
    expect(fs.existsSync(y.path)).toBe(false);
    small.unpin([x.path]);
    expect(small.bytes).toBeLessThanOrEqual(150);
  });
});

describe('outputs', () => {
  it('uploads every regular file with its relative path, never what a link points to', async () => {
    const out = path.join(tmp, 'out');
    fs.mkdirSync(path.join(out, 'deep', 'er'), { recursive: true });
    fs.writeFileSync(path.join(out, 'r.txt'), 'result');
    fs.writeFileSync(path.join(out, 'deep', 'er', 'x.csv'), '1,2');
    fs.writeFileSync(path.join(tmp, 'secret'), 'do not upload');
    fs.symlinkSync(path.join(tmp, 'secret'), path.join(out, 'link'));
    const n = await uploadDir(out, `cos://${HOST}/results/job1/`, { workers: 2, partMB: 8 }, { store, cache });
    expect(n).toBe(2);
    expect(await listKeys(store, B, 'results/')).toEqual(['results/job1/deep/er/x.csv', 'results/job1/r.txt']);
    expect((await store.getRange(B, 'results/job1/r.txt', 0)).toString()).toBe('result');
  });

  it('an upload refused for good fails at once, naming the object', async () => {
    const out = path.join(tmp, 'out2');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'f'), 'x');
    // a key conflict (an object where a directory must be) is the embedded store's refusal
    await putAsync('clash', 'object');
    const e = await uploadDir(out, `cos://${HOST}/clash/`, { workers: 1, partMB: 8 }, { store, cache }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StagingError);
    expect((e as Error).message).toContain(`cos://${HOST}/clash/f`);
  });
});

describe('packages', () => {
  function tgz(files: Record<string, string>): Buffer {
    const d = fs.mkdtempSync(path.join(tmp, 'pkg-'));
    for (const [name, body] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
      fs.writeFileSync(path.join(d, name), body, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
    }
    return execFileSync('tar', ['-czf', '-', '-C', d, '.']);
  }

  it('unpacks a cos:// package once per version', async () => {
    await putAsync('pkg/app.tgz', tgz({ 'run.sh': '#!/bin/sh\necho hi\n', 'lib/data.txt': 'd' }));
    const a = await resolvePackage(`cos://${HOST}/pkg/app.tgz`, undefined, { store, cache });
    const b = await resolvePackage(`cos://${HOST}/pkg/app.tgz`, undefined, { store, cache });
    expect(b).toBe(a);
    expect(fs.readFileSync(path.join(a, 'lib', 'data.txt'), 'utf8')).toBe('d');
    expect(fs.statSync(path.join(a, 'run.sh')).mode & 0o111).not.toBe(0);
    expect(cache.stats.fetches).toBe(1);
  });

  it('fetches an http:// package, cached by its ETag', async () => {
    const body = tgz({ 'x.txt': 'over http' });
    let gets = 0;
    const srv = http.createServer((req, res) => {
      if (req.method === 'GET') gets += 1;
      res.writeHead(200, { etag: '"v1"', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/app.tar.gz`;
      const a = await resolvePackage(url, undefined, { store, cache });
      await resolvePackage(url, undefined, { store, cache });
      expect(fs.readFileSync(path.join(a, 'x.txt'), 'utf8')).toBe('over http');
      expect(gets).toBe(1);
    } finally {
      srv.close();
    }
  });

  it('says what is wrong with a package that is missing or no .tar.gz', async () => {
    const missing = await resolvePackage(`cos://${HOST}/pkg/none.tgz`, undefined, { store, cache }).catch((x: unknown) => x);
    expect((missing as Error).message).toContain(`cos://${HOST}/pkg/none.tgz`);
    await putAsync('pkg/bad.tgz', 'this is not gzip');
    const bad = await resolvePackage(`cos://${HOST}/pkg/bad.tgz`, undefined, { store, cache }).catch((x: unknown) => x);
    expect(bad).toBeInstanceOf(StagingError);
    expect((bad as Error).message).toMatch(/could not be unpacked/);
  });
});
