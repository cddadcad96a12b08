// Hostile input at CI scale (npm run fuzz runs 100,000+): 0 crashes, 0 HTTP 5xx, every answer in the
// Tencent envelope with a known code, no InternalError, the server still serving afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz } from '../../fuzz/fuzzer.ts';
import { SECRET_ID, SECRET_KEY, startServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.stop();
});

describe('fuzz', () => {
  it('answers 3,000 generated hostile requests in the envelope without a 5xx or InternalError', async () => {
    const report = await fuzz({ port: srv.port, secretId: SECRET_ID, secretKey: SECRET_KEY }, 3000, 20261128);
    expect(report.problems).toEqual([]);
    expect(report.sent).toBe(3000);
    expect(Object.keys(report.codes).length).toBeGreaterThan(8);
    // still alive and correct
    const r = await srv.client().DescribeJobs!({});
    expect(r.TotalCount).toBeGreaterThanOrEqual(0);
    expect(srv.proc.exitCode).toBeNull();
  }, 240_000);
});
