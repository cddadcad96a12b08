// The console's parts that run without a browser: its TC3 signer (console/src/tc3.ts, @noble/hashes)
// checked by the server's own authenticate(), the DAG's layering, and the console
// route (bundled in memory, ETag and 304, CSP) through Fastify's inject().
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/api/auth.ts';
import { CONSOLE_DIR, registerConsoleRoute } from '../../src/api/console-route.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { authorization, CONTENT_TYPE } from '../../console/src/tc3.ts';
import { layers } from '../../console/src/dag.ts';

describe('console/src/tc3.ts', () => {
  const lookup = (id: string) => (id === 'AKIDconsole' ? { secretKey: 'console-secret-key', accountId: '100' } : undefined);
  const signed = async (key: string, body: string, ts: number) => ({
    method: 'POST', path: '/', rawQuery: '', body: Buffer.from(body),
    headers: {
      host: '127.0.0.1:9000', 'content-type': CONTENT_TYPE, 'x-tc-action': 'DescribeJobs', 'x-tc-version': '2017-03-12',
      'x-tc-timestamp': String(ts), 'x-tc-region': 'ap-guangzhou',
      authorization: await authorization({ secretId: 'AKIDconsole', secretKey: key, host: '127.0.0.1:9000', body, timestamp: ts }),
    },
  });

  it('signs as the server checks: a right key passes, a wrong key or a changed body does not', async () => {
    const ts = 1_790_000_000;
    const opts = { maxSkewSeconds: 300 };
    const ok = authenticate(await signed('console-secret-key', '{"Limit":1}', ts), lookup, ts * 1000, opts);
    expect(ok).toMatchObject({ style: 'TC3', accountId: '100', action: 'DescribeJobs', region: 'ap-guangzhou', paramsKind: 'json' });
    const wrong = await signed('wrong', '{"Limit":1}', ts);
    expect(() => authenticate(wrong, lookup, ts * 1000, opts)).toThrow(expect.objectContaining({ code: 'AuthFailure.SignatureFailure' }));
    const changed = await signed('console-secret-key', '{"Limit":1}', ts);
    changed.body = Buffer.from('{"Limit":2}');
    expect(() => authenticate(changed, lookup, ts * 1000, opts)).toThrow(expect.objectContaining({ code: 'AuthFailure.SignatureFailure' }));
  });

  it('puts the UTC date of the timestamp in the credential scope', async () => {
    const a = await authorization({ secretId: 'AKIDconsole', secretKey: 'k', host: 'h', body: '{}', timestamp: Date.UTC(2026, 11, 3, 23, 59, 59) / 1000 });
    expect(a).toMatch(/^TC3-HMAC-SHA256 Credential=AKIDconsole\/2026-12-03\/batch\/tc3_request, SignedHeaders=content-type;host, Signature=[0-9a-f]{64}$/);
  });
});

describe('console/src/dag.ts layers', () => {
  it('places each task one layer after its deepest dependence, tasks without dependences first', () => {
    const e = (a: string, b: string) => ({ StartTask: a, EndTask: b });
    expect(layers(['A', 'B', 'C', 'D', 'E'], [e('A', 'B'), e('B', 'D'), e('A', 'D'), e('C', 'D')])).toEqual([['A', 'C', 'E'], ['B'], ['D']]);
    expect(layers(['X'], [])).toEqual([['X']]);
  });
});

describe('the console route', () => {
  const app = Fastify();
  registerConsoleRoute(app, createLogger('silent'));
  afterAll(() => app.close());

  it('serves index.html with a CSP, and app.js and app.css bundled and minified, with ETags', async () => {
    const html = await app.inject({ method: 'GET', url: '/console/' });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.headers['content-security-policy']).toContain("script-src 'self'");
    expect(html.body).toContain('<script defer src="app.js"></script>');
    const js = await app.inject({ method: 'GET', url: '/console/app.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain('TC3-HMAC-SHA256');
    expect(js.body).not.toMatch(/^import /m); // one bundle, no module imports left
    // minified: the sources' comments are gone and it is a few long lines
    const lines = fs.readdirSync(path.join(CONSOLE_DIR, 'src')).filter((f) => f.endsWith('.ts'))
      .reduce((n, f) => n + fs.readFileSync(path.join(CONSOLE_DIR, 'src', f), 'utf8').split('\n').length, 0);
    expect(js.body).not.toContain('exactly as the official SDK signs');
    expect(js.body.split('\n').length).toBeLessThan(lines / 20);
    const css = await app.inject({ method: 'GET', url: '/console/app.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const again = await app.inject({ method: 'GET', url: '/console/app.js', headers: { 'if-none-match': String(js.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect((await app.inject({ method: 'GET', url: '/console' })).headers.location).toBe('/console/');
    // gzipped for a client that takes it: the same bytes, smaller, under an ETag of its own
    const gz = await app.inject({ method: 'GET', url: '/console/app.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('accept-encoding');
    expect(gz.rawPayload.length).toBeLessThan(js.rawPayload.length / 2);
    expect(gunzipSync(gz.rawPayload).equals(js.rawPayload)).toBe(true);
    expect(gz.headers.etag).not.toBe(js.headers.etag);
    const gzAgain = await app.inject({ method: 'GET', url: '/console/app.js', headers: { 'accept-encoding': 'gzip', 'if-none-match': String(gz.headers.etag) } });
    expect(gzAgain.statusCode).toBe(304);
    // the YAML parser is a bundle of its own, loaded by the submit page only: app.js stays small
    const yaml = await app.inject({ method: 'GET', url: '/console/yaml.js' });
    expect(yaml.statusCode).toBe(200);
    expect(yaml.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(yaml.body).toContain('OpenBatchYaml');
    expect(js.body).not.toContain('YAMLParseError');
    expect(js.body.length).toBeLessThan(yaml.body.length);
  });
});
