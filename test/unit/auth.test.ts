// Request authentication: every signature is produced by the official Node SDK's own code
// (tencentcloud-sdk-nodejs/tencentcloud/common/sign.js + abstract_client.js), and the requests are
// laid out exactly as tencentcloud/common/http/http_connection.js lays them out.
import { describe, it, expect, afterAll, beforeAll, vi } from 'vitest';
import { createRequire } from 'node:module';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import querystring from 'node:querystring';
import { authenticate, replayedError, type AuthResult, type IncomingRequest } from '../../src/api/auth.ts';
import { MemoryLimits } from '../../src/store/memory-limits.ts';
import type { SecretLookup } from '../../src/services/types.ts';
import { ApiError, type ErrorCode } from '../../src/domain/errors.ts';

delete process.env.http_proxy;
delete process.env.HTTP_PROXY;
delete process.env.https_proxy;
delete process.env.HTTPS_PROXY;

const require = createRequire(import.meta.url);

interface Sign3Args {
  method: string;
  url: string;
  payload: unknown;
  timestamp: number;
  service: string;
  secretId: string;
  secretKey: string;
  headers: Record<string, string>;
}
interface SdkSign {
  sign(secretKey: string, signStr: string, signMethod: string): string;
  sign3(args: Sign3Args): string;
}
type Params = Record<string, string | number>;
interface SdkAbstractClient {
  mergeData(data: unknown, prefix?: string): Params;
  formatRequestData(action: string, params: Params): Promise<Params>;
  formatSignString(params: Params): string;
}
type AbstractClientCtor = new (
  endpoint: string,
  version: string,
  config: { credential: { secretId: string; secretKey: string }; region?: string; profile?: unknown },
) => SdkAbstractClient;

const Sign = (require('tencentcloud-sdk-nodejs/tencentcloud/common/sign.js') as { default: SdkSign }).default;
const { AbstractClient } = require('tencentcloud-sdk-nodejs/tencentcloud/common/abstract_client.js') as {
  AbstractClient: AbstractClientCtor;
};

// ---------------------------------------------------------------------------------------------
// fixtures

const SECRET_ID = 'AKIDtestSecretId';
const SECRET_KEY = 'testSecretKey';
const ACCOUNT = '100000000001';
const OTHER_ID = 'AKIDotherAccount';
const OTHER_KEY = 'otherSecretKey';
const OTHER_ACCOUNT = '100000000002';
const SECRETS: Record<string, { secretKey: string; accountId: string }> = {
  [SECRET_ID]: { secretKey: SECRET_KEY, accountId: ACCOUNT },
  [OTHER_ID]: { secretKey: OTHER_KEY, accountId: OTHER_ACCOUNT },
};
const lookup: SecretLookup = (id) => SECRETS[id];

const NOW = 1795877959; // 2026-11-28T10:19:19Z
const NOW_MS = NOW * 1000;
const HOST = '127.0.0.1:18080';
const VERSION = '2017-03-12';
const REGION = 'ap-guangzhou';

const DESCRIBE_TASK = {
  JobId: 'job-97zcl3wt',
  TaskName: 'A',
  Offset: 0,
  Limit: 100,
  Filters: [{ Name: 'task-instance-state', Values: ['SUCCEED'] }],
};
const DESCRIBE_TASK_FLAT = new Map([
  ['JobId', 'job-97zcl3wt'],
  ['TaskName', 'A'],
  ['Offset', '0'],
  ['Limit', '100'],
  ['Filters.0.Name', 'task-instance-state'],
  ['Filters.0.Values.0', 'SUCCEED'],
]);

/** Replay protection as the pipeline applies it: the store's firstUse (here the in-memory one of SQLite). */
class ReplayCache {
  readonly mem = new MemoryLimits();
  constructor(readonly windowMs: number) {}
  check(r: AuthResult, nowMs: number): AuthResult {
    if (r.replayKey !== undefined && !this.mem.firstUse(r.replayKey, nowMs, this.windowMs)) throw replayedError(this.windowMs);
    return r;
  }
}

function opts() {
  return { maxSkewSeconds: 300 };
}

function auth(req: IncomingRequest, nowMs = NOW_MS, replay?: ReplayCache): AuthResult {
  return (replay ?? new ReplayCache(600_000)).check(authenticate(req, lookup, nowMs, opts()), nowMs);
}

function rejects(fn: () => unknown, code: ErrorCode, message?: RegExp): ApiError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an ApiError').toBeInstanceOf(ApiError);
  const err = caught as ApiError;
  expect(err.code, err.message).toBe(code);
  if (message) expect(err.message).toMatch(message);
  // never leak a secret key
  expect(err.message).not.toContain(SECRET_KEY);
  expect(err.message).not.toContain(OTHER_KEY);
  return err;
}

function lowerHeaders(h: Record<string, string | number | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}

/** The SDK's own flattening (AbstractClient#mergeData, same as http_connection's mergeData for our data). */
function sdkFlatten(data: unknown): Params {
  const proto = AbstractClient.prototype as SdkAbstractClient;
  return proto.mergeData(data);
}

interface Tc3Options {
  method?: 'POST' | 'GET';
  /** Host:port the request goes to (the Host header). */
  host?: string;
  /** Service in the credential scope; default: what the Node SDK derives from the endpoint. */
  service?: string;
  data?: unknown;
  action?: string;
  region?: string | undefined;
  timestamp?: number;
  secretId?: string;
  secretKey?: string;
  contentType?: string;
  /** Raw body bytes (POST); default JSON of data. */
  body?: Buffer;
  /** Raw query (GET); default the SDK's querystring of the flattened data. */
  rawQuery?: string;
  extraHeaders?: Record<string, string>;
  /** Payload given to sign3 instead of the SDK default. */
  signPayload?: unknown;
}

/** A TC3 request exactly as HttpConnection.doRequestWithSign3 builds it, signed by Sign.sign3 (host without port). */
function tc3Request(o: Tc3Options = {}): IncomingRequest {
  const method = o.method ?? 'POST';
  const host = o.host ?? HOST;
  const data = o.data ?? DESCRIBE_TASK;
  const timestamp = o.timestamp ?? NOW;
  const rawQuery = method === 'GET' ? (o.rawQuery ?? querystring.stringify(sdkFlatten(data))) : '';
  const url = `http://${host}/${rawQuery === '' ? '' : `?${rawQuery}`}`;
  const contentType = o.contentType ?? (method === 'GET' ? 'application/x-www-form-urlencoded' : 'application/json');
  const body = method === 'GET' ? Buffer.alloc(0) : (o.body ?? Buffer.from(JSON.stringify(data)));
  const headers = {
    Host: new URL(url).host,
    'X-TC-Action': o.action ?? 'DescribeTask',
    'X-TC-Region': 'region' in o ? o.region : REGION,
    'X-TC-Timestamp': timestamp,
    'X-TC-Version': VERSION,
    'X-TC-RequestClient': 'SDK_NODEJS_4.1.313',
    'X-TC-TraceId': '10aee125-2612-492a-8aed-a93732d27a0c',
    'Content-Type': contentType,
    ...o.extraHeaders,
  };
  const authorization = Sign.sign3({
    method,
    url,
    payload: 'signPayload' in o ? o.signPayload : method === 'POST' ? (o.body ?? data) : '',
    timestamp,
    service: o.service ?? host.split('.')[0] ?? '',
    secretId: o.secretId ?? SECRET_ID,
    secretKey: o.secretKey ?? SECRET_KEY,
    headers: { 'Content-Type': contentType },
  });
  return {
    method,
    path: '/',
    rawQuery,
    headers: lowerHeaders({ ...headers, Authorization: authorization }),
    body,
  };
}

/**
 * Go/Python style: they sign `host:<host with port>`. sign3 always signs the URL hostname (no port),
 * so this small re-statement of the algorithm is first checked to agree with sign3 byte for byte
 * (see the test "goStyleAuthorization agrees with the SDK's sign3"), then used with the port.
 */
function goStyleAuthorization(a: {
  method: string;
  signedHost: string;
  rawQuery: string;
  contentType: string;
  body: Buffer;
  timestamp: number;
  service: string;
}): string {
  const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
  const mac = (k: string | Buffer, m: string) => createHmac('sha256', k).update(m).digest();
  const canonical = [a.method, '/', a.rawQuery, `content-type:${a.contentType}\nhost:${a.signedHost}\n`, 'content-type;host', sha(a.body)].join('\n');
  const date = new Date(a.timestamp * 1000).toISOString().slice(0, 10);
  const scope = `${date}/${a.service}/tc3_request`;
  const sts = ['TC3-HMAC-SHA256', String(a.timestamp), scope, sha(canonical)].join('\n');
  const key = mac(mac(mac(`TC3${SECRET_KEY}`, date), a.service), 'tc3_request');
  const sig = createHmac('sha256', key).update(sts).digest('hex');
  return `TC3-HMAC-SHA256 Credential=${SECRET_ID}/${scope}, SignedHeaders=content-type;host, Signature=${sig}`;
}

interface V1Options {
  method?: 'POST' | 'GET';
  /** Endpoint configured in the client (signed, with port). */
  endpoint?: string;
  /** Host header actually sent (default = endpoint). */
  host?: string;
  signMethod?: 'HmacSHA1' | 'HmacSHA256';
  data?: unknown;
  action?: string;
  timestamp?: number;
  nonce?: number;
  secretId?: string;
  secretKey?: string;
  region?: string;
  /** Edit the parameters after the SDK built them, then re-sign with the SDK (undefined values are removed). */
  edit?: (p: Params) => void;
}

/** A v1 request exactly as AbstractClient#formatRequestData + HttpConnection.doRequest build it. */
async function v1Request(o: V1Options = {}): Promise<IncomingRequest> {
  const method = o.method ?? 'POST';
  const endpoint = o.endpoint ?? HOST;
  const signMethod = o.signMethod ?? 'HmacSHA256';
  const secretKey = o.secretKey ?? SECRET_KEY;
  const client = new AbstractClient(endpoint, VERSION, {
    credential: { secretId: o.secretId ?? SECRET_ID, secretKey },
    region: o.region ?? REGION,
    profile: { signMethod, httpProfile: { reqMethod: method, endpoint, protocol: 'http://' } },
  });
  const nowSpy = vi.spyOn(Date, 'now').mockReturnValue((o.timestamp ?? NOW) * 1000);
  const randomSpy = o.nonce === undefined ? undefined : vi.spyOn(Math, 'random').mockReturnValue(o.nonce / 65535);
  let params: Params;
  try {
    params = await client.formatRequestData(o.action ?? 'DescribeTask', client.mergeData(o.data ?? DESCRIBE_TASK));
  } finally {
    nowSpy.mockRestore();
    randomSpy?.mockRestore();
  }
  if (o.edit) {
    delete params.Signature;
    o.edit(params);
    for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
    params.Signature = Sign.sign(secretKey, client.formatSignString(params), signMethod);
  }
  const encoded = querystring.stringify(params);
  return method === 'GET'
    ? { method, path: '/', rawQuery: encoded, headers: lowerHeaders({ Host: o.host ?? endpoint, 'X-TC-TraceId': 't' }), body: Buffer.alloc(0) }
    : {
        method,
        path: '/',
        rawQuery: '',
        headers: lowerHeaders({
          Host: o.host ?? endpoint,
          'X-TC-TraceId': 't',
          'Content-Type': 'application/x-www-form-urlencoded',
        }),
        body: Buffer.from(encoded),
      };
}

function withHeaders(req: IncomingRequest, h: Record<string, string | undefined>): IncomingRequest {
  return { ...req, headers: { ...req.headers, ...h } };
}

// ---------------------------------------------------------------------------------------------
// TC3

describe('TC3-HMAC-SHA256', () => {
  it('accepts a Node SDK POST JSON request (host signed without port, service "127")', () => {
    const req = tc3Request();
    expect(req.headers.host).toBe(HOST);
    expect(req.headers.authorization).toMatch(/^TC3-HMAC-SHA256 Credential=AKIDtestSecretId\/2026-11-28\/127\/tc3_request, SignedHeaders=content-type;host, Signature=[0-9a-f]{64}$/);
    const r = auth(req);
    expect(r).toEqual({
      style: 'TC3',
      accountId: ACCOUNT,
      secretId: SECRET_ID,
      action: 'DescribeTask',
      version: VERSION,
      region: REGION,
      language: undefined,
      paramsKind: 'json',
      flatParams: new Map(),
    });
  });

  it('accepts service "localhost:18080" (Node SDK endpoint localhost:18080)', () => {
    const req = tc3Request({ host: 'localhost:18080' });
    expect(req.headers.authorization).toContain('/localhost:18080/tc3_request');
    expect(auth(req).accountId).toBe(ACCOUNT);
  });

  it('accepts service "batch" and a host without port (public endpoint)', () => {
    const req = tc3Request({ host: 'batch.tencentcloudapi.com' });
    expect(req.headers.authorization).toContain('/batch/tc3_request');
    expect(auth(req).style).toBe('TC3');
  });

  it('goStyleAuthorization agrees with the SDK sign3 when the host has no port', () => {
    const req = tc3Request({ host: 'batch.tencentcloudapi.com', service: 'batch' });
    const mine = goStyleAuthorization({
      method: 'POST',
      signedHost: 'batch.tencentcloudapi.com',
      rawQuery: '',
      contentType: 'application/json',
      body: req.body,
      timestamp: NOW,
      service: 'batch',
    });
    expect(mine).toBe(req.headers.authorization);
    const get = tc3Request({ method: 'GET', host: 'batch.tencentcloudapi.com', service: 'batch' });
    expect(
      goStyleAuthorization({
        method: 'GET',
        signedHost: 'batch.tencentcloudapi.com',
        rawQuery: get.rawQuery,
        contentType: 'application/x-www-form-urlencoded',
        body: Buffer.alloc(0),
        timestamp: NOW,
        service: 'batch',
      }),
    ).toBe(get.headers.authorization);
  });

  it('accepts a Go-style request (host signed with port, service "batch")', () => {
    const base = tc3Request();
    const authorization = goStyleAuthorization({
      method: 'POST',
      signedHost: HOST,
      rawQuery: '',
      contentType: 'application/json',
      body: base.body,
      timestamp: NOW,
      service: 'batch',
    });
    const r = auth(withHeaders(base, { authorization }));
    expect(r.style).toBe('TC3');
    expect(r.action).toBe('DescribeTask');
    // and a Go-style signature over a different port does not verify
    const wrongPort = goStyleAuthorization({
      method: 'POST',
      signedHost: '127.0.0.1:18081',
      rawQuery: '',
      contentType: 'application/json',
      body: base.body,
      timestamp: NOW,
      service: 'batch',
    });
    rejects(() => auth(withHeaders(base, { authorization: wrongPort })), 'AuthFailure.SignatureFailure');
  });

  it('hashes the raw body bytes (Python-style JSON with spaces is fine, nothing is re-serialised)', () => {
    const body = Buffer.from('{"JobId": "job-97zcl3wt", "TaskName": "A"}');
    const r = auth(tc3Request({ body }));
    expect(r.paramsKind).toBe('json');
  });

  it('accepts GET with a flattened query and returns flatParams', () => {
    const req = tc3Request({ method: 'GET' });
    expect(req.rawQuery).toBe(
      'JobId=job-97zcl3wt&TaskName=A&Offset=0&Limit=100&Filters.0.Name=task-instance-state&Filters.0.Values.0=SUCCEED',
    );
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const r = auth(req);
    expect(r.style).toBe('TC3');
    expect(r.paramsKind).toBe('flat');
    expect(r.flatParams).toEqual(DESCRIBE_TASK_FLAT);
  });

  it('decodes GET query values (%20 and +) into flatParams', () => {
    const data = { Job: { JobName: 'a b', Tasks: [{ Application: { Command: 'echo hello' } }] } };
    const req = tc3Request({ method: 'GET', data, action: 'SubmitJob' });
    expect(req.rawQuery).toContain('echo%20hello');
    expect(auth(req).flatParams).toEqual(
      new Map([
        ['Job.JobName', 'a b'],
        ['Job.Tasks.0.Application.Command', 'echo hello'],
      ]),
    );
    const plus = tc3Request({ method: 'GET', rawQuery: 'JobName=a+b&X=%2B' });
    expect(auth(plus).flatParams).toEqual(new Map([['JobName', 'a b'], ['X', '+']]));
  });

  it('accepts TC3 POST with a form body (flat params)', () => {
    const form = querystring.stringify(sdkFlatten(DESCRIBE_TASK));
    const body = Buffer.from(form);
    const r = auth(tc3Request({ contentType: 'application/x-www-form-urlencoded', body }));
    expect(r.paramsKind).toBe('flat');
    expect(r.flatParams).toEqual(DESCRIBE_TASK_FLAT);
  });

  it('accepts UNSIGNED-PAYLOAD (payload hash over the literal) and rejects it without the header', () => {
    const req = tc3Request({
      signPayload: Buffer.from('UNSIGNED-PAYLOAD'),
      extraHeaders: { 'X-TC-Content-SHA256': 'UNSIGNED-PAYLOAD' },
    });
    expect(auth(req).paramsKind).toBe('json');
    rejects(() => auth(withHeaders(req, { 'x-tc-content-sha256': undefined })), 'AuthFailure.SignatureFailure');
  });

  it('reports region/language undefined when absent or empty and reads X-TC-Language', () => {
    const noRegion = tc3Request({ region: undefined });
    expect(noRegion.headers['x-tc-region']).toBeUndefined();
    expect(auth(noRegion).region).toBeUndefined();
    const empty = tc3Request({ region: '' });
    expect(auth(empty).region).toBeUndefined();
    const lang = tc3Request({ extraHeaders: { 'X-TC-Language': 'en-US' } });
    expect(auth(lang).language).toBe('en-US');
  });

  it('accepts a timestamp 299 s in the past or the future', () => {
    expect(auth(tc3Request({ timestamp: NOW - 299 })).style).toBe('TC3');
    expect(auth(tc3Request({ timestamp: NOW + 299 })).style).toBe('TC3');
  });

  it('accepts a timestamp just after UTC midnight (scope date = timestamp date)', () => {
    const midnight = Date.UTC(2026, 10, 29) / 1000; // 2026-11-29T00:00:00Z
    const req = tc3Request({ timestamp: midnight + 5 });
    expect(req.headers.authorization).toContain('/2026-11-29/');
    expect(auth(req, (midnight - 5) * 1000).style).toBe('TC3');
  });

  describe('rejections', () => {
    it('rejects a request without any Authorization or Signature', () => {
      const req = tc3Request();
      rejects(() => auth(withHeaders(req, { authorization: undefined })), 'AuthFailure.InvalidAuthorization', /Authorization/);
      const get = tc3Request({ method: 'GET' });
      rejects(() => auth(withHeaders(get, { authorization: undefined })), 'AuthFailure.InvalidAuthorization', /Signature/);
    });

    it('rejects Authorization: SKIP (unsigned SDK request)', () => {
      rejects(() => auth(withHeaders(tc3Request(), { authorization: 'SKIP' })), 'AuthFailure.InvalidAuthorization', /SKIP/);
    });

    it('rejects other schemes and malformed TC3 headers', () => {
      const req = tc3Request();
      const good = req.headers.authorization ?? '';
      const cases: Array<[string, RegExp]> = [
        ['Bearer abc', /unsupported Authorization scheme "Bearer"/],
        ['TC3-HMAC-SHA256', /no credential/],
        ['TC3-HMAC-SHA256 garbage', /name=value/],
        ['TC3-HMAC-SHA256 Credential=AKIDtestSecretId/2026-11-28/127/tc3_request, SignedHeaders=content-type;host', /Signature is missing/],
        [good.replace('Credential=', 'Cred='), /unknown field "Cred"/],
        [good.replace('/tc3_request', ''), /Credential must be/],
        [good.replace('2026-11-28', '20261128'), /date in Credential/],
        [good.replace(/Signature=[0-9a-f]+/, 'Signature=xyz'), /64 hexadecimal/],
        [good.replace('TC3-HMAC-SHA256', 'HMAC-SHA256'), /unsupported Authorization scheme/],
      ];
      for (const [authorization, msg] of cases) {
        rejects(() => auth(withHeaders(req, { authorization })), 'AuthFailure.InvalidAuthorization', msg);
      }
    });

    it('rejects SignedHeaders without host or without content-type', () => {
      const req = tc3Request();
      const good = req.headers.authorization ?? '';
      for (const sh of ['content-type', 'host', 'content-type;x-tc-action']) {
        const authorization = good.replace('SignedHeaders=content-type;host', `SignedHeaders=${sh}`);
        rejects(() => auth(withHeaders(req, { authorization })), 'AuthFailure.InvalidAuthorization', /SignedHeaders must include content-type and host/);
      }
    });

    it('rejects an unknown SecretId', () => {
      rejects(() => auth(tc3Request({ secretId: 'AKIDnobody' })), 'AuthFailure.SecretIdNotFound', /AKIDnobody/);
    });

    it('rejects a tampered body', () => {
      const req = tc3Request();
      const body = Buffer.from(req.body.toString().replace('job-97zcl3wt', 'job-97zcl3wu'));
      rejects(() => auth({ ...req, body }), 'AuthFailure.SignatureFailure', /signature does not match/);
    });

    it('rejects a tampered Content-Type header', () => {
      const req = tc3Request();
      rejects(() => auth(withHeaders(req, { 'content-type': 'application/json; charset=utf-8' })), 'AuthFailure.SignatureFailure');
      rejects(() => auth(withHeaders(req, { 'content-type': 'application/x-www-form-urlencoded' })), 'AuthFailure.SignatureFailure');
    });

    it('rejects a tampered query', () => {
      const req = tc3Request({ method: 'GET' });
      rejects(() => auth({ ...req, rawQuery: req.rawQuery.replace('Limit=100', 'Limit=1000') }), 'AuthFailure.SignatureFailure', /query/);
    });

    it('rejects a tampered method, Host and X-TC-Timestamp', () => {
      const get = tc3Request({ method: 'GET' });
      rejects(() => auth({ ...get, method: 'POST' }), 'AuthFailure.SignatureFailure');
      rejects(() => auth(withHeaders(tc3Request(), { host: '10.0.0.1:18080' })), 'AuthFailure.SignatureFailure');
      rejects(() => auth(withHeaders(tc3Request(), { 'x-tc-timestamp': String(NOW + 1) })), 'AuthFailure.SignatureFailure');
    });

    it("rejects a signature made with another account's key (and does not reveal the expected one)", () => {
      const req = tc3Request({ secretKey: OTHER_KEY });
      const expected = /Signature=([0-9a-f]{64})/.exec(tc3Request().headers.authorization ?? '')?.[1] ?? '';
      expect(expected).toHaveLength(64);
      const err = rejects(() => auth(req), 'AuthFailure.SignatureFailure', /AKIDtestSecretId/);
      expect(err.message).not.toContain(expected);
    });

    it('rejects a timestamp 301 s in the past or the future, naming both times', () => {
      rejects(() => auth(tc3Request({ timestamp: NOW - 301 })), 'AuthFailure.SignatureExpire', new RegExp(`${NOW - 301}.*301 s behind.*${NOW}`));
      rejects(() => auth(tc3Request({ timestamp: NOW + 301 })), 'AuthFailure.SignatureExpire', new RegExp(`${NOW + 301}.*301 s ahead of.*${NOW}`));
    });

    it('rejects a missing or non-integer X-TC-Timestamp', () => {
      const req = tc3Request();
      rejects(() => auth(withHeaders(req, { 'x-tc-timestamp': undefined })), 'MissingParameter', /X-TC-Timestamp/);
      rejects(() => auth(withHeaders(req, { 'x-tc-timestamp': '1795877959.5' })), 'InvalidParameter', /X-TC-Timestamp/);
      rejects(() => auth(withHeaders(req, { 'x-tc-timestamp': 'now' })), 'InvalidParameter', /X-TC-Timestamp/);
    });

    it('rejects a credential scope date that is not the UTC date of the timestamp', () => {
      const midnight = Date.UTC(2026, 10, 29) / 1000;
      const req = tc3Request({ timestamp: midnight + 10 }); // scope 2026-11-29
      const shifted = withHeaders(req, { 'x-tc-timestamp': String(midnight - 10) }); // 2026-11-28
      rejects(() => auth(shifted, midnight * 1000), 'AuthFailure.SignatureFailure', /2026-11-29.*not the UTC date.*2026-11-28/);
    });

    it('rejects repeated flat parameter names (GET query and POST form)', () => {
      const get = tc3Request({ method: 'GET', rawQuery: 'JobId=job-1&Limit=1&Limit=2' });
      rejects(() => auth(get), 'InvalidParameter', /"Limit" is given more than once/);
      const body = Buffer.from('JobIds.0=job-a&JobIds.0=job-b');
      const post = tc3Request({ contentType: 'application/x-www-form-urlencoded', body });
      rejects(() => auth(post), 'InvalidParameter', /"JobIds.0"/);
    });

    it('rejects unsupported POST content types and HTTP methods', () => {
      const body = Buffer.from('hello');
      rejects(() => auth(tc3Request({ contentType: 'text/plain', body })), 'InvalidParameter', /text\/plain/);
      rejects(() => auth({ ...tc3Request(), method: 'PUT' }), 'UnsupportedProtocol', /PUT/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// v1

describe('legacy v1 signature', () => {
  for (const signMethod of ['HmacSHA1', 'HmacSHA256'] as const) {
    for (const method of ['GET', 'POST'] as const) {
      it(`accepts ${signMethod} over ${method === 'GET' ? 'a GET query' : 'a POST form'} (host with port)`, async () => {
        const req = await v1Request({ method, signMethod });
        const params = new URLSearchParams(method === 'GET' ? req.rawQuery : req.body.toString());
        expect(params.get('SignatureMethod')).toBe(signMethod);
        expect(params.get('Signature')).toBeTruthy();
        const r = auth(req);
        expect(r).toEqual({
          style: 'V1',
          accountId: ACCOUNT,
          secretId: SECRET_ID,
          action: 'DescribeTask',
          version: VERSION,
          region: REGION,
          language: undefined,
          paramsKind: 'flat',
          flatParams: DESCRIBE_TASK_FLAT,
          replayKey: `${SECRET_ID}\n${new URLSearchParams(req.method === 'GET' ? req.rawQuery : req.body.toString()).get('Signature')}`,
        });
      });
    }
  }

  it('treats a missing SignatureMethod as HmacSHA1', async () => {
    const req = await v1Request({ signMethod: 'HmacSHA1', edit: (p) => void delete p.SignatureMethod });
    expect(req.body.toString()).not.toContain('SignatureMethod');
    expect(auth(req).style).toBe('V1');
  });

  it('accepts a signature over the host without port as a fallback', async () => {
    const req = await v1Request({ endpoint: '127.0.0.1', host: HOST });
    expect(auth(req).style).toBe('V1');
  });

  it('decodes + as a space in form bodies', async () => {
    const data = { Job: { JobName: 'a b', Tasks: [{ Application: { Command: 'echo hello' } }] } };
    const req = await v1Request({ data, action: 'SubmitJob' });
    const body = Buffer.from(req.body.toString().replace(/%20/g, '+'));
    expect(body.toString()).toContain('echo+hello');
    const r = auth({ ...req, body });
    expect(r.action).toBe('SubmitJob');
    expect(r.flatParams.get('Job.Tasks.0.Application.Command')).toBe('echo hello');
  });

  it('reads Language', async () => {
    const req = await v1Request({ edit: (p) => void (p.Language = 'en-US') });
    expect(auth(req).language).toBe('en-US');
  });

  describe('rejections', () => {
    it('rejects an unknown SignatureMethod', async () => {
      const req = await v1Request({ edit: (p) => void (p.SignatureMethod = 'HmacMD5') });
      rejects(() => auth(req), 'InvalidParameterValue', /SignatureMethod.*HmacMD5/);
    });

    for (const name of ['SecretId', 'Timestamp', 'Nonce'] as const) {
      it(`rejects a missing ${name}`, async () => {
        const req = await v1Request({ edit: (p) => void delete p[name] });
        rejects(() => auth(req), 'MissingParameter', new RegExp(name));
      });
    }

    it('rejects a non-integer Timestamp or Nonce', async () => {
      const ts = await v1Request({ edit: (p) => void (p.Timestamp = 'x') });
      rejects(() => auth(ts), 'InvalidParameter', /Timestamp/);
      const nonce = await v1Request({ edit: (p) => void (p.Nonce = '-1') });
      rejects(() => auth(nonce), 'InvalidParameter', /Nonce/);
    });

    it('rejects a missing Signature in a GET that otherwise looks v1', async () => {
      const req = await v1Request({ method: 'GET' });
      const rawQuery = req.rawQuery.replace(/&Signature=[^&]*/, '');
      rejects(() => auth({ ...req, rawQuery }), 'AuthFailure.InvalidAuthorization', /no Signature parameter/);
      const empty = req.rawQuery.replace(/&Signature=[^&]*/, '&Signature=');
      rejects(() => auth({ ...req, rawQuery: empty }), 'MissingParameter', /Signature/);
    });

    it('rejects an unknown SecretId', async () => {
      const req = await v1Request({ secretId: 'AKIDnobody' });
      rejects(() => auth(req), 'AuthFailure.SecretIdNotFound', /AKIDnobody/);
    });

    it('rejects a tampered parameter (query and form)', async () => {
      const get = await v1Request({ method: 'GET' });
      rejects(() => auth({ ...get, rawQuery: get.rawQuery.replace('Limit=100', 'Limit=101') }), 'AuthFailure.SignatureFailure', /does not match/);
      const post = await v1Request({ method: 'POST' });
      rejects(() => auth({ ...post, body: Buffer.from(post.body.toString().replace('TaskName=A', 'TaskName=B')) }), 'AuthFailure.SignatureFailure');
      rejects(() => auth({ ...post, method: 'GET', rawQuery: post.body.toString(), body: Buffer.alloc(0) }), 'AuthFailure.SignatureFailure');
      rejects(() => auth(withHeaders(post, { host: '127.0.0.1:18081' })), 'AuthFailure.SignatureFailure');
    });

    it("rejects a signature made with another account's key", async () => {
      const req = await v1Request({ secretKey: OTHER_KEY });
      rejects(() => auth(req), 'AuthFailure.SignatureFailure');
    });

    it('rejects a timestamp more than 300 s away and accepts 299 s', async () => {
      const past = await v1Request({ timestamp: NOW - 301 });
      const future = await v1Request({ timestamp: NOW + 301 });
      rejects(() => auth(past), 'AuthFailure.SignatureExpire', /Timestamp/);
      rejects(() => auth(future), 'AuthFailure.SignatureExpire', /Timestamp/);
      expect(auth(await v1Request({ timestamp: NOW - 299 })).style).toBe('V1');
      expect(auth(await v1Request({ timestamp: NOW + 299 })).style).toBe('V1');
    });

    it('rejects repeated parameter names', async () => {
      const req = await v1Request({ method: 'GET' });
      rejects(() => auth({ ...req, rawQuery: `${req.rawQuery}&Limit=5` }), 'InvalidParameter', /"Limit" is given more than once/);
    });

    it('rejects a replay within the window and accepts it again after the window', async () => {
      const replay = new ReplayCache(60_000);
      const req = await v1Request();
      expect(auth(req, NOW_MS, replay).style).toBe('V1');
      rejects(() => auth(req, NOW_MS + 1_000, replay), 'AuthFailure.SignatureFailure', /replay/);
      rejects(() => auth(req, NOW_MS + 59_999, replay), 'AuthFailure.SignatureFailure', /replay/);
      expect(auth(req, NOW_MS + 60_000, replay).style).toBe('V1');
      rejects(() => auth(req, NOW_MS + 61_000, replay), 'AuthFailure.SignatureFailure', /replay/);
    });

    it('does not reject distinct requests that share a Nonce, nor record unverified ones', async () => {
      const replay = new ReplayCache(60_000);
      const a = await v1Request({ nonce: 4242 });
      const b = await v1Request({ nonce: 4242, data: { JobId: 'job-other' } });
      expect(new URLSearchParams(a.body.toString()).get('Nonce')).toBe('4242');
      expect(new URLSearchParams(b.body.toString()).get('Nonce')).toBe('4242');
      expect(auth(a, NOW_MS, replay).style).toBe('V1');
      expect(auth(b, NOW_MS, replay).style).toBe('V1');
      // a failed verification is not remembered
      const c = await v1Request({ nonce: 7 });
      rejects(() => auth(withHeaders(c, { host: 'evil:1' }), NOW_MS, replay), 'AuthFailure.SignatureFailure', /does not match/);
      expect(auth(c, NOW_MS, replay).style).toBe('V1');
    });
  });
});

describe('replay memory (MemoryLimits.firstUse)', () => {
  it('evicts entries older than the window (bounded memory)', () => {
    const c = new MemoryLimits();
    for (let i = 0; i < 100; i++) c.firstUse(`k${i}`, i, 1_000);
    expect(c.keyCount).toBe(100);
    expect(c.firstUse('k0', 999, 1_000)).toBe(false);
    expect(c.firstUse('k1', 1_001, 1_000)).toBe(true);
    expect(c.keyCount).toBe(99);
    c.firstUse('late', 5_000, 1_000);
    expect(c.keyCount).toBe(1);
  });

  it('honours a hard cap on entries', () => {
    const c = new MemoryLimits(10);
    for (let i = 0; i < 25; i++) c.firstUse(`k${i}`, i, 1_000_000);
    expect(c.keyCount).toBe(10);
    expect(c.firstUse('k24', 30, 1_000_000)).toBe(false);
    expect(c.firstUse('k0', 30, 1_000_000)).toBe(true);
  });
});


// ---------------------------------------------------------------------------------------------
// end to end: the official SDK client against a plain http server that calls authenticate()

interface BatchClient {
  DescribeTask(req: unknown): Promise<{ RequestId: string }>;
  SubmitJob(req: unknown): Promise<{ RequestId: string }>;
}
type BatchClientCtor = new (config: unknown) => BatchClient;

describe('end to end with the official SDK client', () => {
  const { batch } = require('tencentcloud-sdk-nodejs') as { batch: { v20170312: { Client: BatchClientCtor } } };
  const replay = new ReplayCache(600_000);
  const seen: Array<{ result?: AuthResult; error?: ApiError }> = [];
  let port = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const incoming: IncomingRequest = {
        method: (req.method ?? '').toUpperCase(),
        path: q === -1 ? url : url.slice(0, q),
        rawQuery: q === -1 ? '' : url.slice(q + 1),
        headers: req.headers as Record<string, string | undefined>,
        body: Buffer.concat(chunks),
      };
      let response: unknown;
      try {
        const now = Date.now();
        const result = replay.check(authenticate(incoming, lookup, now, { maxSkewSeconds: 300 }), now);
        seen.push({ result });
        response = { RequestId: 'x' };
      } catch (e) {
        const error = e instanceof ApiError ? e : new ApiError('InternalError', String(e));
        seen.push({ error });
        response = { Error: { Code: error.code, Message: error.message }, RequestId: 'x' };
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-TC-TraceId': String(req.headers['x-tc-traceid'] ?? '') });
      res.end(JSON.stringify({ Response: response }));
    });
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const modes = [
    { signMethod: 'TC3-HMAC-SHA256', reqMethod: 'POST', style: 'TC3', kind: 'json' },
    { signMethod: 'TC3-HMAC-SHA256', reqMethod: 'GET', style: 'TC3', kind: 'flat' },
    { signMethod: 'HmacSHA1', reqMethod: 'POST', style: 'V1', kind: 'flat' },
    { signMethod: 'HmacSHA1', reqMethod: 'GET', style: 'V1', kind: 'flat' },
    { signMethod: 'HmacSHA256', reqMethod: 'POST', style: 'V1', kind: 'flat' },
    { signMethod: 'HmacSHA256', reqMethod: 'GET', style: 'V1', kind: 'flat' },
  ] as const;

  for (const m of modes) {
    it(`verifies ${m.signMethod} ${m.reqMethod} requests sent by the SDK`, async () => {
      const client = new batch.v20170312.Client({
        credential: { secretId: SECRET_ID, secretKey: SECRET_KEY },
        region: REGION,
        profile: {
          signMethod: m.signMethod,
          httpProfile: { endpoint: `127.0.0.1:${port}`, protocol: 'http://', reqMethod: m.reqMethod, reqTimeout: 10 },
        },
      });
      seen.length = 0;
      await expect(client.DescribeTask(DESCRIBE_TASK)).resolves.toEqual({ RequestId: 'x' });
      await expect(
        client.SubmitJob({
          Placement: { Zone: 'ap-guangzhou-2' },
          Job: { JobName: 'demo job', Tasks: [{ TaskName: 'A', Application: { DeliveryForm: 'LOCAL', Command: 'echo hello && exit 0' } }] },
        }),
      ).resolves.toEqual({ RequestId: 'x' });
      expect(seen.map((s) => s.error?.message)).toEqual([undefined, undefined]);
      const [describe, submit] = seen.map((s) => s.result);
      expect(describe).toMatchObject({ style: m.style, accountId: ACCOUNT, action: 'DescribeTask', version: VERSION, region: REGION, paramsKind: m.kind });
      expect(submit).toMatchObject({ style: m.style, action: 'SubmitJob', paramsKind: m.kind });
      if (m.kind === 'flat') {
        expect(describe?.flatParams).toEqual(DESCRIBE_TASK_FLAT);
        expect(submit?.flatParams.get('Job.Tasks.0.Application.Command')).toBe('echo hello && exit 0');
        expect(submit?.flatParams.get('Job.JobName')).toBe('demo job');
      }
    });
  }

  it('surfaces a rejection to the SDK as an error code (wrong key)', async () => {
    const client = new batch.v20170312.Client({
      credential: { secretId: SECRET_ID, secretKey: 'not-the-key' },
      region: REGION,
      profile: { httpProfile: { endpoint: `127.0.0.1:${port}`, protocol: 'http://', reqTimeout: 10 } },
    });
    await expect(client.DescribeTask(DESCRIBE_TASK)).rejects.toMatchObject({ code: 'AuthFailure.SignatureFailure' });
  });
});
