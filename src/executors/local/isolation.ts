// How local attempts are kept from the server and from each other, decided once at start (see
// docs/security.md): the user of each account's attempts (run-as.ts), the data dir's permissions
// (nothing in it readable by them but the way to their own working directories), a private mount
// namespace per attempt that hides the data dir and the config file, and per-attempt cgroups with the
// instance type's limits (cgroups.ts). What cannot be had here is said once, with the reason.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LocalIsolation } from './base.ts';
import { setupCgroups } from './cgroups.ts';
import { resolveTaskUsers, RunAsError, type RunAsInput } from './run-as.ts';
import type { EnforceMode } from '../../config/choices.ts';

/** pids.max of each attempt's cgroup. */
export const ATTEMPT_PIDS_MAX = 4096;

export interface IsolationInput extends RunAsInput {
  dataDir: string;
  /** The config file (it may hold account keys): hidden from attempts too. */
  configFile?: string;
  enforceResources: EnforceMode;
}

export interface IsolationPlan {
  isolation: LocalIsolation;
  /** What could not be had, each said once at start. */
  warnings: string[];
  /** One line for the start banner: who runs tasks, how they are kept apart, what is enforced. */
  summary: string;
}

/**
 * @param probeNamespace whether the launcher can give an attempt a mount namespace that covers `dir`
 *   (undefined: yes; else why not)
 */
export function planIsolation(i: IsolationInput, probeNamespace: (dir: string) => string | undefined, log: (msg: string) => void): IsolationPlan {
  const warnings: string[] = [];
  const root = process.getuid?.() === 0;
  let users: LocalIsolation['users'] = null;
  if (root) {
    users = resolveTaskUsers(i, log);
  } else {
    const me = os.userInfo().username;
    const named = [i.runAs, ...i.accounts.map((a) => a.runAs)].filter((n) => n !== undefined && n !== me);
    if (named.length > 0) throw new RunAsError(`tasks can run as ${named[0]} only when the server runs as root; this server runs as ${me}`);
    if (i.accounts.length > 1) warnings.push(`the server runs as ${me} (not root): the tasks of every account run as ${me} too, and can read what ${me} can — the data dir, the store, every account's keys and logs. Run the server as root to run each account's tasks as a user of its own`);
  }
  secureDataDir(i.dataDir, users !== null);
  const hide: string[] = [];
  let namespaces = false;
  if (root) {
    const why = probeNamespace(i.dataDir);
    if (why === undefined) {
      namespaces = true;
      hide.push(i.dataDir);
      if (i.configFile && !isInside(path.resolve(i.configFile), i.dataDir)) hide.push(path.resolve(i.configFile));
    } else {
      warnings.push(`no private mount namespace for tasks (${why}): they are kept out of the data dir by its permissions only, and they cannot have private mounts (InputMappings, OutputMappings)`);
    }
  }
  if (i.configFile) {
    const mode = fs.statSync(i.configFile).mode;
    if (mode & 0o044 && hide.length === 0) warnings.push(`the config file ${i.configFile} is readable by other users (mode ${(mode & 0o777).toString(8)}) and may hold account keys: chmod 600 it`);
  }
  let cgroups: LocalIsolation['cgroups'] = null;
  if (i.enforceResources === 'on') {
    const got = setupCgroups(tagOf(i.dataDir));
    if ('unavailable' in got) warnings.push(`the vCPUs and memory of instance types are not enforced: ${got.unavailable} (--enforce-resources off silences this)`);
    else cgroups = got;
  }
  const reach = untraversable(i.dataDir);
  if (users && reach) warnings.push(`${reach} cannot be entered by other users, so tasks cannot reach their working directory by its path (they start in it); choose a --data-dir below a directory others may traverse`);
  const who = users ? `as ${[...new Set([...users.values()].map((u) => u.name))].join(', ')}` : `as ${os.userInfo().username} (the server's user)`;
  const how = [hide.length > 0 ? 'a private mount namespace' : '', users ? 'data dir permissions' : ''].filter(Boolean).join(' and ');
  const limits = cgroups ? `vCPUs, memory and pids limited by cgroup v${cgroups.version}` : 'resources not enforced';
  return {
    isolation: { users, hide, namespaces, cgroups, pidsMax: cgroups ? ATTEMPT_PIDS_MAX : 0 },
    warnings,
    summary: `Tasks run ${who}${how ? `, kept from the server's files by ${how}` : ''}; ${limits}`,
  };
}

/** Names this data dir's cgroups (several servers may share a machine). */
export function tagOf(dataDir: string): string {
  return createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
}

/**
 * Attempts may pass through the data dir to their working directories (0711: enter, not list) when
 * they run as another user; everything else in it is the server's alone. Files the server creates
 * later get 0600 from its umask (set at start).
 */
export function secureDataDir(dataDir: string, otherUsers: boolean): void {
  const chmod = (p: string, mode: number) => {
    try {
      fs.chmodSync(p, mode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  };
  chmod(dataDir, otherUsers ? 0o711 : 0o700);
  for (const f of ['openbatch.db', 'openbatch.db-wal', 'openbatch.db-shm', 'credentials.json', 'server.lock', 'server.pid']) chmod(path.join(dataDir, f), 0o600);
  for (const d of ['logs', 'attempts', 'objects', 'local', 'staging', 'cache']) chmod(path.join(dataDir, d), 0o700);
  fs.mkdirSync(path.join(dataDir, 'work'), { recursive: true });
  chmod(path.join(dataDir, 'work'), otherUsers ? 0o711 : 0o700);
}

/** The first directory above `dir` that others cannot enter, or undefined. */
function untraversable(dir: string): string | undefined {
  for (let d = path.dirname(path.resolve(dir)); ; d = path.dirname(d)) {
    try {
      if ((fs.statSync(d).mode & 0o001) === 0) return d;
    } catch {
      return undefined;
    }
    if (d === path.dirname(d)) return undefined;
  }
}

function isInside(p: string, dir: string): boolean {
  const rel = path.relative(path.resolve(dir), p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}
