// One schema with every default. loadConfig({env, argv, file}) is pure: flags > env (OPENBATCH_*) > file > defaults.
// Never BATCH_* for our own settings: those names belong to the task's environment.
import os from 'node:os';
import path from 'node:path';
import { zonesOf } from '../domain/regions.ts';
import { ENFORCE_MODES, LAUNCHERS, RATE_LIMIT_MODES, type EnforceMode, type Launcher, type RateLimitMode } from './choices.ts';

export interface AccountConfig {
  /** Account identifier (the owner of resources), e.g. an AppId-like number. */
  id: string;
  secretId: string;
  secretKey: string;
  name?: string;
  /** The user this account's tasks run as (a server running as root); default: a dedicated user. */
  runAs?: string;
}

/** A Slurm partition offered as a THPC_QUEUE compute environment (config file `slurm.queues`). */
export interface SlurmQueueConfig {
  /** The environment's EnvName: letters, digits, `_` and `-`, unique among the queues. */
  name: string;
  /** The Slurm partition its tasks are submitted to. */
  partition: string;
  /** The zone the environment is in (default: the first zone of the default region). */
  zone: string;
}

/** Slurm as an execution engine (config file section `slurm`). */
export interface SlurmConfig {
  /** Where sbatch, squeue, scancel, sinfo, scontrol and sacct are; undefined: the PATH. */
  binDir?: string;
  /** A directory the server and every node see at the same path (default: <data-dir>/slurm). */
  sharedDir: string;
  queues: SlurmQueueConfig[];
  /** The queue that tasks naming no environment run on (one of `queues`); undefined: the local executor. */
  anonymousQueue?: string;
}

/** Where `cos://` objects live (config file section `objectStore`, OPENBATCH_S3_*). */
export type ObjectStoreConfig =
  | { type: 'embedded' }
  | {
      type: 's3';
      /** One S3 endpoint for every bucket; undefined: Tencent COS, `https://cos.<region>.myqcloud.com`. */
      endpoint?: string;
      /** The region requests are signed for (default: the server's default region). */
      region: string;
      /** Path-style requests to the endpoint (default: true with an endpoint, else false). */
      forcePathStyle: boolean;
      accessKeyId?: string;
      secretAccessKey?: string;
    };

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** The store: `sqlite` (the file in the data dir) or a PostgreSQL URL shared by several replicas. */
  store: string;
  /** This replica's name in logs, /healthz and the leadership record (default: hostname:port). */
  replicaId?: string;
  /** Where the other replicas reach this one's API server (scheme, host, port), recorded in the
   *  store's registry (default: http://<hostname>:<port> when listening on every address, else
   *  http://<host>:<port>, with the port bound). */
  advertiseUrl?: string;
  /** Region assumed when a request names none. */
  defaultRegion: string;
  rateLimits: RateLimitMode;
  /** How many task instances the local executor runs at once on this host. */
  localSlots: number;
  /** The most bytes the host's cache of staged objects (inputs, packages) keeps when nothing uses them. */
  cacheMaxBytes: number;
  /** How the local executor starts attempts: the C shim, the /bin/sh supervisor, or auto (shim if it builds). */
  launcher: Launcher;
  /** Added to the server's niceness for the attempts it starts (0-19), so the API stays responsive when they take every CPU. */
  attemptNice: number;
  /** Seconds between resource samples of running instances (DescribeJobMonitorData); 0 = off. */
  monitorInterval: number;
  /** Whether GET /metrics serves Prometheus metrics (default on). */
  metrics: boolean;
  /** The user the default account's tasks run as when the server is root (default: openbatch-task). */
  runAs?: string;
  /** Whether attempts get cgroups with their instance type's vCPUs and memory (where the host allows). */
  enforceResources: EnforceMode;
  /** The vCPUs and memory the host may promise to compute nodes and instances: its own times this. */
  overcommit: number;
  /** The config file the settings came from (hidden from tasks: it may hold account keys). */
  configFile?: string;
  maxBodyBytes: number;
  maxSkewSeconds: number;
  logLevel: string;
  /** Extra accounts from the config file; the default account comes from env or the data dir. */
  accounts: AccountConfig[];
  /** Instance families of the catalogue (config file `catalogue`); the built-in set when absent. */
  catalogue?: unknown;
  /** Capacity the operator declares for AttachInstances (config file `attachableInstances`). */
  attachableInstances: { InstanceId: string; InstanceType: string }[];
  /** Default account key pair from OPENBATCH_SECRET_ID / OPENBATCH_SECRET_KEY (else generated). */
  defaultSecretId?: string;
  defaultSecretKey?: string;
  limits: Limits;
  /** Slurm queues (config file `slurm`); undefined: no Slurm. */
  slurm?: SlurmConfig;
  /** Webhooks of Notification topics (config file `notifications.topics`): name → URL and HMAC secret. */
  notificationTopics: Map<string, { url: string; secret: string }>;
  /** The object store of `cos://` paths: the embedded one in the data dir, or an S3 server. */
  objectStore: ObjectStoreConfig;
}

export interface Limits {
  maxTaskInstanceNum: number;
  maxTasksPerJob: number;
  maxTagsPerResource: number;
  maxFiltersPerRequest: number;
  maxValuesPerFilter: number;
  maxJobIdsPerRequest: number;
  maxTaskTemplates: number;
  maxComputeEnvs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxTaskInstanceNum: 1_000_000,
  maxTasksPerJob: 200,
  maxTagsPerResource: 10,
  maxFiltersPerRequest: 10,
  maxValuesPerFilter: 100,
  maxJobIdsPerRequest: 100,
  maxTaskTemplates: 1000,
  maxComputeEnvs: 100,
};

export function defaultConfig(): Config {
  return {
    host: '127.0.0.1',
    port: 8080,
    dataDir: path.resolve('.openbatch'),
    store: 'sqlite',
    defaultRegion: 'ap-guangzhou',
    rateLimits: 'intl',
    localSlots: Math.max(2, os.availableParallelism()),
    cacheMaxBytes: 10 * 2 ** 30,
    launcher: 'auto',
    attemptNice: 10,
    monitorInterval: 10,
    metrics: true,
    enforceResources: 'on',
    overcommit: 1,
    maxBodyBytes: 10 * 1024 * 1024,
    maxSkewSeconds: 300,
    logLevel: 'info',
    accounts: [],
    attachableInstances: [],
    notificationTopics: new Map(),
    limits: { ...DEFAULT_LIMITS },
    objectStore: { type: 'embedded' },
  };
}

export class ConfigError extends Error {}

type Source = Record<string, unknown>;

/** Names of settings as flags (kebab), env (OPENBATCH_ + upper snake) and file (camel). */
type Kind = 'string' | 'int' | 'number' | 'mode' | 'launcher' | 'enforce' | 'onoff';

const SETTINGS: { key: keyof Config; flag: string; env: string; kind: Kind }[] = [
  { key: 'host', flag: 'host', env: 'OPENBATCH_HOST', kind: 'string' },
  { key: 'port', flag: 'port', env: 'OPENBATCH_PORT', kind: 'int' },
  { key: 'dataDir', flag: 'data-dir', env: 'OPENBATCH_DATA_DIR', kind: 'string' },
  { key: 'store', flag: 'store', env: 'OPENBATCH_STORE', kind: 'string' },
  { key: 'replicaId', flag: 'replica-id', env: 'OPENBATCH_REPLICA_ID', kind: 'string' },
  { key: 'advertiseUrl', flag: 'advertise-url', env: 'OPENBATCH_ADVERTISE_URL', kind: 'string' },
  { key: 'defaultRegion', flag: 'region', env: 'OPENBATCH_REGION', kind: 'string' },
  { key: 'rateLimits', flag: 'rate-limits', env: 'OPENBATCH_RATE_LIMITS', kind: 'mode' },
  { key: 'localSlots', flag: 'slots', env: 'OPENBATCH_SLOTS', kind: 'int' },
  { key: 'cacheMaxBytes', flag: 'cache-max-bytes', env: 'OPENBATCH_CACHE_MAX_BYTES', kind: 'int' },
  { key: 'launcher', flag: 'launcher', env: 'OPENBATCH_LAUNCHER', kind: 'launcher' },
  { key: 'attemptNice', flag: 'attempt-nice', env: 'OPENBATCH_ATTEMPT_NICE', kind: 'int' },
  { key: 'monitorInterval', flag: 'monitor-interval', env: 'OPENBATCH_MONITOR_INTERVAL', kind: 'int' },
  { key: 'metrics', flag: 'metrics', env: 'OPENBATCH_METRICS', kind: 'onoff' },
  { key: 'runAs', flag: 'run-as', env: 'OPENBATCH_RUN_AS', kind: 'string' },
  { key: 'enforceResources', flag: 'enforce-resources', env: 'OPENBATCH_ENFORCE_RESOURCES', kind: 'enforce' },
  { key: 'overcommit', flag: 'overcommit', env: 'OPENBATCH_OVERCOMMIT', kind: 'number' },
  { key: 'maxBodyBytes', flag: 'max-body-bytes', env: 'OPENBATCH_MAX_BODY_BYTES', kind: 'int' },
  { key: 'logLevel', flag: 'log-level', env: 'OPENBATCH_LOG_LEVEL', kind: 'string' },
];

/** Where the config file is, when --config is not given. */
export const CONFIG_FILE_ENV = 'OPENBATCH_CONFIG';
const SECRET_ID_ENV = 'OPENBATCH_SECRET_ID';
const SECRET_KEY_ENV = 'OPENBATCH_SECRET_KEY';

/** The environment variables of the object store (over the config file's `objectStore`). */
export const S3_ENV = {
  endpoint: 'OPENBATCH_S3_ENDPOINT',
  region: 'OPENBATCH_S3_REGION',
  accessKeyId: 'OPENBATCH_S3_ACCESS_KEY_ID',
  secretAccessKey: 'OPENBATCH_S3_SECRET_ACCESS_KEY',
  forcePathStyle: 'OPENBATCH_S3_FORCE_PATH_STYLE',
} as const;

/** Every environment variable the server reads, with its flag or what it holds (for --help). */
export const ENV_HELP: { env: string; help: string }[] = [
  ...SETTINGS.map((s) => ({ env: s.env, help: `as --${s.flag}` })),
  { env: CONFIG_FILE_ENV, help: 'as --config' },
  { env: SECRET_ID_ENV, help: `the default account's SecretId (with ${SECRET_KEY_ENV}; generated and kept in the data dir when unset)` },
  { env: SECRET_KEY_ENV, help: "the default account's SecretKey" },
  { env: S3_ENV.endpoint, help: 'as objectStore.endpoint; when set, objectStore.type is s3' },
  { env: S3_ENV.region, help: 'as objectStore.region' },
  { env: S3_ENV.accessKeyId, help: 'as objectStore.accessKeyId' },
  { env: S3_ENV.secretAccessKey, help: 'as objectStore.secretAccessKey' },
  { env: S3_ENV.forcePathStyle, help: 'as objectStore.forcePathStyle (true, false, 1 or 0)' },
];

export const FLAG_HELP: Record<string, string> = {
  host: 'address to listen on (default 127.0.0.1)',
  port: 'port to listen on; 0 picks a free one (default 8080)',
  'data-dir': 'directory for the SQLite store, logs, objects and keys (default ./.openbatch); each replica has its own',
  store: 'sqlite (default: the file in the data dir) or postgres://user:password@host:port/database (libpq URL, PG* variables and ?sslmode= honoured), shared by several replicas; keep a password out of the command line (OPENBATCH_STORE, the config file or PGPASSWORD)',
  'replica-id': 'this replica\'s name in logs, /healthz and the leadership record (default: hostname:port); unique per replica',
  'advertise-url': 'http(s)://host:port at which the other replicas reach this one (they fetch the logs of its local attempts there; default: http://<hostname>:<port> when --host is 0.0.0.0 or ::, else http://<host>:<port>)',
  region: 'region assumed when a request names none (default ap-guangzhou)',
  'rate-limits': 'per-action rate limits: intl (default), mainland or off',
  slots: 'instances of anonymous compute environments run at once, at most (default: number of CPUs, at least 2); their instance types must also fit the host (--overcommit)',
  'cache-max-bytes': 'bytes the cache of staged inputs and packages (<data-dir>/cache) keeps of what no running attempt uses (default 10737418240)',
  launcher: 'how attempts are started: auto (default: the C shim if it can be built, else sh), shim or shell',
  'attempt-nice': 'added to the server\'s CPU niceness for the attempts it starts, 0-19 (default 10: the API and scheduler come first when attempts take every CPU)',
  'max-body-bytes': 'largest accepted request body (default 10485760)',
  'monitor-interval': 'seconds between CPU/memory samples of running instances (default 10; 0 = off)',
  metrics: 'on (default): GET /metrics serves Prometheus metrics (docs/metrics.md); off: it is not served',
  'run-as': 'user the default account\'s tasks run as when the server runs as root (default: openbatch-task, created if missing; other accounts: runAs in their config entry, else a dedicated openbatch-<hash> user)',
  'enforce-resources': 'on (default): each attempt gets cgroups with its instance type\'s vCPUs, memory and a pids limit, where the host allows; off: no limits',
  overcommit: 'the host may promise compute nodes and running instances its CPUs and memory times this (default 1)',
  'log-level': 'pino log level: fatal, error, warn, info (default), debug, trace',
  config: 'JSON config file (accounts, limits, slurm and any setting above in camelCase)',
};

/** The settings of the config file's `slurm` section (for --help and the README). */
export const SLURM_FILE_HELP: { key: string; help: string }[] = [
  { key: 'slurm.binDir', help: 'directory of sbatch, squeue, scancel, sinfo, scontrol and sacct (default: the PATH)' },
  { key: 'slurm.sharedDir', help: 'directory the server and every Slurm node see at the same path (default: <data-dir>/slurm)' },
  { key: 'slurm.queues', help: 'THPC_QUEUE compute environments, each [{ "name", "partition", "zone" }]: EnvName (letters, digits, _ and -), Slurm partition, zone (default: the first of the region)' },
  { key: 'slurm.anonymousQueue', help: 'the queue (one of the names) that tasks naming no compute environment run on (default: none, they run on this host)' },
];

/** The settings of the config file's `notifications` section (for --help and the README). */
export const NOTIFICATIONS_FILE_HELP: { key: string; help: string }[] = [
  { key: 'notifications.topics', help: 'Notification topics, { "NAME": { "url": "http://…", "secret": "…" } }: the events a job asks for on NAME are POSTed to url, signed (HMAC-SHA256) with secret' },
];

/** The settings of the config file's `objectStore` section (for --help and the README). */
export const OBJECT_STORE_FILE_HELP: { key: string; help: string }[] = [
  { key: 'objectStore.type', help: 'embedded (default: objects under <data-dir>/objects) or s3 (an S3 server: Tencent COS, Ceph RGW, MinIO, AWS S3)' },
  { key: 'objectStore.endpoint', help: 'http(s) URL of the S3 server for every bucket (default: none, Tencent COS: each bucket at https://cos.<region>.myqcloud.com, <region> from its cos:// host)' },
  { key: 'objectStore.region', help: 'region requests are signed for, and of cos:// hosts that name none (default: the default region)' },
  { key: 'objectStore.forcePathStyle', help: 'path-style requests, <endpoint>/<bucket>/<key> (default: true with an endpoint, false for COS)' },
  { key: 'objectStore.accessKeyId', help: 'the S3 access key (SecretId on COS); with secretAccessKey' },
  { key: 'objectStore.secretAccessKey', help: 'the S3 secret key (SecretKey on COS)' },
];

function convert(kind: Kind, name: string, v: unknown): unknown {
  if (kind === 'onoff') {
    if (v === true || v === 'on') return true;
    if (v === false || v === 'off') return false;
    throw new ConfigError(`${name} must be on or off${typeof v === 'string' ? '' : ' (or true or false)'}, got ${JSON.stringify(v)}`);
  }
  if (kind === 'enforce') {
    if (!ENFORCE_MODES.includes(v as EnforceMode)) throw new ConfigError(`${name} must be one of ${ENFORCE_MODES.join(', ')}, got ${JSON.stringify(v)}`);
    return v;
  }
  if (kind === 'number') {
    const n = typeof v === 'number' ? v : Number(String(v));
    if (!Number.isFinite(n) || n <= 0 || String(v).trim() === '') throw new ConfigError(`${name} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  }
  if (kind === 'launcher') {
    if (!LAUNCHERS.includes(v as Launcher)) throw new ConfigError(`${name} must be one of ${LAUNCHERS.join(', ')}, got ${JSON.stringify(v)}`);
    return v;
  }
  if (kind === 'int') {
    const n = typeof v === 'number' ? v : Number(String(v));
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return n;
  }
  if (kind === 'mode') {
    if (!RATE_LIMIT_MODES.includes(v as RateLimitMode)) {
      throw new ConfigError(`${name} must be one of ${RATE_LIMIT_MODES.join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${name} must be a non-empty string`);
  return v;
}

export interface ConfigInputs {
  env: Record<string, string | undefined>;
  flags: Record<string, string>;
  file?: Source;
}

export function loadConfig({ env, flags, file }: ConfigInputs): Config {
  const cfg = defaultConfig();
  const target = cfg as unknown as Record<string, unknown>;
  for (const s of SETTINGS) {
    const fromFile = file?.[s.key];
    const fromEnv = env[s.env];
    const fromFlag = flags[s.flag];
    const v = fromFlag ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined) ?? fromFile;
    if (v !== undefined) {
      const label = fromFlag !== undefined ? `--${s.flag}` : fromEnv !== undefined && fromEnv !== '' ? s.env : `config file "${s.key}"`;
      target[s.key] = convert(s.kind, label, v);
    }
  }
  cfg.dataDir = path.resolve(cfg.dataDir);
  if (cfg.store !== 'sqlite' && !/^postgres(ql)?:\/\//.test(cfg.store)) {
    throw new ConfigError(`store must be sqlite or a PostgreSQL URL postgres://user:password@host:port/database, got ${JSON.stringify(redactUrl(cfg.store))}`);
  }
  if (cfg.replicaId !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(cfg.replicaId)) {
    throw new ConfigError(`replica-id must be 1 to 100 letters, digits, '.', '_', ':' or '-', got ${JSON.stringify(cfg.replicaId)}`);
  }
  if (cfg.advertiseUrl !== undefined) cfg.advertiseUrl = checkAdvertiseUrl(cfg.advertiseUrl);
  if (cfg.localSlots < 1) throw new ConfigError('slots must be at least 1');
  if (cfg.cacheMaxBytes < 0) throw new ConfigError(`cache-max-bytes must not be negative, got ${cfg.cacheMaxBytes}`);
  if (cfg.attemptNice > 19) throw new ConfigError(`attempt-nice must be between 0 and 19, got ${cfg.attemptNice}`);
  if (file?.accounts !== undefined) cfg.accounts = parseAccounts(file.accounts);
  if (file?.limits !== undefined) cfg.limits = parseLimits(file.limits);
  if (file?.attachableInstances !== undefined) cfg.attachableInstances = parseAttachable(file.attachableInstances);
  if (file?.catalogue !== undefined) cfg.catalogue = file.catalogue;
  if (file?.slurm !== undefined) cfg.slurm = parseSlurm(file.slurm, cfg);
  if (file?.notifications !== undefined) cfg.notificationTopics = parseNotifications(file.notifications);
  cfg.objectStore = parseObjectStore(file?.objectStore, env, cfg.defaultRegion);
  const sid = env[SECRET_ID_ENV], skey = env[SECRET_KEY_ENV];
  if ((sid && !skey) || (!sid && skey)) {
    throw new ConfigError(`${SECRET_ID_ENV} and ${SECRET_KEY_ENV} must be set together`);
  }
  if (sid && skey) {
    cfg.defaultSecretId = sid;
    cfg.defaultSecretKey = skey;
  }
  return cfg;
}

function parseAccounts(v: unknown): AccountConfig[] {
  if (!Array.isArray(v)) throw new ConfigError('config file "accounts" must be an array');
  const seen = new Set<string>();
  return v.map((a, i) => {
    const o = a as Record<string, unknown>;
    for (const k of ['id', 'secretId', 'secretKey'] as const) {
      if (typeof o?.[k] !== 'string' || o[k] === '') throw new ConfigError(`accounts[${i}].${k} must be a non-empty string`);
    }
    const acc: AccountConfig = { id: o.id as string, secretId: o.secretId as string, secretKey: o.secretKey as string };
    if (typeof o.name === 'string') acc.name = o.name;
    if (o.runAs !== undefined) {
      if (typeof o.runAs !== 'string' || o.runAs === '') throw new ConfigError(`accounts[${i}].runAs must be a user name`);
      acc.runAs = o.runAs;
    }
    if (seen.has(acc.secretId)) throw new ConfigError(`accounts[${i}].secretId is used twice`);
    seen.add(acc.secretId);
    return acc;
  });
}

function parseAttachable(v: unknown): { InstanceId: string; InstanceType: string }[] {
  if (!Array.isArray(v)) throw new ConfigError('config file "attachableInstances" must be an array');
  return v.map((a, i) => {
    const o = a as Record<string, unknown>;
    if (typeof o?.InstanceId !== 'string' || !/^ins-[a-z0-9]{8}$/.test(o.InstanceId)) {
      throw new ConfigError(`attachableInstances[${i}].InstanceId must look like ins-xxxxxxxx`);
    }
    if (typeof o.InstanceType !== 'string' || o.InstanceType === '') throw new ConfigError(`attachableInstances[${i}].InstanceType must be an instance type`);
    return { InstanceId: o.InstanceId, InstanceType: o.InstanceType };
  });
}

function parseLimits(v: unknown): Limits {
  const out = { ...DEFAULT_LIMITS };
  if (typeof v !== 'object' || v === null) throw new ConfigError('config file "limits" must be an object');
  for (const [k, val] of Object.entries(v)) {
    if (!(k in out)) throw new ConfigError(`unknown limit "${k}" (known: ${Object.keys(out).join(', ')})`);
    if (!Number.isInteger(val) || (val as number) < 1) throw new ConfigError(`limits.${k} must be a positive integer`);
    (out as Record<string, number>)[k] = val as number;
  }
  return out;
}

const SLURM_KEYS = ['binDir', 'sharedDir', 'queues', 'anonymousQueue'];
const QUEUE_KEYS = ['name', 'partition', 'zone'];
/** EnvName of a queue: what a Slurm job name and a file name take as is (60: CreateComputeEnv's EnvName limit). */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,60}$/;

function unknownKeys(o: object, known: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new ConfigError(`unknown setting "${where}.${k}" (known: ${known.join(', ')})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `notifications` section: each topic's webhook. */
function parseNotifications(v: unknown): Map<string, { url: string; secret: string }> {
  if (!isObject(v)) throw new ConfigError('config file "notifications" must be an object');
  unknownKeys(v, ['topics'], 'notifications');
  const topics = (v as Record<string, unknown>).topics;
  if (!isObject(topics)) throw new ConfigError('notifications.topics must be an object of topic names');
  const out = new Map<string, { url: string; secret: string }>();
  for (const [name, t] of Object.entries(topics as Record<string, unknown>)) {
    const at = `notifications.topics.${name}`;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(name)) throw new ConfigError(`${at}: a topic name starts with a letter and has at most 64 letters, digits, "-" and "_"`);
    if (!isObject(t)) throw new ConfigError(`${at} must be an object { "url", "secret" }`);
    unknownKeys(t, ['url', 'secret'], at);
    const { url, secret } = t as Record<string, unknown>;
    let ok = false;
    try {
      ok = typeof url === 'string' && ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError(`${at}.url must be an http:// or https:// URL`);
    if (typeof secret !== 'string' || secret.length < 16) throw new ConfigError(`${at}.secret must be a string of at least 16 characters (the HMAC key of the signatures)`);
    out.set(name, { url: url as string, secret });
  }
  return out;
}

/** The `slurm` section; relative directories are taken from the working directory, like --data-dir. */
function parseSlurm(v: unknown, cfg: Config): SlurmConfig {
  if (!isObject(v)) throw new ConfigError('config file "slurm" must be an object');
  unknownKeys(v, SLURM_KEYS, 'slurm');
  const dir = (k: 'binDir' | 'sharedDir'): string | undefined => {
    const d = v[k];
    if (d === undefined) return undefined;
    if (typeof d !== 'string' || d === '') throw new ConfigError(`slurm.${k} must be a directory (a non-empty string)`);
    return path.resolve(d);
  };
  const binDir = dir('binDir');
  const sharedDir = dir('sharedDir') ?? path.join(cfg.dataDir, 'slurm');
  if (!Array.isArray(v.queues) || v.queues.length === 0) throw new ConfigError('slurm.queues must be an array of at least one queue');
  const firstZone = zonesOf(cfg.defaultRegion)[0];
  const seen = new Set<string>();
  const queues = v.queues.map((q: unknown, i): SlurmQueueConfig => {
    const at = `slurm.queues[${i}]`;
    if (!isObject(q)) throw new ConfigError(`${at} must be an object with name, partition and zone`);
    unknownKeys(q, QUEUE_KEYS, at);
    if (typeof q.name !== 'string' || !QUEUE_NAME.test(q.name)) {
      throw new ConfigError(`${at}.name must be 1-60 letters, digits, _ or -, got ${JSON.stringify(q.name)}`);
    }
    if (seen.has(q.name)) throw new ConfigError(`${at}.name "${q.name}" is used twice`);
    seen.add(q.name);
    if (typeof q.partition !== 'string' || !/^[^\s,]+$/.test(q.partition)) {
      throw new ConfigError(`${at}.partition must be one Slurm partition name (no spaces or commas), got ${JSON.stringify(q.partition)}`);
    }
    if (q.zone !== undefined && (typeof q.zone !== 'string' || q.zone === '')) throw new ConfigError(`${at}.zone must be a zone name`);
    const zone = (q.zone as string | undefined) ?? firstZone;
    if (zone === undefined) throw new ConfigError(`${at}.zone is needed: region ${cfg.defaultRegion} has no known zones`);
    return { name: q.name, partition: q.partition, zone };
  });
  const out: SlurmConfig = { sharedDir, queues };
  if (binDir !== undefined) out.binDir = binDir;
  if (v.anonymousQueue !== undefined) {
    if (typeof v.anonymousQueue !== 'string' || !seen.has(v.anonymousQueue)) {
      throw new ConfigError(`slurm.anonymousQueue must be the name of one of slurm.queues (${[...seen].join(', ')}), got ${JSON.stringify(v.anonymousQueue)}`);
    }
    out.anonymousQueue = v.anonymousQueue;
  }
  return out;
}

const OBJECT_STORE_KEYS = ['type', 'endpoint', 'region', 'forcePathStyle', 'accessKeyId', 'secretAccessKey'];
const REGION_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** The `objectStore` section with the OPENBATCH_S3_* variables over it. Values are checked here so
 *  that a bad one stops the start naming its setting; no message repeats a key. */
function parseObjectStore(v: unknown, env: Record<string, string | undefined>, defaultRegion: string): ObjectStoreConfig {
  if (v !== undefined && !isObject(v)) throw new ConfigError('config file "objectStore" must be an object');
  const o = v ?? {};
  unknownKeys(o, OBJECT_STORE_KEYS, 'objectStore');
  /** The value of `key`: its environment variable when set (non-empty), else the file's. */
  const pick = (key: keyof typeof S3_ENV): { value: unknown; label: string } | undefined => {
    const e = env[S3_ENV[key]];
    if (e !== undefined && e !== '') return { value: e, label: S3_ENV[key] };
    return o[key] === undefined ? undefined : { value: o[key], label: `config file "objectStore.${key}"` };
  };
  const endpoint = pick('endpoint');
  let type = o.type ?? 'embedded';
  if (type !== 'embedded' && type !== 's3') throw new ConfigError(`config file "objectStore.type" must be embedded or s3, got ${JSON.stringify(type)}`);
  if (endpoint?.label === S3_ENV.endpoint) type = 's3';
  if (type === 'embedded') return { type: 'embedded' };
  const str = (p: { value: unknown; label: string } | undefined): string | undefined => {
    if (p === undefined) return undefined;
    if (typeof p.value !== 'string' || p.value.trim() === '') throw new ConfigError(`${p.label} must be a non-empty string`);
    return p.value;
  };
  const out: ObjectStoreConfig = { type: 's3', region: defaultRegion, forcePathStyle: false };
  const url = str(endpoint);
  if (url !== undefined) out.endpoint = checkEndpoint(url, endpoint!.label);
  const region = str(pick('region'));
  if (region !== undefined) {
    if (!REGION_NAME.test(region)) throw new ConfigError(`${pick('region')!.label} must be a region name like ap-guangzhou, got ${JSON.stringify(region)}`);
    out.region = region;
  }
  // COMPAT: path style by default with an endpoint (RGW, MinIO: no wildcard DNS); COS refuses it
  const pathStyle = pick('forcePathStyle');
  out.forcePathStyle = pathStyle === undefined ? out.endpoint !== undefined : toBool(pathStyle.value, pathStyle.label);
  const id = pick('accessKeyId'), secret = pick('secretAccessKey');
  if ((id === undefined) !== (secret === undefined)) {
    throw new ConfigError(`objectStore.accessKeyId and objectStore.secretAccessKey (${S3_ENV.accessKeyId}, ${S3_ENV.secretAccessKey}) must be given together`);
  }
  if (id && secret) {
    out.accessKeyId = str(id)!;
    // the message names the setting, never the value
    if (typeof secret.value !== 'string' || secret.value === '') throw new ConfigError(`${secret.label} must be a non-empty string`);
    out.secretAccessKey = secret.value;
  }
  return out;
}

function checkEndpoint(url: string, label: string): string {
  // a URL with `user:password@` is never repeated in a message
  const shown = url.includes('@') ? 'a URL with credentials (not shown)' : JSON.stringify(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`${label} must be an http:// or https:// URL, got ${shown}`);
  }
  if (u.username !== '' || u.password !== '') throw new ConfigError(`${label} must not hold credentials (give objectStore.accessKeyId and secretAccessKey)`);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${label} must be an http:// or https:// URL, got ${shown}`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') {
    throw new ConfigError(`${label} must be the server's address alone (scheme, host, port), got ${shown}`);
  }
  return `${u.protocol}//${u.host}`;
}

/** --advertise-url: an http(s) URL of scheme, host and port alone (other replicas add the paths). */
function checkAdvertiseUrl(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== ''
    || (u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') {
    const shown = url.includes('@') ? 'a URL with credentials (not shown)' : JSON.stringify(url);
    throw new ConfigError(`advertise-url must be an http:// or https:// URL of scheme, host and port alone (e.g. http://batch-1.internal:8080), got ${shown}`);
  }
  return `${u.protocol}//${u.host}`;
}

function toBool(v: unknown, label: string): boolean {
  if (v === true || v === 'true' || v === '1' || v === 1) return true;
  if (v === false || v === 'false' || v === '0' || v === 0) return false;
  throw new ConfigError(`${label} must be true or false (or 1 or 0), got ${JSON.stringify(v)}`);
}

/** A URL with its password replaced by `***` (for messages and logs). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}
