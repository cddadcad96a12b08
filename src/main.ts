// Composition root: config → store, executor, object store → scheduler, services → API server.
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildActions } from './api/actions/index.ts';
import { Pipeline } from './api/pipeline.ts';
import { RateLimiter } from './api/ratelimit.ts';
import { buildServer } from './api/server.ts';
import type { Config } from './config/config.ts';
import { createLocalExecutor } from './executors/local/factory.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { FsObjectStore } from './objectstore/fs/fs-store.ts';
import { EnvPools } from './scheduler/env-pools.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { loadAccounts, type Accounts } from './services/accounts.ts';
import { loadCatalogue } from './domain/catalogue.ts';
import { CatalogueService } from './services/catalogue.ts';
import { EnvService } from './services/envs.ts';
import { JobService } from './services/jobs.ts';
import { MonitorService } from './services/monitor.ts';
import { TemplateService } from './services/templates.ts';
import { LogLayout } from './services/log-layout.ts';
import { LogShipper } from './services/log-shipper.ts';
import { SqliteStore } from './store/sqlite/sqlite-store.ts';

export interface Running {
  url: string;
  port: number;
  accounts: Accounts;
  scheduler: Scheduler;
  logger: Logger;
  close(): Promise<void>;
}

/** Data dir layout (documented in docs/data-dir.md). */
export function dataPaths(dataDir: string) {
  return {
    db: path.join(dataDir, 'openbatch.db'),
    objects: path.join(dataDir, 'objects'),
    local: path.join(dataDir, 'local'),
    attempts: path.join(dataDir, 'attempts'),
  };
}

export async function start(cfg: Config, opts: { clock?: Clock; logger?: Logger } = {}): Promise<Running> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(cfg.logLevel);
  fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const p = dataPaths(cfg.dataDir);
  const accounts = loadAccounts(cfg);
  const store = new SqliteStore(p.db);
  const executor = createLocalExecutor(cfg.launcher, { stateDir: p.attempts, logger });
  const objects = new FsObjectStore(p.objects);
  const logs = new LogLayout(cfg.dataDir);
  const shipper = new LogShipper(objects, p.local);
  const scheduler = new Scheduler({
    store, executor, clock, logger: logger.child({ component: 'scheduler' }), dataDir: cfg.dataDir, logs,
    slots: cfg.localSlots, afterAttempt: (a) => shipper.ship(a),
    pools: new EnvPools(store, clock, logger.child({ component: 'nodes' })),
  });
  const catalogue = new CatalogueService(cfg.limits, cfg.catalogue === undefined ? undefined : loadCatalogue(cfg.catalogue));
  const capacityOf = (t: string) => catalogue.capacityOf(t);
  const envs = new EnvService({
    store, scheduler, clock, limits: cfg.limits, localRoot: p.local, capacityOf, attachable: cfg.attachableInstances,
  });
  const jobs = new JobService({
    store, scheduler, clock, limits: cfg.limits, logs, localRoot: p.local, dataDir: cfg.dataDir,
    envUsable: (c, id) => envs.usable(c, id), knownInstanceType: (t) => capacityOf(t) !== undefined,
  });
  const monitor = new MonitorService({
    store, scheduler, clock, logger, intervalSec: cfg.monitorInterval, capacityOf,
  });
  const pipeline = new Pipeline({
    lookup: accounts.lookup,
    actions: buildActions({
      jobs,
      catalogue,
      templates: new TemplateService({
        store, clock, limits: cfg.limits, localRoot: p.local, envExists: (c, id) => envs.usable(c, id),
        knownInstanceType: (t) => capacityOf(t) !== undefined,
      }),
      monitor,
      envs,
    }),
    rateLimiter: new RateLimiter(cfg.rateLimits, () => clock.now()),
    now: () => clock.now(),
    maxSkewSeconds: cfg.maxSkewSeconds,
    defaultRegion: cfg.defaultRegion,
    logger,
  });
  let ready = false;
  const server: FastifyInstance = buildServer({ pipeline, maxBodyBytes: cfg.maxBodyBytes, logger, health: () => ready });
  await scheduler.start();
  monitor.start();
  await server.listen({ host: cfg.host, port: cfg.port });
  ready = true;
  const port = (server.server.address() as AddressInfo).port;
  const host = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    accounts,
    scheduler,
    logger,
    close() {
      closing ??= (async () => {
        ready = false;
        monitor.stop();
        await server.close();
        await scheduler.close();
        await executor.close();
        await store.close();
        logger.flush?.();
      })();
      return closing;
    },
  };
}
