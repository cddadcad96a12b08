// Configuration precedence (flags > env > file > defaults) and validation.
import path from 'node:path';
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

describe('loadConfig: --metrics', () => {
  it('is on by default and taken from flag > env > file, as on/off (the file also takes true/false)', () => {
    expect(loadConfig({ env: {}, flags: {} }).metrics).toBe(true);
    expect(loadConfig({ env: {}, flags: { metrics: 'off' } }).metrics).toBe(false);
    expect(loadConfig({ env: { OPENBATCH_METRICS: 'off' }, flags: {} }).metrics).toBe(false);
    expect(loadConfig({ env: { OPENBATCH_METRICS: 'off' }, flags: { metrics: 'on' } }).metrics).toBe(true);
    expect(loadConfig({ env: { OPENBATCH_METRICS: '' }, flags: {}, file: { metrics: false } }).metrics).toBe(false);
    expect(loadConfig({ env: {}, flags: {}, file: { metrics: 'off' } }).metrics).toBe(false);
    expect(loadConfig({ env: { OPENBATCH_METRICS: 'on' }, flags: {}, file: { metrics: false } }).metrics).toBe(true);
    expect(loadConfig({ env: {}, flags: {}, file: { metrics: true } }).metrics).toBe(true);
  });
  it('refuses anything else, naming the setting', () => {
    expect(() => loadConfig({ env: {}, flags: { metrics: 'yes' } })).toThrow(/--metrics must be on or off, got "yes"/);
    expect(() => loadConfig({ env: { OPENBATCH_METRICS: 'true' }, flags: {} })).toThrow(/OPENBATCH_METRICS must be on or off/);
    expect(() => loadConfig({ env: {}, flags: {}, file: { metrics: 1 } })).toThrow(/config file "metrics" must be on or off \(or true or false\), got 1/);
  });
});

describe('loadConfig: --advertise-url', () => {
  it('is unset by default (the server makes it from its host and bound port) and taken from flag > env > file', () => {
    expect(loadConfig({ env: {}, flags: {} }).advertiseUrl).toBeUndefined();
    const file = { advertiseUrl: 'http://from-file:1' };
    expect(loadConfig({ env: {}, flags: {}, file }).advertiseUrl).toBe('http://from-file:1');
    expect(loadConfig({ env: { OPENBATCH_ADVERTISE_URL: 'https://from-env' }, flags: {}, file }).advertiseUrl).toBe('https://from-env');
    expect(loadConfig({ env: { OPENBATCH_ADVERTISE_URL: 'https://from-env' }, flags: { 'advertise-url': 'http://[::1]:8080/' }, file }).advertiseUrl)
      .toBe('http://[::1]:8080');
    // an empty variable counts as unset, as for every setting
    expect(loadConfig({ env: { OPENBATCH_ADVERTISE_URL: '' }, flags: {}, file }).advertiseUrl).toBe('http://from-file:1');
  });
  it('refuses what is not scheme, host and port alone, never repeating credentials', () => {
    for (const url of ['batch-1:8080', 'ftp://batch-1', 'http://batch-1:8080/api', 'http://batch-1:8080?x=1', 'http://batch-1#x', 'not a url']) {
      expect(() => loadConfig({ env: {}, flags: { 'advertise-url': url } }), url).toThrow(/advertise-url must be an http:\/\/ or https:\/\/ URL/);
    }
    let message = '';
    try {
      loadConfig({ env: { OPENBATCH_ADVERTISE_URL: 'http://user:hunter2@batch-1:8080' }, flags: {} });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/advertise-url must be/);
    expect(message).not.toContain('hunter2');
  });
});

describe('loadConfig: the slurm section', () => {
  const load = (slurm: unknown, more: Record<string, unknown> = {}) => loadConfig({ env: {}, flags: {}, file: { slurm, ...more } });
  const hpc = { name: 'hpc', partition: 'batch', zone: 'ap-guangzhou-2' };

  it('is absent unless the config file has it', () => {
    expect(loadConfig({ env: {}, flags: {} }).slurm).toBeUndefined();
  });
  it('reads the section as the issue writes it', () => {
    const c = load({ binDir: '/usr/bin', sharedDir: '/srv/openbatch', queues: [hpc], anonymousQueue: 'hpc' });
    expect(c.slurm).toEqual({ binDir: '/usr/bin', sharedDir: '/srv/openbatch', queues: [hpc], anonymousQueue: 'hpc' });
  });
  it('defaults: the PATH, <data-dir>/slurm, the region\'s first zone, no anonymous queue', () => {
    const c = load({ queues: [{ name: 'a_1-B', partition: 'batch' }] }, { dataDir: '/var/lib/ob', defaultRegion: 'ap-shanghai' });
    expect(c.slurm).toEqual({ sharedDir: '/var/lib/ob/slurm', queues: [{ name: 'a_1-B', partition: 'batch', zone: 'ap-shanghai-1' }] });
    expect('binDir' in c.slurm!).toBe(false);
    expect('anonymousQueue' in c.slurm!).toBe(false);
    // the data dir of a flag counts, and relative directories are taken from the working directory
    const f = loadConfig({ env: {}, flags: { 'data-dir': '/d' }, file: { slurm: { binDir: 'bin', queues: [hpc] } } });
    expect(f.slurm!.sharedDir).toBe('/d/slurm');
    expect(f.slurm!.binDir).toBe(path.resolve('bin'));
  });
  it('refuses a bad section with a message naming the setting', () => {
    const bad = (slurm: unknown, re: RegExp, more?: Record<string, unknown>) => {
      expect(() => load(slurm, more)).toThrow(ConfigError);
      expect(() => load(slurm, more)).toThrow(re);
    };
    bad('yes', /config file "slurm" must be an object/);
    bad([hpc], /config file "slurm" must be an object/);
    bad({ queues: [hpc], partitions: ['batch'] }, /unknown setting "slurm\.partitions" \(known: binDir, sharedDir, queues, anonymousQueue\)/);
    bad({ queues: [{ ...hpc, cpus: 4 }] }, /unknown setting "slurm\.queues\[0\]\.cpus" \(known: name, partition, zone\)/);
    bad({}, /slurm\.queues must be an array of at least one queue/);
    bad({ queues: [] }, /slurm\.queues must be an array of at least one queue/);
    bad({ queues: {} }, /slurm\.queues must be an array/);
    bad({ queues: ['hpc'] }, /slurm\.queues\[0\] must be an object/);
    bad({ queues: [{ partition: 'batch' }] }, /slurm\.queues\[0\]\.name must be 1-60 letters, digits, _ or -, got undefined/);
    bad({ queues: [{ ...hpc, name: 'my queue' }] }, /slurm\.queues\[0\]\.name must be .*got "my queue"/);
    bad({ queues: [{ ...hpc, name: 'q.1' }] }, /slurm\.queues\[0\]\.name/);
    bad({ queues: [{ ...hpc, name: '' }] }, /slurm\.queues\[0\]\.name/);
    bad({ queues: [{ ...hpc, name: 'x'.repeat(61) }] }, /slurm\.queues\[0\]\.name/);
    bad({ queues: [hpc, { name: 'hpc', partition: 'other' }] }, /slurm\.queues\[1\]\.name "hpc" is used twice/);
    bad({ queues: [{ name: 'hpc' }] }, /slurm\.queues\[0\]\.partition must be one Slurm partition name/);
    bad({ queues: [{ ...hpc, partition: '' }] }, /slurm\.queues\[0\]\.partition/);
    bad({ queues: [{ ...hpc, partition: 'a,b' }] }, /slurm\.queues\[0\]\.partition .*no spaces or commas.*"a,b"/);
    bad({ queues: [{ ...hpc, partition: 7 }] }, /slurm\.queues\[0\]\.partition/);
    bad({ queues: [{ ...hpc, zone: 2 }] }, /slurm\.queues\[0\]\.zone must be a zone name/);
    bad({ queues: [{ ...hpc, zone: '' }] }, /slurm\.queues\[0\]\.zone must be a zone name/);
    bad({ queues: [{ name: 'q', partition: 'batch' }] }, /slurm\.queues\[0\]\.zone is needed: region xx-nowhere has no known zones/, { defaultRegion: 'xx-nowhere' });
    bad({ queues: [hpc], anonymousQueue: 'gpu' }, /slurm\.anonymousQueue must be the name of one of slurm\.queues \(hpc\), got "gpu"/);
    bad({ queues: [hpc], anonymousQueue: true }, /slurm\.anonymousQueue/);
    bad({ queues: [hpc], binDir: '' }, /slurm\.binDir must be a directory/);
    bad({ queues: [hpc], sharedDir: 3 }, /slurm\.sharedDir must be a directory/);
  });
  it('takes several queues over one partition, each in its zone', () => {
    const c = load({ queues: [hpc, { name: 'hpc-2', partition: 'batch', zone: 'ap-guangzhou-3' }], anonymousQueue: 'hpc-2' });
    expect(c.slurm!.queues.map((q) => `${q.name}@${q.zone}`)).toEqual(['hpc@ap-guangzhou-2', 'hpc-2@ap-guangzhou-3']);
    expect(c.slurm!.anonymousQueue).toBe('hpc-2');
  });
});

describe('loadConfig: the objectStore section and OPENBATCH_S3_*', () => {
  const load = (objectStore: unknown, env: Record<string, string> = {}, more: Record<string, unknown> = {}) =>
    loadConfig({ env, flags: {}, file: objectStore === undefined ? more : { objectStore, ...more } }).objectStore;
  const rgw = { type: 's3', endpoint: 'http://127.0.0.1:7480', region: 'ap-guangzhou', forcePathStyle: true, accessKeyId: 'testak', secretAccessKey: 'testsk' };

  it('is the embedded store by default, and with type embedded', () => {
    expect(load(undefined)).toEqual({ type: 'embedded' });
    expect(load({ type: 'embedded' })).toEqual({ type: 'embedded' });
    // S3 settings without the endpoint variable do not switch the type
    expect(load(undefined, { OPENBATCH_S3_REGION: 'ap-shanghai' })).toEqual({ type: 'embedded' });
  });
  it('takes the file\'s section as the README shows it', () => {
    expect(load(rgw)).toEqual(rgw);
  });
  it('COS: no endpoint, virtual-hosted, the default region unless given', () => {
    expect(load({ type: 's3', accessKeyId: 'AKID1', secretAccessKey: 'sk' })).toEqual({ type: 's3', region: 'ap-guangzhou', forcePathStyle: false, accessKeyId: 'AKID1', secretAccessKey: 'sk' });
    expect(load({ type: 's3' }, {}, { defaultRegion: 'ap-beijing' })).toEqual({ type: 's3', region: 'ap-beijing', forcePathStyle: false });
    expect(loadConfig({ env: {}, flags: { region: 'ap-chengdu' }, file: { objectStore: { type: 's3' } } }).objectStore).toMatchObject({ region: 'ap-chengdu' });
  });
  it('OPENBATCH_S3_ENDPOINT makes it s3 (path-style by default); the variables override the file\'s fields', () => {
    expect(load(undefined, { OPENBATCH_S3_ENDPOINT: 'http://minio.local:9000/', OPENBATCH_S3_ACCESS_KEY_ID: 'ak', OPENBATCH_S3_SECRET_ACCESS_KEY: 'sk' }))
      .toEqual({ type: 's3', endpoint: 'http://minio.local:9000', region: 'ap-guangzhou', forcePathStyle: true, accessKeyId: 'ak', secretAccessKey: 'sk' });
    expect(load({ type: 'embedded' }, { OPENBATCH_S3_ENDPOINT: 'https://s3.example.com' })).toMatchObject({ type: 's3', endpoint: 'https://s3.example.com' });
    const env = { OPENBATCH_S3_REGION: 'us-east-1', OPENBATCH_S3_FORCE_PATH_STYLE: '0', OPENBATCH_S3_SECRET_ACCESS_KEY: 'other', OPENBATCH_S3_ENDPOINT: '' };
    expect(load(rgw, env)).toEqual({ ...rgw, region: 'us-east-1', forcePathStyle: false, secretAccessKey: 'other' });
    for (const [v, b] of [['true', true], ['1', true], ['false', false], ['0', false]] as const) {
      expect(load(rgw, { OPENBATCH_S3_FORCE_PATH_STYLE: v })).toMatchObject({ forcePathStyle: b });
    }
  });
  it('refuses bad values, naming the setting and never a secret', () => {
    const bad = (objectStore: unknown, re: RegExp, env: Record<string, string> = {}) => {
      expect(() => load(objectStore, env)).toThrow(ConfigError);
      expect(() => load(objectStore, env)).toThrow(re);
    };
    bad('s3', /config file "objectStore" must be an object/);
    bad({ type: 'cos' }, /config file "objectStore.type" must be embedded or s3, got "cos"/);
    bad({ ...rgw, bucket: 'x' }, /unknown setting "objectStore\.bucket" \(known: type, endpoint, region, forcePathStyle, accessKeyId, secretAccessKey\)/);
    bad({ ...rgw, endpoint: 'ftp://127.0.0.1' }, /config file "objectStore.endpoint" must be an http:\/\/ or https:\/\/ URL/);
    bad({ ...rgw, endpoint: 'not a url' }, /objectStore.endpoint/);
    bad({ ...rgw, endpoint: 'http://127.0.0.1:7480/bucket' }, /objectStore.endpoint" must be the server's address alone/);
    bad({ ...rgw, endpoint: 7480 }, /config file "objectStore.endpoint" must be a non-empty string/);
    bad(undefined, /OPENBATCH_S3_ENDPOINT must be an http/, { OPENBATCH_S3_ENDPOINT: 'localhost:7480x' });
    bad({ ...rgw, region: 'AP Guangzhou' }, /config file "objectStore.region" must be a region name/);
    bad(rgw, /OPENBATCH_S3_REGION must be a region name/, { OPENBATCH_S3_REGION: 'ap_guangzhou' });
    bad({ ...rgw, forcePathStyle: 'yes' }, /config file "objectStore.forcePathStyle" must be true or false/);
    bad(rgw, /OPENBATCH_S3_FORCE_PATH_STYLE must be true or false/, { OPENBATCH_S3_FORCE_PATH_STYLE: 'on' });
    bad({ type: 's3', accessKeyId: 'ak' }, /accessKeyId and objectStore\.secretAccessKey .* must be given together/);
    bad({ type: 's3', accessKeyId: 'ak', secretAccessKey: 5 }, /config file "objectStore.secretAccessKey" must be a non-empty string/);
    for (const endpoint of ['http://ak:s3cr3t@127.0.0.1:7480', 'ftp://ak:s3cr3t@x', 'http://ak:s3cr3t@h/p']) {
      let msg = '';
      try {
        load({ ...rgw, endpoint });
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/objectStore.endpoint/);
      expect(msg).not.toContain('s3cr3t');
    }
  });
});
