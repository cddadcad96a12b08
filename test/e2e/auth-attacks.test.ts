// Authentication attacks against a real server, each its own case: every one is rejected with the
// right AuthFailure code and nothing reaches an action (no job appears).
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_ID, SECRET_KEY, startServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.stop();
});

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const hmac = (k: string | Buffer, m: string) => createHmac('sha256', k).update(m).digest();

interface Tc3 {
  body: string;
  ts?: number;
  date?: string;
  key?: string;
  id?: string;
  signedHeaders?: string;
  host?: string;
  contentType?: string;
}

function tc3Headers(o: Tc3): Record<string, string> {
  const ts = o.ts ?? Math.floor(Date.now() / 1000);
  const date = o.date ?? new Date(ts * 1000).toISOString().slice(0, 10);
  const signed = o.signedHeaders ?? 'content-type;host';
  const ct = o.contentType ?? 'application/json';
  const headerLines = signed.split(';').map((h) => (h === 'host' ? `host:${o.host ?? '127.0.0.1'}\n` : `${h}:${ct}\n`)).join('');
  const canonical = ['POST', '/', '', headerLines, signed, sha(o.body)].join('\n');
  const sts = ['TC3-HMAC-SHA256', String(ts), `${date}/batch/tc3_request`, sha(canonical)].join('\n');
  const k = hmac(hmac(hmac(`TC3${o.key ?? SECRET_KEY}`, date), 'batch'), 'tc3_request');
  const sig = createHmac('sha256', k).update(sts).digest('hex');
  return {
    'content-type': ct,
    authorization: `TC3-HMAC-SHA256 Credential=${o.id ?? SECRET_ID}/${date}/batch/tc3_request, SignedHeaders=${signed}, Signature=${sig}`,
    'x-tc-action': 'SubmitJob', 'x-tc-version': '2017-03-12', 'x-tc-region': 'ap-guangzhou', 'x-tc-timestamp': String(ts),
  };
}

function post(path: string, headers: Record<string, string>, body: string): Promise<{ status: number; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path, headers }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode!, code: JSON.parse(data).Response?.Error?.Code }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const job = JSON.stringify({
  Placement: { Zone: 'ap-guangzhou-2' },
  Job: { JobName: 'attack', Tasks: [{ TaskName: 'A', Application: { DeliveryForm: 'LOCAL', Command: 'true' }, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } } }] },
});

function v1(params: Record<string, string>, key = SECRET_KEY): string {
  const all: Record<string, string> = {
    Action: 'DescribeJobs', Version: '2017-03-12', Region: 'ap-guangzhou', Timestamp: String(Math.floor(Date.now() / 1000)),
    Nonce: '4242', SecretId: SECRET_ID, SignatureMethod: 'HmacSHA256', ...params,
  };
  const str = Object.keys(all).sort().map((k) => `${k}=${all[k]}`).join('&');
  const sig = createHmac('sha256', key).update(`POST127.0.0.1:${srv.port}/?${str}`).digest('base64');
  return Object.entries({ ...all, Signature: sig }).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

describe('authentication attacks', () => {
  it('accepts the honest request (control)', async () => {
    const r = await post('/', tc3Headers({ body: job }), job);
    expect([r.status, r.code]).toEqual([200, undefined]);
  });

  it.each([
    ['a tampered body', () => ({ h: tc3Headers({ body: job }), body: job.replace('attack', 'attacx') }), 'AuthFailure.SignatureFailure'],
    ['a tampered content-type header', () => ({ h: { ...tc3Headers({ body: job }), 'content-type': 'application/json; charset=x' }, body: job }), 'AuthFailure.SignatureFailure'],
    ['a tampered query', () => ({ h: tc3Headers({ body: job }), body: job, path: '/?x=1' }), 'AuthFailure.SignatureFailure'],
    ["another account's key", () => ({ h: tc3Headers({ body: job, key: 'not-the-key' }), body: job }), 'AuthFailure.SignatureFailure'],
    ['a timestamp 301 s in the past', () => ({ h: tc3Headers({ body: job, ts: Math.floor(Date.now() / 1000) - 301 }), body: job }), 'AuthFailure.SignatureExpire'],
    // 305, not 301: the request may reach the server a second or more later on a loaded machine, which
    // brings a future timestamp closer to the 300 s window (a past one only goes further)
    ['a timestamp 305 s in the future', () => ({ h: tc3Headers({ body: job, ts: Math.floor(Date.now() / 1000) + 305 }), body: job }), 'AuthFailure.SignatureExpire'],
    ['a wrong date in the credential scope', () => ({ h: tc3Headers({ body: job, date: '2001-01-01' }), body: job }), 'AuthFailure.SignatureFailure'],
    ['SignedHeaders without host', () => ({ h: tc3Headers({ body: job, signedHeaders: 'content-type' }), body: job }), 'AuthFailure.InvalidAuthorization'],
    ['SignedHeaders without content-type', () => ({ h: tc3Headers({ body: job, signedHeaders: 'host' }), body: job }), 'AuthFailure.InvalidAuthorization'],
    ['an unknown SecretId', () => ({ h: tc3Headers({ body: job, id: 'AKIDnobodyhasthisid000' }), body: job }), 'AuthFailure.SecretIdNotFound'],
    ['no signature at all', () => ({ h: { 'content-type': 'application/json', 'x-tc-action': 'SubmitJob', 'x-tc-version': '2017-03-12' }, body: job }), 'AuthFailure.InvalidAuthorization'],
  ])('rejects %s', async (_name, make, code) => {
    const { h, body, path } = make() as { h: Record<string, string>; body: string; path?: string };
    const r = await post(path ?? '/', h, body);
    expect([r.status, r.code]).toEqual([200, code]);
  });

  it('rejects a replayed v1 request within the window', async () => {
    const form = v1({ Nonce: String(Math.floor(Math.random() * 1e9)) });
    const h = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await post('/', h, form)).code).toBeUndefined();
    expect((await post('/', h, form)).code).toBe('AuthFailure.SignatureFailure');
  });

  it('let none of the rejected requests reach SubmitJob', async () => {
    const r = await srv.client().DescribeJobs!({ Filters: [{ Name: 'job-name', Values: ['attack'] }] });
    expect(r.TotalCount).toBe(1); // only the honest control request
  });
});
