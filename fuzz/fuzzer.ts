// Hostile-input fuzzer: generated requests (fast-check) sent to a real server over raw HTTP —
// signed requests with random JSON shapes for every action, flattened parameters, deep nesting, huge
// numbers and strings, invalid UTF-8, duplicate keys, wrong content types, truncated and oversized
// bodies, unsigned and garbage requests. Every answer must be HTTP 200 (404 for other paths) in the
// Tencent envelope with a known error code; the server must stay up.
import http from 'node:http';
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { ACTION_NAMES } from '../src/api/models.ts';
import { ERROR_CODES } from '../src/domain/errors.ts';

export interface FuzzTarget {
  port: number;
  secretId: string;
  secretKey: string;
}

export interface FuzzReport {
  sent: number;
  byStatus: Record<string, number>;
  codes: Record<string, number>;
  problems: string[];
}

const KNOWN = new Set<string>(ERROR_CODES);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function tc3(t: FuzzTarget, action: string, body: Buffer, contentType = 'application/json'): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  const date = new Date(ts * 1000).toISOString().slice(0, 10);
  const canonical = ['POST', '/', '', `content-type:${contentType}\nhost:127.0.0.1\n`, 'content-type;host',
    createHash('sha256').update(body).digest('hex')].join('\n');
  const sts = ['TC3-HMAC-SHA256', ts, `${date}/batch/tc3_request`, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const k = createHmac('sha256', createHmac('sha256', createHmac('sha256', `TC3${t.secretKey}`).update(date).digest()).update('batch').digest()).update('tc3_request').digest();
  const sig = createHmac('sha256', k).update(sts).digest('hex');
  return {
    'content-type': contentType,
    authorization: `TC3-HMAC-SHA256 Credential=${t.secretId}/${date}/batch/tc3_request, SignedHeaders=content-type;host, Signature=${sig}`,
    'x-tc-action': action, 'x-tc-version': '2017-03-12', 'x-tc-region': 'ap-guangzhou', 'x-tc-timestamp': String(ts),
  };
}

interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Send fewer bytes than Content-Length says (a truncated body). */
  truncate?: boolean;
}

function send(port: number, r: RawRequest): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders } | { error: string }> {
  return new Promise((resolve) => {
    const headers = { ...r.headers, 'content-length': String(r.body.length) };
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    req.on('timeout', () => {
      req.destroy();
      resolve({ error: 'timeout' });
    });
    if (r.truncate) {
      req.write(r.body.subarray(0, Math.floor(r.body.length / 2)));
      setTimeout(() => req.destroy(), 50); // the client gives up half-way
      resolve({ status: -1, body: '', headers: {} });
    } else {
      req.end(r.body);
    }
  });
}

const action = fc.oneof(fc.constantFrom(...ACTION_NAMES), fc.string({ maxLength: 30 }));
const weirdString = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.constantFrom("' OR 1=1 --", '../../etc/passwd', 'cos://b/../x', '$(rm -rf /)', '\u0000', 'job-00000000', 'A'.repeat(5000)),
);
const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' },
    weirdString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.bigInt().map((b) => Number(b)),
    fc.constantFrom(1e308, -1e308, 2 ** 63, 9007199254740993, -0),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(weirdString, fc.constantFrom('JobId', 'TaskName', 'Job', 'Tasks', 'Filters', 'Offset', 'Limit', 'Placement', 'EnvId')), tie('value'), { maxKeys: 6 })),
})).value;

/** A generated request (one of several families of mistakes). */
export const requests: fc.Arbitrary<(t: FuzzTarget) => RawRequest> = fc.oneof(
  // signed JSON with random shapes for real and fake actions
  fc.tuple(action, jsonish).map(([a, v]) => (t: FuzzTarget) => {
    const body = Buffer.from(JSON.stringify(v) ?? 'null');
    return { method: 'POST', path: '/', headers: tc3(t, a, body), body };
  }),
  // signed, but the body is broken: invalid UTF-8, truncated JSON, duplicate keys, deep nesting
  fc.tuple(action, fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.constant(Buffer.from('{"JobId": "job-12345678", "JobId": 7}')),
    fc.integer({ min: 1, max: 100_000 }).map((d) => Buffer.from('['.repeat(d) + ']'.repeat(d))),
    fc.integer({ min: 1, max: 50_000 }).map((d) => Buffer.from('{"a":'.repeat(d) + '1' + '}'.repeat(d))),
    fc.constant(Buffer.from('{"Limit": 1e999999}')),
    fc.constant(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])),
    fc.string({ maxLength: 100 }).map((s) => Buffer.from(`{"JobId":"${s}`)),
  )).map(([a, body]) => (t: FuzzTarget) => ({ method: 'POST', path: '/', headers: tc3(t, a, body), body })),
  // signed flattened form with random names and values
  fc.tuple(action, fc.array(fc.tuple(fc.oneof(weirdString, fc.constantFrom('Filters.0.Name', 'Filters.1.Values.0', 'JobIds.5', 'Job.Tasks.0.TaskInstanceNum', 'Offset', 'Limit')), weirdString), { maxLength: 8 }))
    .map(([a, pairs]) => (t: FuzzTarget) => {
      const body = Buffer.from(pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));
      return { method: 'POST', path: '/', headers: tc3(t, a, body, 'application/x-www-form-urlencoded'), body };
    }),
  // unsigned garbage: methods, paths, content types, headers
  fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
    path: fc.constantFrom('/', '/?Action=DescribeJobs&Version=2017-03-12', '/?Signature=x&SecretId=y&Timestamp=1&Nonce=2', '/healthz', '/x', '/%00', '/?a=%zz'),
    contentType: fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', ''),
    authorization: fc.oneof(fc.constant(''), fc.constant('SKIP'), fc.string({ maxLength: 200 }), fc.constant('TC3-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=zz')),
    body: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    truncate: fc.boolean(),
  }).map((r) => () => {
    const headers: Record<string, string> = {};
    if (r.contentType) headers['content-type'] = r.contentType;
    if (r.authorization) headers.authorization = r.authorization;
    return { method: r.method, path: r.path, headers, body: r.method === 'GET' ? Buffer.alloc(0) : r.body, truncate: r.truncate && r.method !== 'GET' };
  }),
);

/** Check one answer; returns a problem description or undefined. */
function check(req: RawRequest, res: { status: number; body: string } | { error: string }, report: FuzzReport): string | undefined {
  if ('error' in res) return `${req.method} ${req.path}: transport error ${res.error}`;
  report.byStatus[res.status] = (report.byStatus[res.status] ?? 0) + 1;
  if (res.status === -1) return undefined; // we hung up on purpose
  if (req.path.startsWith('/healthz') && (req.method === 'GET')) return res.status === 200 ? undefined : `GET /healthz answered ${res.status}`;
  if (res.status >= 500) return `HTTP ${res.status} for ${req.method} ${req.path} ${req.headers['x-tc-action'] ?? ''}: ${res.body.slice(0, 200)}`;
  if (res.status !== 200 && res.status !== 404) return `HTTP ${res.status} for ${req.method} ${req.path}`;
  let j: { Response?: { RequestId?: unknown; Error?: { Code?: unknown; Message?: unknown } } };
  try {
    j = JSON.parse(res.body);
  } catch {
    return `not JSON: ${res.body.slice(0, 200)}`;
  }
  const r = j.Response;
  if (!r || typeof r.RequestId !== 'string') return `outside the envelope: ${res.body.slice(0, 200)}`;
  if (r.Error) {
    const code = String(r.Error.Code);
    report.codes[code] = (report.codes[code] ?? 0) + 1;
    if (!KNOWN.has(code)) return `unknown error code ${code}`;
    if (code === 'InternalError') return `InternalError for ${req.headers['x-tc-action'] ?? req.path}: ${res.body.slice(0, 300)}`;
  } else {
    report.codes.OK = (report.codes.OK ?? 0) + 1;
  }
  return undefined;
}

export async function fuzz(t: FuzzTarget, count: number, seed: number, concurrency = 8): Promise<FuzzReport> {
  const report: FuzzReport = { sent: 0, byStatus: {}, codes: {}, problems: [] };
  const gens = fc.sample(requests, { numRuns: count, seed });
  let next = 0;
  const worker = async () => {
    while (next < gens.length) {
      const req = gens[next++]!(t);
      const res = await send(t.port, req);
      report.sent++;
      const p = check(req, res, report);
      if (p && report.problems.length < 50) report.problems.push(p);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return report;
}
