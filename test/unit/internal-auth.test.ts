// The signatures of requests between replicas (lib/internal-auth.ts) and the query of the internal log
// path (services/remote-logs.ts): what verifies, what is refused with 401 or 403, what a query may hold.
import { describe, expect, it } from 'vitest';
import { InternalKey, INTERNAL_WINDOW_S, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/lib/internal-auth.ts';
import { attemptLogPath, MAX_LOG_BYTES, parseAttemptLogQuery } from '../../src/services/remote-logs.ts';

const NOW = 1_767_225_600_000;
const PATH = '/internal/v1/attempt-log?job=job-abcdefgh&task=A&index=0&attempt=1&stream=stdout&tail=2048';

describe('InternalKey', () => {
  const key = new InternalKey('AKIDdeployment', 'the-secret-key');

  it('verifies what it signed, within the window either side of the receiver\'s clock', () => {
    expect(key.verify('GET', PATH, key.headers('GET', PATH, NOW), NOW)).toEqual({ ok: true });
    expect(key.verify('GET', PATH, key.headers('get', PATH, NOW), NOW)).toEqual({ ok: true });
    const w = INTERNAL_WINDOW_S * 1000;
    expect(key.verify('GET', PATH, key.headers('GET', PATH, NOW - w), NOW).ok).toBe(true);
    expect(key.verify('GET', PATH, key.headers('GET', PATH, NOW + w), NOW).ok).toBe(true);
    expect(key.verify('GET', PATH, key.headers('GET', PATH, NOW - w - 1000), NOW)).toMatchObject({ ok: false, status: 403 });
    expect(key.verify('GET', PATH, key.headers('GET', PATH, NOW + w + 1000), NOW)).toMatchObject({ ok: false, status: 403 });
  });

  it('refuses a request without its headers with 401, and a wrong or malformed one with 403', () => {
    const h = key.headers('GET', PATH, NOW);
    expect(key.verify('GET', PATH, {}, NOW)).toMatchObject({ ok: false, status: 401 });
    expect(key.verify('GET', PATH, { [TIMESTAMP_HEADER]: h[TIMESTAMP_HEADER] }, NOW)).toMatchObject({ ok: false, status: 401 });
    expect(key.verify('GET', PATH, { [SIGNATURE_HEADER]: h[SIGNATURE_HEADER] }, NOW)).toMatchObject({ ok: false, status: 401 });
    const wrong = (headers: Record<string, string | string[]>, method = 'GET', path = PATH) =>
      expect(key.verify(method, path, headers, NOW)).toMatchObject({ ok: false, status: 403 });
    wrong(h, 'POST');
    wrong(h, 'GET', PATH.replace('index=0', 'index=1'));
    wrong({ ...h, [TIMESTAMP_HEADER]: String(Number(h[TIMESTAMP_HEADER]) + 1) });
    wrong({ ...h, [SIGNATURE_HEADER]: h[SIGNATURE_HEADER]!.toUpperCase() });
    wrong({ ...h, [SIGNATURE_HEADER]: h[SIGNATURE_HEADER]!.slice(2) });
    wrong({ ...h, [SIGNATURE_HEADER]: [h[SIGNATURE_HEADER]!, h[SIGNATURE_HEADER]!] });
    wrong({ ...h, [TIMESTAMP_HEADER]: '-1' });
    wrong(new InternalKey('AKIDdeployment', 'another-secret-key').headers('GET', PATH, NOW));
    wrong(new InternalKey('AKIDanother', 'the-secret-key').headers('GET', PATH, NOW));
  });

  it('never shows its keys', () => {
    const shown = [JSON.stringify(key), JSON.stringify({ key }), String(key), JSON.stringify(key.verify('GET', PATH, {}, NOW))].join(' ');
    expect(shown).not.toContain('the-secret-key');
    // no enumerable field holds a key (the derived key is a private field)
    expect(Object.keys(key)).toEqual([]);
  });
});

describe('the query of the internal log path', () => {
  const id = { jobId: 'job-abcdefgh', taskName: 'task_1-x', index: 7, attempt: 2 };

  it('reads back what attemptLogPath wrote', () => {
    for (const range of [{ tail: 2048 }, { tail: 0 }, { start: 10, end: 20 }, { start: 0, end: MAX_LOG_BYTES }]) {
      const p = attemptLogPath({ id, stream: 'stderr', range });
      expect(p.startsWith('/internal/v1/attempt-log?')).toBe(true);
      expect(parseAttemptLogQuery(p.slice(p.indexOf('?') + 1))).toEqual({ id, stream: 'stderr', range });
    }
  });

  it('refuses names that are not ids, bad numbers, unknown or repeated parameters and oversized ranges', () => {
    const base = 'job=job-abcdefgh&task=A&index=0&attempt=1&stream=stdout';
    for (const q of [
      '', base, `${base}&tail=1&start=0&end=1`, `${base}&start=5`, `${base}&start=5&end=4`, `${base}&start=0&end=${MAX_LOG_BYTES + 1}`,
      `${base}&tail=${MAX_LOG_BYTES + 1}`, `${base}&tail=-1`, `${base}&tail=1.5`, `${base}&tail=01`, `${base}&tail=1&tail=2`, `${base}&tail=1&x=1`,
      base.replace('job-abcdefgh', '..%2F..%2Fetc') + '&tail=1', base.replace('task=A', 'task=..') + '&tail=1',
      base.replace('task=A', 'task=a%2Fb') + '&tail=1', base.replace('attempt=1', 'attempt=0') + '&tail=1',
      base.replace('stream=stdout', 'stream=stdin') + '&tail=1', base.replace('index=0', 'index=') + '&tail=1',
    ]) {
      expect(parseAttemptLogQuery(q), q).toHaveProperty('error');
    }
  });
});
