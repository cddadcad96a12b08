// Configuration precedence (flags > env > file > defaults) and validation.
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_LIMITS, defaultConfig, loadConfig } from '../../src/config/config.ts';

describe('loadConfig', () => {
  it('uses defaults when nothing is given', () => {
    const c = loadConfig({ env: {}, flags: {} });
    const d = defaultConfig();
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.rateLimits).toBe('intl');
    expect(c.defaultRegion).toBe('ap-guangzhou');
    expect(c.localSlots).toBe(d.localSlots);
    expect(c.limits).toEqual(DEFAULT_LIMITS);
    expect(c.defaultSecretId).toBeUndefined();
    expect(c.attemptNice).toBe(10);
    expect(loadConfig({ env: { OPENBATCH_ATTEMPT_NICE: '0' }, flags: {} }).attemptNice).toBe(0);
    expect(loadConfig({ env: {}, flags: { 'attempt-nice': '19' } }).attemptNice).toBe(19);
  });
  it('takes flags over env over file', () => {
    const file = { port: 1, host: '0.0.0.0', rateLimits: 'mainland', localSlots: 3 };
    expect(loadConfig({ env: {}, flags: {}, file }).port).toBe(1);
    expect(loadConfig({ env: { OPENBATCH_PORT: '2' }, flags: {}, file }).port).toBe(2);
    const all = loadConfig({ env: { OPENBATCH_PORT: '2', OPENBATCH_SLOTS: '5' }, flags: { port: '3', 'rate-limits': 'off' }, file });
    expect(all.port).toBe(3);
    expect(all.rateLimits).toBe('off');
    expect(all.localSlots).toBe(5);
    expect(all.host).toBe('0.0.0.0');
  });
  it('reads accounts, limits and the default key pair', () => {
    const c = loadConfig({
      env: { OPENBATCH_SECRET_ID: 'AKIDx', OPENBATCH_SECRET_KEY: 'k' },
      flags: {},
      file: { accounts: [{ id: 'b', secretId: 'AKIDb', secretKey: 'kb' }], limits: { maxTasksPerJob: 5 } },
    });
    expect(c.defaultSecretId).toBe('AKIDx');
    expect(c.accounts).toEqual([{ id: 'b', secretId: 'AKIDb', secretKey: 'kb' }]);
    expect(c.limits.maxTasksPerJob).toBe(5);
    expect(c.limits.maxTaskInstanceNum).toBe(DEFAULT_LIMITS.maxTaskInstanceNum);
  });
  it('rejects bad values with a message naming the setting', () => {
    const bad = (inp: Parameters<typeof loadConfig>[0], re: RegExp) => expect(() => loadConfig(inp)).toThrow(re);
    bad({ env: {}, flags: { port: 'x' } }, /--port must be a non-negative integer/);
    bad({ env: { OPENBATCH_RATE_LIMITS: 'fast' }, flags: {} }, /OPENBATCH_RATE_LIMITS must be one of intl, mainland, off/);
    bad({ env: { OPENBATCH_SECRET_ID: 'a' }, flags: {} }, /must be set together/);
    bad({ env: {}, flags: {}, file: { accounts: [{ id: 'x' }] } }, /accounts\[0\]\.secretId/);
    bad({ env: {}, flags: {}, file: { limits: { nope: 1 } } }, /unknown limit/);
    bad({ env: {}, flags: { slots: '0' } }, /slots must be at least 1/);
    bad({ env: {}, flags: { 'attempt-nice': '20' } }, /attempt-nice must be between 0 and 19, got 20/);
    bad({ env: {}, flags: { 'attempt-nice': '-1' } }, /--attempt-nice must be a non-negative integer/);
    expect(() => loadConfig({ env: {}, flags: { port: '-1' } })).toThrow(ConfigError);
  });
});
