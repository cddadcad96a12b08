// Composition root: config → store, executor, object store → scheduler, services → API server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildActions, buildExtensions } from './api/actions/index.ts';
import { AttemptService } from './services/attempts.ts';
import { EventReader } from './services/event-stream.ts';
import { LogSweeper } from './services/log-sweeper.ts';
import { Notifier } from './services/notifier.ts';
import { Pipeline } from './api/pipeline.ts';
import { RateLimiter } from './api/ratelimit.ts';
import { buildServer } from './api/server.ts';
import type { Config } from './config/config.ts';
import { removeParents } from './executors/local/cgroups.ts';
import { createLocalExecutor, pickLauncher, probeNamespace } from './executors/local/factory.ts';
import { planIsolation, type IsolationPlan } from './executors/local/isolation.ts';
import { RunAsError } from './executors/local/run-as.ts';
import { SlurmCli } from './executors/slurm/cli.ts';
import { checkSlurm, SlurmSetupError } from './executors/slurm/setup.ts';
import { SlurmExecutor } from './executors/slurm/executor.ts';
import { listNodes } from './executors/slurm/nodes.ts';
import { ExecutorRouter } from './executors/router.ts';
import { QueueEnvs, type QueueCluster } from './services/queue-envs.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { execArgBytes, MAX_ARG_STRLEN } from './lib/exec-limits.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { writeProblem } from './lib/write-probe.ts';
import { lockDataDir } from './lib/data-dir-lock.ts';
import { FsObjectStore } from './objectstore/fs/fs-store.ts';
import { S3ObjectStore } from './objectstore/s3/s3-store.ts';
import type { ObjectStore } from './objectstore/types.ts';
import { ObjectCache } from './staging/cache.ts';
import { Stager } from './staging/stager.ts';
import { StagingExecutor } from './staging/staging-executor.ts';
import { HostCapacity } from './domain/capacity.ts';
import { EnvPools } from './scheduler/env-pools.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { Replica } from './scheduler/replica.ts';
import { DEFAULT_ACCOUNT_ID, loadAccounts, type Accounts } from './services/accounts.ts';
import { loadCatalogue } from './domain/catalogue.ts';
import { StoreOpenError, StoreUnavailable } from './domain/errors.ts';
import { CatalogueService } from './services/catalogue.ts';
import { EnvService } from './services/envs.ts';
import { JobService } from './services/jobs.ts';
import { MonitorService } from './services/monitor.ts';
import { TemplateService } from './services/templates.ts';
import { LocalLayout } from './executors/local/layout.ts';
import { LogShipper } from './services/log-shipper.ts';
import { RemoteLogs } from './services/remote-logs.ts';
import { ReplicaDirectory } from './services/replicas.ts';
import { InternalKey } from './lib/internal-auth.ts';
import { SqliteStore } from './store/sqlite/sqlite-store.ts';
import { PgStore } from './store/postgres/pg-store.ts';
import type { Store } from './store/types.ts';
import { redactUrl } from './config/config.ts';
import { Metrics } from './metrics/metrics.ts';
import { ACTION_NAMES } from './api/models.ts';
import { EXTENSION_NAMES } from './api/extension-models.ts';

/** The version in package.json (openbatch_build_info). */
function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface Running {
  url: string;
  port: number;
  accounts: Accounts;
  /** This replica: it leads (runs the scheduler) or stands by. */
  replica: Replica;
  logger: Logger;
  /** How tasks are isolated here, and what could not be had (said once at start). */
  isolation: { summary: string; warnings: string[] };
  close(): Promise<void>;
}

/** Data dir layout (documented in docs/data-dir.md). */
export function dataPaths(dataDir: string) {
  return {
    db: path.join(dataDir, 'openbatch.db'),
    objects: path.join(dataDir, 'objects'),
    local: path.join(dataDir, 'local'),
    attempts: path.join(dataDir, 'attempts'),
    staging: path.join(dataDir, 'staging'),
    cache: path.join(dataDir, 'cache'),
  };
}

/** The service cannot start where it was asked to (data dir, port): a message for the operator. */
export class StartupError extends Error {}

const FS_PROBLEMS: Record<string, string> = {
  EROFS: 'is on a read-only file system',
  EACCES: 'is not writable by this user',
  EPERM: 'is not writable by this user',
  ENOSPC: 'is on a full disk',
  ENOTDIR: 'is not a directory',
  EEXIST: 'is not a directory',
};

/** OpenBatch writes its database, logs and attempt files in the data dir: refuse to start, with a
 *  clear reason, where it cannot. */
function prepareDataDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const problem = writeProblem(dir);
    if (problem) throw Object.assign(new Error(`cannot write in ${dir}`), { code: problem });
  } catch (e) {
    let code = (e as NodeJS.ErrnoException).code ?? '';
    // a recursive mkdir on a read-only file system reports ENOENT: ask the nearest existing parent
    if (code === 'ENOENT') code = writeProblemOfAncestor(dir) ?? code;
    const what = FS_PROBLEMS[code];
    if (what) throw new StartupError(`the data directory ${dir} ${what} (${code}); OpenBatch keeps its database and logs there and must be able to write them`);
    throw e;
  }
}

/** Why the nearest existing ancestor of `dir` cannot be written (undefined if it can). */
function writeProblemOfAncestor(dir: string): string | undefined {
  let d = path.dirname(path.resolve(dir));
  while (!fs.existsSync(d) && d !== path.dirname(d)) d = path.dirname(d);
  return writeProblem(d);
}

async function openStore(spec: string, file: string, logger: Logger): Promise<Store> {
  try {
    if (spec === 'sqlite') return SqliteStore.open(file);
    const s = await PgStore.open(spec, { logger });
    logger.info({ store: redactUrl(spec) }, 'store: PostgreSQL, shared by the replicas');
    return s;
  } catch (e) {
    if (e instanceof StoreUnavailable || e instanceof StoreOpenError) throw new StartupError(e.message);
    throw e;
  }
}

/**
 * The object store of `cos://` paths, said in one log line (endpoint and region, never the keys).
 * An S3 endpoint is asked once (a ListBuckets of 3 s at most): one that does not answer, or refuses
 * the keys, is a warning, not a refusal to start — each object transfer then fails with its reason.
 */
async function openObjectStore(cfg: Config, dir: string, logger: Logger): Promise<{ store: ObjectStore; close(): void }> {
  const o = cfg.objectStore;
  if (o.type === 'embedded') {
    logger.info({ objectStore: { type: 'embedded', dir } }, `object store: embedded, in ${dir}`);
    return { store: new FsObjectStore(dir), close: () => {} };
  }
  const s3 = new S3ObjectStore({
    region: o.region, forcePathStyle: o.forcePathStyle,
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    ...(o.accessKeyId !== undefined && o.secretAccessKey !== undefined ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } : {}),
  });
  const where = s3.describe();
  logger.info({ objectStore: { type: 's3', ...where, keys: o.accessKeyId === undefined ? 'none' : 'configured' } },
    `object store: S3 at ${where.endpoint}, region ${where.region}${o.forcePathStyle ? ', path-style' : ''}`);
  if (o.accessKeyId === undefined) logger.warn('the object store has no keys (objectStore.accessKeyId, secretAccessKey): only requests carrying their own credentials are signed');
  if (o.endpoint !== undefined) {
    const problem = await s3.probe(3_000);
    if (problem) logger.warn({ objectStore: where }, `the object store does not answer as it should: ${problem}; starting anyway (cos:// transfers fail until it does)`);
  }
  return { store: s3, close: () => s3.close() };
}

const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (is another server running?); choose another --port',
  EACCES: 'permission denied (ports below 1024 need privileges); choose another --port',
  EADDRNOTAVAIL: 'this machine has no such address; choose another --host',
};

/** Where the other replicas reach this one by default: this host's name when the server listens on
 *  every address, else the address it listens on; the port as bound. */
function defaultAdvertiseUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? os.hostname() : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

export async function start(cfg: Config, opts: { clock?: Clock; logger?: Logger } = {}): Promise<Running> {
  const clock = opts.clock ?? systemClock;
  // with --port 0 the port is not known yet: the pid names this process instead
  const replicaId = cfg.replicaId ?? `${os.hostname()}:${cfg.port === 0 ? `pid${process.pid}` : cfg.port}`;
  const logger = opts.logger ?? createLogger(cfg.logLevel);
  // what the server writes (store, logs, objects) is its own: tasks run as other users
  process.umask(0o077);
  prepareDataDir(cfg.dataDir);
  const p = dataPaths(cfg.dataDir);
  // the lock first: nothing in the data dir (the generated key pair included) is touched by a second server
  const lock = lockDataDir(cfg.dataDir);
  if ('heldBy' in lock) {
    throw new StartupError(`another OpenBatch server${lock.heldBy === undefined ? '' : ` (pid ${lock.heldBy})`} is using the data directory ${cfg.dataDir}; stop it, or give this one another --data-dir`);
  }
  const slurmCli = cfg.slurm && new SlurmCli(cfg.slurm.binDir === undefined ? {} : { binDir: cfg.slurm.binDir });
  let maxArraySize: number | undefined;
  if (cfg.slurm) {
    // a config naming a Slurm command, partition or shared directory that is not there is refused now
    try {
      const limits = await checkSlurm(cfg.slurm, slurmCli!);
      maxArraySize = limits.maxArraySize;
      logger.info({ slurm: limits, queues: cfg.slurm.queues.map((q) => q.name) }, 'Slurm cluster checked');
    } catch (e) {
      lock.release();
      if (e instanceof SlurmSetupError) throw new StartupError(`config file "slurm": ${e.message}`);
      throw e;
    }
  }
  if (cfg.store !== 'sqlite' && !(cfg.defaultSecretId && cfg.defaultSecretKey)) {
    lock.release();
    // a key pair generated here would be this replica's alone: the others would refuse its requests
    throw new StartupError('a shared store (--store postgres://…) needs the same key pairs on every replica: set OPENBATCH_SECRET_ID and OPENBATCH_SECRET_KEY (and the same accounts in each config file)');
  }
  let accounts: ReturnType<typeof loadAccounts>;
  let store: Store;
  let plan: IsolationPlan;
  let local: ReturnType<typeof createLocalExecutor>;
  try {
    accounts = loadAccounts(cfg);
    const launcher = pickLauncher(cfg.launcher, (o, m) => logger.warn(o, m));
    plan = planIsolation(
      {
        dataDir: cfg.dataDir, configFile: cfg.configFile, runAs: cfg.runAs, defaultAccount: DEFAULT_ACCOUNT_ID,
        accounts: accounts.all.map((a) => ({ id: a.id, runAs: a.runAs })), enforceResources: cfg.enforceResources,
      },
      (dir) => probeNamespace(launcher, dir),
      (msg) => logger.info(msg),
    );
    local = createLocalExecutor(launcher, {
      stateDir: p.attempts, logger, nice: cfg.attemptNice, isolation: plan.isolation, layout: new LocalLayout(cfg.dataDir), slots: cfg.localSlots,
      // a shared store: handles say whose host runs them (one server alone owns every attempt of its data dir)
      ...(cfg.store === 'sqlite' ? {} : { owner: replicaId }),
    });
    store = await openStore(cfg.store, p.db, logger);
  } catch (e) {
    lock.release();
    if (e instanceof RunAsError) throw new StartupError(e.message);
    throw e;
  }
  for (const w of plan.warnings) logger.warn(w);
  const cgroups = plan.isolation.cgroups;
  // Slurm queues: instances of their tasks run as elements of job arrays, as the account's user
  const slurm = cfg.slurm;
  const slurmExecutor = slurm && new SlurmExecutor({
    cli: slurmCli!, sharedDir: slurm.sharedDir, maxArraySize, logger: logger.child({ component: 'slurm' }),
    partitionOf: (q) => slurm.queues.find((x) => x.name === q)?.partition,
    ...(slurm.anonymousQueue !== undefined ? { defaultQueue: slurm.anonymousQueue } : {}),
    userOf: (account) => plan.isolation.users?.get(account),
  });
  const cluster: QueueCluster | undefined = slurmCli && { kind: 'Slurm', nodes: (partitions) => listNodes(slurmCli, partitions) };
  const queues = new QueueEnvs(slurm?.queues ?? [], cfg.defaultRegion, cluster, clock.now());
  const queueOf = (envId: string | undefined) => (envId === undefined ? slurm?.anonymousQueue : queues.queueOfEnv(envId));
  const objects = await openObjectStore(cfg, p.objects, logger);
  // InputMappings, OutputMappings and packages: staged in front of every engine
  const stager = new Stager({
    root: p.staging, store: objects.store, cache: new ObjectCache(p.cache, cfg.cacheMaxBytes), userOf: (account) => plan.isolation.users?.get(account),
  });
  const executor = new StagingExecutor(new ExecutorRouter(local, slurmExecutor), stager, (o, m) => logger.warn(o, m));
  const shipper = new LogShipper(objects.store, p.local);
  const catalogue = new CatalogueService(cfg.limits, cfg.catalogue === undefined ? undefined : loadCatalogue(cfg.catalogue));
  const capacityOf = (t: string) => catalogue.capacityOf(t);
  // what a task's EnvVars may take: an exec's room less the longest inline command and what OpenBatch
  // adds (its base variables, BATCH_*, the launcher's own arguments)
  const envBytes = execArgBytes() - MAX_ARG_STRLEN - 16 * 1024;
  // Prometheus metrics (--metrics): the scheduler and the pipeline report to them; gauges read the
  // leading scheduler at scrape time (replica is made below, before any scrape)
  const metrics = cfg.metrics ? new Metrics({
    version: packageVersion(), actions: [...ACTION_NAMES, ...EXTENSION_NAMES],
    gauges: () => (replica.leading ? replica.scheduler?.gauges() : undefined), leading: () => replica.leading,
  }) : undefined;
  const capacity = new HostCapacity({ cpus: os.availableParallelism(), memGiB: os.totalmem() / 2 ** 30 }, cfg.overcommit);
  // each time this replica starts leading: a scheduler of its own, with node pools of its own, on a
  // host whose anonymous capacity the re-adopted attempts take again
  const makeScheduler = (holder: string, onLost: (why: string, takenOver: boolean) => void): Scheduler => (capacity.releaseAll(), new Scheduler({
    holder, onLost,
    store, executor, clock, logger: logger.child({ component: 'scheduler' }),
    afterAttempt: (a) => shipper.ship(a), capacity,
    resourcesOf: (t) => {
      const c = capacityOf(t);
      return c && { cpus: c.cpu, memGiB: c.memGiB };
    },
    pools: new EnvPools(store, clock, logger.child({ component: 'nodes' }), capacity), queueOf,
    // the monitor samples each attempt soon after its start and as it ends (it exists before the
    // scheduler starts, which is when the first of these can come)
    onStarted: (as) => monitor.attemptsStarted(as),
    onEnded: (a, exit, at) => monitor.attemptEnded(a, exit, at),
    ...(metrics ? { metrics } : {}),
  }));
  const replica = new Replica({
    id: replicaId, exclusive: store instanceof SqliteStore, store, clock, logger: logger.child({ component: 'replica', replica: replicaId }),
    executor, makeScheduler,
  });
  // the registry of replicas; on a shared store, the logs of local attempts that ran on another
  // replica's host are fetched from it, signed with a key derived from the shared key pair
  const directory = new ReplicaDirectory({ store, clock, logger: logger.child({ component: 'replicas' }), id: replicaId });
  const internalKey = cfg.store === 'sqlite' ? undefined : new InternalKey(cfg.defaultSecretId!, cfg.defaultSecretKey!);
  const logs = internalKey === undefined ? executor.logs : new RemoteLogs({
    inner: executor.logs, store, directory, key: internalKey, clock, logger: logger.child({ component: 'remote-logs' }),
  });
  const envs = new EnvService({
    store, commands: replica, view: replica, clock, limits: cfg.limits, localRoot: p.local, capacityOf, attachable: cfg.attachableInstances, capacity,
    queues, topics: new Set(cfg.notificationTopics.keys()),
  });
  const jobs = new JobService({
    store, commands: replica, clock, limits: cfg.limits, logs, localRoot: p.local, topics: new Set(cfg.notificationTopics.keys()),
    envUsable: (c, id) => envs.usable(c, id), knownInstanceType: (t) => capacityOf(t) !== undefined, capacityOf, capacity, envBytes, queueOf,
    envDataOf: (c, id) => envs.dataOf(c, id), privateMounts: (q) => executor.privateMounts(q),
  });
  const monitor: MonitorService = new MonitorService({
    store, scheduler: replica, clock, logger, intervalSec: cfg.monitorInterval, capacityOf,
    executor, queueOf,
  });
  const pipeline = new Pipeline({
    lookup: accounts.lookup,
    actions: buildActions({
      jobs,
      catalogue,
      templates: new TemplateService({
        store, clock, limits: cfg.limits, localRoot: p.local, envExists: (c, id) => envs.usable(c, id),
        knownInstanceType: (t) => capacityOf(t) !== undefined, envBytes,
      }),
      monitor,
      envs,
    }),
    extensions: buildExtensions({ attempts: new AttemptService({ store, logs }) }),
    rateLimiter: new RateLimiter(cfg.rateLimits, () => clock.now(), (k, l, t) => store.takeRateToken(k, l, t)),
    firstUse: (k, t, w) => store.firstUse(k, t, w),
    now: () => clock.now(),
    maxSkewSeconds: cfg.maxSkewSeconds,
    defaultRegion: cfg.defaultRegion,
    logger,
    ...(metrics ? { observe: (action: string, code: string, seconds: number) => metrics.observe(action, code, seconds) } : {}),
  });
  let ready = false;
  const server: FastifyInstance = buildServer({
    pipeline, maxBodyBytes: cfg.maxBodyBytes, logger, health: () => ready, events: { reader: new EventReader(store) }, console: true,
    status: async () => ({ ...(await replica.status()), replicas: await directory.list() }),
    ...(metrics ? { metrics: () => metrics.scrape() } : {}),
    ...(internalKey === undefined ? {} : { internal: { key: internalKey, logs: local.logs, now: () => clock.now(), logger: logger.child({ component: 'internal-api' }) } }),
  });
  // the monitor first: attempts re-adopted as this replica starts leading that ended meanwhile get their end sample
  monitor.start();
  const notifier = new Notifier({
    store, topics: cfg.notificationTopics, logger, leading: () => replica.leading,
    ...(metrics ? { onDelivery: (topic: string, ok: boolean) => metrics.eventDelivery(topic, ok) } : {}),
  });
  notifier.start();
  // files of deleted jobs that ran on this host while another replica led (or before a failover)
  const { layout } = local.logs;
  const sweeper = new LogSweeper({
    roots: [layout.logRoot, layout.workRoot], removeJob: (id) => local.logs.removeJob(id), store, logger: logger.child({ component: 'sweeper' }),
  });
  await replica.start();
  try {
    await server.listen({ host: cfg.host, port: cfg.port });
  } catch (e) {
    // attempts already started keep running under their shim; the next start adopts them
    monitor.stop();
    await notifier.stop();
    await replica.close();
    await executor.close();
    await store.close();
    objects.close();
    lock.release();
    const why = LISTEN_PROBLEMS[(e as NodeJS.ErrnoException).code ?? ''];
    if (why) throw new StartupError(`cannot listen on ${cfg.host}:${cfg.port}: ${why}`);
    throw e;
  }
  ready = true;
  sweeper.start();
  const port = (server.server.address() as AddressInfo).port;
  const host = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  const advertiseUrl = cfg.advertiseUrl ?? defaultAdvertiseUrl(cfg.host, port);
  await directory.start(advertiseUrl);
  logger.info({ replica: replicaId, advertiseUrl }, `registered as replica ${replicaId} at ${advertiseUrl}`);
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    accounts,
    replica,
    logger,
    isolation: { summary: plan.summary, warnings: plan.warnings },
    close() {
      closing ??= (async () => {
        ready = false;
        monitor.stop();
        await notifier.stop();
        await sweeper.stop();
        directory.stop();
        await server.close();
        await replica.close();
        await executor.close();
        if (cgroups) removeParents(cgroups); // left alone where attempts still run (they outlive us)
        await store.close();
        objects.close();
        lock.release();
        logger.flush?.();
      })();
      return closing;
    },
  };
}
