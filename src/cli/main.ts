// `openbatch` command line: `openbatch serve` starts the service; every other command is a user
// command (user/commands.ts) that talks to a running service through the SDK. Serve's help is made from the config
// module's tables (FLAG_HELP, ENV_HELP, SLURM_FILE_HELP, OBJECT_STORE_FILE_HELP), so that it names every setting and
// environment variable.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { CONFIG_FILE_ENV, ConfigError, ENV_HELP, FLAG_HELP, loadConfig, NOTIFICATIONS_FILE_HELP, OBJECT_STORE_FILE_HELP, SLURM_FILE_HELP } from '../config/config.ts';
import { CatalogueError } from '../domain/catalogue.ts';
import { start, StartupError } from '../main.ts';
import { launchedByNpm, watchParent } from './parent-watch.ts';
import { buildProgram, runUserCommand } from './user/commands.ts';

const OPTIONS: [string, string][] = [...Object.entries(FLAG_HELP), ['help', 'show this help']];
const WIDTH = Math.max(...OPTIONS.map(([k]) => k.length));

const USAGE = `Usage: openbatch serve [options]

Starts the OpenBatch service (Tencent Cloud Batch API 2017-03-12). The other commands (submit, jobs,
watch, logs, ...) talk to a running service: openbatch --help lists them.

Options of serve:
${OPTIONS.map(([k, v]) => `  --${k.padEnd(WIDTH)}  ${v}`).join('\n')}

Environment:
${ENV_HELP.map(({ env, help }) => `  ${env.padEnd(31)} ${help}`).join('\n')}

Config file section "slurm" (Slurm partitions as THPC_QUEUE compute environments; checked against the cluster at start):
${SLURM_FILE_HELP.map(({ key, help }) => `  ${key.padEnd(22)} ${help}`).join('\n')}

Config file section "objectStore" (where cos:// paths live; its environment variables above override its fields):
${OBJECT_STORE_FILE_HELP.map(({ key, help }) => `  ${key.padEnd(28)} ${help}`).join('\n')}

Config file section "notifications" (webhooks of the Notifications of SubmitJob; docs/events.md):
${NOTIFICATIONS_FILE_HELP.map(({ key, help }) => `  ${key.padEnd(22)} ${help}`).join('\n')}

Precedence: flags > environment > config file > defaults.
`;

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== 'serve') {
    if (cmd === undefined) {
      buildProgram(version()).outputHelp({ error: true });
      return 2;
    }
    return runUserCommand(argv, version());
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: Object.fromEntries([...Object.keys(FLAG_HELP).map((k) => [k, { type: 'string' as const }]), ['help', { type: 'boolean' as const }]]),
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`openbatch serve: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const flags = Object.fromEntries(Object.entries(values).filter(([k, v]) => k !== 'help' && k !== 'config' && typeof v === 'string')) as Record<string, string>;
  const configFile = (values.config as string | undefined) ?? process.env[CONFIG_FILE_ENV];
  let cfg;
  try {
    const file = configFile ? (JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>) : undefined;
    cfg = loadConfig({ env: process.env, flags, file });
    if (configFile) cfg.configFile = path.resolve(configFile);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof SyntaxError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`openbatch serve: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
  let running;
  try {
    running = await start(cfg);
  } catch (e) {
    if (e instanceof CatalogueError) {
      process.stderr.write(`openbatch serve: ${e.message}\n`);
      return 2;
    }
    if (e instanceof StartupError) {
      process.stderr.write(`openbatch serve: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  // a stray rejection must never take the service (and every job's bookkeeping) down
  process.on('unhandledRejection', (reason) => running.logger.error({ err: reason }, 'unhandled promise rejection'));
  const acc = running.accounts;
  // one write, so that whoever reads the banner sees it whole
  const keys = acc.generated
    ? `Generated the default account's API key pair (kept in ${cfg.dataDir}/credentials.json; shown only this once):\n` +
      `  SecretId:  ${acc.defaultAccount.secretId}\n  SecretKey: ${acc.defaultAccount.secretKey}\n`
    : `Default account SecretId: ${acc.defaultAccount.secretId}\n`;
  const iso = running.isolation;
  const notes = `${iso.summary}\n${iso.warnings.map((w) => `Warning: ${w}\n`).join('')}`;
  // the signal handlers come before the banner: whoever waits for it may stop the server at once
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: { signal: string } | { reason: string }) => {
      if (stopping) return;
      stopping = true;
      running.logger.info(why, 'stopping; running attempts keep running and are re-adopted on restart');
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      void running.close().then(resolve, (e: unknown) => {
        running.logger.error({ err: e }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGTERM', () => stop({ signal: 'SIGTERM' }));
    process.on('SIGINT', () => stop({ signal: 'SIGINT' }));
    // a signal sent to npm (npx, npm start) may end npm and its `sh -c` without reaching us
    if (launchedByNpm()) watchParent(() => stop({ reason: 'the npm process that started the server exited' }));
  });
  process.stdout.write(`OpenBatch listening on ${running.url} (region ${cfg.defaultRegion}, data dir ${cfg.dataDir})\n${keys}${notes}`);
  await stopped;
  return 0;
}
