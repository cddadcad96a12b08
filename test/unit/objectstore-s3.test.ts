// What the S3 store decides before any request (no server needed): which endpoint a bucket goes to
// (one configured endpoint for all, else Tencent COS of the region its cos:// host names), which
// client signs (one per endpoint, region and credentials, the per-request ones kept in a bounded
// cache), and that bad buckets, keys and tokens are refused before anything is sent. The requests
// themselves are tested on a real RGW in test/s3/.
import { describe, expect, it } from 'vitest';
import { bucketRef, parseCosUrl } from '../../src/objectstore/cos-url.ts';
import { cosEndpoint, routeOf, S3Clients } from '../../src/objectstore/s3/s3-clients.ts';
import { S3ObjectStore } from '../../src/objectstore/s3/s3-store.ts';
import { codeOf, REFUSED } from '../contract/objectstore.contract.ts';

const ref = (url: string) => bucketRef(parseCosUrl(url));

describe('S3 store: endpoint of a bucket', () => {
  const cos = { region: 'ap-guangzhou', forcePathStyle: true };
  it('without an endpoint: COS of the region the cos:// host names, virtual-hosted', () => {
    expect(routeOf(cos, ref('cos://b-1250000000.cos.ap-shanghai.myqcloud.com/x'))).toEqual({
      endpoint: 'https://cos.ap-shanghai.myqcloud.com', region: 'ap-shanghai', forcePathStyle: false,
    });
    expect(routeOf(cos, ref('cos://b-1250000000.cosbj.myqcloud.com/x'))).toMatchObject({ endpoint: cosEndpoint('ap-beijing'), region: 'ap-beijing' });
    // a host naming no region (the short form, cos.accelerate): the configured region
    expect(routeOf(cos, ref('cos://b-1250000000/x'))).toEqual({ endpoint: 'https://cos.ap-guangzhou.myqcloud.com', region: 'ap-guangzhou', forcePathStyle: false });
    expect(routeOf(cos, ref('cos://b-1250000000.cos.accelerate.myqcloud.com/x')).region).toBe('ap-guangzhou');
  });
  it('with an endpoint: every bucket there, signed for the configured region, in the configured style', () => {
    const rgw = { endpoint: 'http://127.0.0.1:7480', region: 'ap-guangzhou', forcePathStyle: true };
    for (const url of ['cos://b-1250000000.cos.ap-shanghai.myqcloud.com/x', 'cos://b/x']) {
      expect(routeOf(rgw, ref(url))).toEqual({ endpoint: 'http://127.0.0.1:7480', region: 'ap-guangzhou', forcePathStyle: true });
    }
    expect(routeOf({ ...rgw, forcePathStyle: false }, { bucket: 'b' }).forcePathStyle).toBe(false);
  });
});

describe('S3 store: clients', () => {
  const route = { endpoint: 'http://127.0.0.1:7480', region: 'ap-guangzhou', forcePathStyle: true };
  it('one client per endpoint and region with the store\'s keys, one per credentials otherwise', () => {
    const clients = new S3Clients({ ...route, accessKeyId: 'ak', secretAccessKey: 'sk' });
    const own = clients.get(route);
    expect(clients.get(route)).toBe(own);
    expect(clients.get({ ...route, region: 'ap-shanghai' })).not.toBe(own);
    const a = { secretId: 'AKIDa', secretKey: 'ska' };
    const viaA = clients.get(route, a);
    expect(viaA).not.toBe(own);
    expect(clients.get(route, { ...a })).toBe(viaA);
    expect(clients.get(route, { ...a, token: 't' })).not.toBe(viaA);
    expect(clients.get(route, { secretId: 'AKIDa', secretKey: 'other' })).not.toBe(viaA);
    expect(clients.size).toEqual({ own: 2, borrowed: 3 });
    clients.destroy();
  });
  it('keeps at most 32 clients of per-request credentials, dropping the least recently used', () => {
    const clients = new S3Clients({ ...route });
    const first = clients.get(route, { secretId: 'id-0', secretKey: 'k' });
    for (let i = 1; i < 40; i++) {
      clients.get(route, { secretId: `id-${i}`, secretKey: 'k' });
      clients.get(route, { secretId: 'id-0', secretKey: 'k' }); // kept in use: never the oldest
    }
    expect(clients.size.borrowed).toBe(32);
    expect(clients.get(route, { secretId: 'id-0', secretKey: 'k' })).toBe(first);
    clients.destroy();
  });
});

describe('S3 store: refusals before any request', () => {
  // an endpoint where nothing listens: a request sent would fail with Unavailable, not these codes
  const store = new S3ObjectStore({ endpoint: 'http://127.0.0.1:1', region: 'ap-guangzhou', forcePathStyle: true, maxAttempts: 1 });
  it.each(REFUSED)('bucket %j key %j is InvalidParameterValue.RemoteStoragePath', async (bucket, key) => {
    const code = 'InvalidParameterValue.RemoteStoragePath';
    const loc = { bucket };
    expect(await codeOf(store.putFile(loc, key, '/etc/hostname'))).toBe(code);
    expect(await codeOf(store.getFile(loc, key, '/tmp/never-written'))).toBe(code);
    expect(await codeOf(store.getRange(loc, key, 0))).toBe(code);
    expect(await codeOf(store.head(loc, key))).toBe(code);
    expect(await codeOf(store.delete(loc, key))).toBe(code);
    expect(await codeOf(store.rename(loc, key, 'ok'))).toBe(code);
  });
  it('listing tokens are its own: anything else is a RangeError', async () => {
    for (const bad of ['', 'not a token', 's3.', 'fs1.YQ', 's3.!!']) {
      await expect(store.listPage({ bucket: 'b' }, '', { continuationToken: bad })).rejects.toThrow(RangeError);
    }
  });
});
