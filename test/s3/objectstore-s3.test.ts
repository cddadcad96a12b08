// The S3ObjectStore on a real Ceph RGW (scripts/s3-up.sh): the ObjectStore contract with fresh
// buckets per test, then what only an S3 store has: per-request credentials (wrong ones are
// AccessDenied, the server's keys never in a message), a store without keys, multipart uploads
// aborted half-way (no object, no upload left), renames copied part by part, and servers that
// refuse connections, never answer or answer 503 (Unavailable, retryable, within bounded time).
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteBucketPolicyCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/objectstore/s3/s3-store.ts';
import { ObjectStoreError } from '../../src/objectstore/types.ts';
import { codeOf, objectStoreContract, sized } from '../contract/objectstore.contract.ts';
import { until } from '../support/until.ts';
import { admin, bucketName, createBucket, multipartUploads, removeBucket, S3_ACCESS_KEY, S3_SECRET_KEY, skipReason, storeOptions } from './support.ts';

const problem = await skipReason();
const MiB = 1024 * 1024;

function denyPuts(bucket: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: [`arn:aws:s3:::${bucket}/*`] }],
  });
}

describe.skipIf(problem !== undefined)(`S3ObjectStore on RGW${problem ? ` (skipped: ${problem})` : ''}`, () => {
  objectStoreContract('s3', async () => {
    const [b, other] = await Promise.all([createBucket(bucketName('c')), createBucket(bucketName('c'))]);
    const store = new S3ObjectStore(storeOptions());
    return {
      store,
      bucket: { bucket: b },
      other: { bucket: other },
      missing: { bucket: bucketName('missing') },
      cleanup: async () => {
        store.close();
        await Promise.all([removeBucket(b), removeBucket(other)]);
      },
      // a bucket policy that refuses every PutObject, its owner's included
      denied: async () => {
        await admin.send(new PutBucketPolicyCommand({ Bucket: b, Policy: denyPuts(b) }));
        return { loc: { bucket: b }, undo: async () => void (await admin.send(new DeleteBucketPolicyCommand({ Bucket: b }))) };
      },
    };
  });

  describe('what only S3 has', () => {
    let bucket: string;
    let tmp: string;
    let src: string;
    const store = new S3ObjectStore(storeOptions());
    beforeAll(async () => {
      bucket = await createBucket(bucketName('s3'));
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ob-s3-'));
      src = path.join(tmp, 'src');
      fs.writeFileSync(src, 'hello, world\n');
    });
    afterAll(async () => {
      store.close();
      await removeBucket(bucket);
      fs.rmSync(tmp, { recursive: true, force: true });
    });
    const loc = () => ({ bucket });

    it('signs a request with its own credentials when it carries them: wrong ones are AccessDenied, named without the secret', async () => {
      const wrongSecret = { credentials: { secretId: S3_ACCESS_KEY, secretKey: 'not-the-secret-key-4242' } };
      const unknownKey = { credentials: { secretId: 'AKIDnobodyknowsthis', secretKey: 'whatever-secret-9191' } };
      for (const [opts, code] of [[wrongSecret, 'SignatureDoesNotMatch'], [unknownKey, 'InvalidAccessKeyId']] as const) {
        const e = await store.putFile(loc(), 'creds/x', src, opts).then(() => undefined, (x: unknown) => x);
        expect(e).toBeInstanceOf(ObjectStoreError);
        expect(e).toMatchObject({ code: 'AccessDenied', retryable: false });
        const msg = (e as Error).message;
        expect(msg).toContain(code);
        expect(msg).toContain(`${bucket}/creds/x`);
        for (const secret of [opts.credentials.secretKey, S3_SECRET_KEY]) expect(msg).not.toContain(secret);
        expect(await codeOf(store.getRange(loc(), 'creds/x', 0, undefined, opts))).toBe('AccessDenied');
      }
      expect(await store.head(loc(), 'creds/x')).toBeUndefined();
      // a store without keys of its own works with the request's
      const keyless = new S3ObjectStore(storeOptions({ accessKeyId: undefined, secretAccessKey: undefined }));
      const right = { credentials: { secretId: S3_ACCESS_KEY, secretKey: S3_SECRET_KEY } };
      await keyless.putFile(loc(), 'creds/y', src, right);
      expect(await keyless.head(loc(), 'creds/y', right)).toEqual(sized(13));
      const e = await keyless.head(loc(), 'creds/y').then(() => undefined, (x: unknown) => x);
      expect(e).toMatchObject({ code: 'AccessDenied' });
      expect((e as Error).message).toMatch(/no keys configured/);
      keyless.close();
    });

    it('an upload aborted half-way leaves no object and no multipart upload', async () => {
      const big = path.join(tmp, 'big');
      fs.writeFileSync(big, Buffer.alloc(40 * MiB, 1));
      const ac = new AbortController();
      const p = store.putFile(loc(), 'abort/big', big, { partSizeBytes: 5 * MiB, concurrency: 2, signal: ac.signal });
      await until('the multipart upload to begin', async () => ((await multipartUploads(bucket)).length > 0 ? true : undefined), 20_000, 10);
      ac.abort(new Error('stop the upload'));
      await expect(p).rejects.toThrow('stop the upload');
      await until('the multipart upload to be aborted', async () => ((await multipartUploads(bucket)).length === 0 ? true : undefined), 20_000);
      expect(await store.head(loc(), 'abort/big')).toBeUndefined();
    });

    it('renames a large object part by part (UploadPartCopy), then removes the source', async () => {
      const parted = new S3ObjectStore({ ...storeOptions(), multipartCopyAboveBytes: 5 * MiB, copyPartBytes: 5 * MiB });
      const bytes = Buffer.alloc(11 * MiB + 3);
      for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
      const f = path.join(tmp, 'parted');
      fs.writeFileSync(f, bytes);
      await parted.putFile(loc(), 'copy/from', f);
      await parted.rename(loc(), 'copy/from', 'copy/to');
      expect(await parted.head(loc(), 'copy/from')).toBeUndefined();
      expect((await parted.head(loc(), 'copy/to'))?.etag).toMatch(/-3$/); // three parts
      const dest = path.join(tmp, 'parted-back');
      await parted.getFile(loc(), 'copy/to', dest);
      expect(fs.readFileSync(dest).equals(bytes)).toBe(true);
      expect(await multipartUploads(bucket)).toEqual([]);
      parted.close();
    });

    it('keys with spaces, %, unicode and a leading dash survive every operation', async () => {
      const key = 'odd/日志 100% -x+y=z&(1).log';
      await store.putFile(loc(), key, src);
      expect((await store.listPage(loc(), 'odd/')).keys.map((e) => e.key)).toEqual([key]);
      await store.rename(loc(), key, 'odd/renamed ünïcode');
      expect((await store.getRange(loc(), 'odd/renamed ünïcode', 0)).toString()).toBe('hello, world\n');
    });

    it('the start-up probe: the server answers; wrong keys and a closed port are said', async () => {
      expect(await store.probe()).toBeUndefined();
      const wrong = new S3ObjectStore(storeOptions({ secretAccessKey: 'wrong-secret-5151' }));
      const said = await wrong.probe();
      expect(said).toMatch(/SignatureDoesNotMatch.*HTTP 403/);
      expect(said).not.toContain('wrong-secret-5151');
      wrong.close();
      const closed = new S3ObjectStore(storeOptions({ endpoint: 'http://127.0.0.1:1' }));
      expect(await closed.probe()).toMatch(/did not answer \(ECONNREFUSED/);
      closed.close();
    });
  });
});

describe('S3ObjectStore against servers that fail (no RGW needed)', () => {
  const src = path.join(os.tmpdir(), `ob-s3-fail-${process.pid}`);
  fs.writeFileSync(src, 'x');
  const servers: net.Server[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
    fs.rmSync(src, { force: true });
  });
  async function listen(server: net.Server): Promise<string> {
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }
  const fast = { connectionTimeoutMs: 500, requestTimeoutMs: 400, maxAttempts: 2 };

  it('a refused connection is Unavailable and retryable', async () => {
    const s = new S3ObjectStore(storeOptions({ endpoint: 'http://127.0.0.1:1', ...fast }));
    const e = await s.head({ bucket: 'b' }, 'k').then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'Unavailable', retryable: true });
    expect((e as Error).message).toMatch(/HeadObject b\/k failed: ECONNREFUSED/);
    s.close();
  });

  it('a server that never answers is Unavailable after its timeout, for every try', async () => {
    const sockets: net.Socket[] = [];
    const endpoint = await listen(net.createServer((sock) => void sockets.push(sock))); // accepts, says nothing
    const s = new S3ObjectStore(storeOptions({ endpoint, ...fast }));
    const t0 = Date.now();
    const e = await s.getRange({ bucket: 'b' }, 'k', 0).then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'Unavailable', retryable: true });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(sockets.length).toBe(2); // maxAttempts
    for (const sock of sockets) sock.destroy();
    s.close();
  });

  it('503 SlowDown is retried with backoff, then Unavailable naming the server\'s code', async () => {
    let requests = 0;
    const endpoint = await listen(http.createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    }));
    const s = new S3ObjectStore(storeOptions({ endpoint, ...fast, maxAttempts: 3 }));
    const e = await s.putFile({ bucket: 'b' }, 'k', src).then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'Unavailable', retryable: true });
    expect((e as Error).message).toContain('SlowDown: Please reduce your request rate. (HTTP 503)');
    expect((e as Error).message).not.toContain(S3_SECRET_KEY);
    expect(requests).toBe(3);
    s.close();
  });
});
