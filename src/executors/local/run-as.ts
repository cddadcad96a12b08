// Which user each account's attempts run as. A server running as root never runs attempts as root:
// each account gets an unprivileged user of its own — the one the operator names (`runAs`, per
// account or for the default account), else a dedicated system user created on first start
// (`openbatch-task` for the default account, `openbatch-<hash of the account id>` for the others).
// No two accounts share a user, so one account's attempts cannot read or signal another's.
// A server that is not root runs every attempt as itself (it cannot switch users).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';

export interface RunUser {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary groups (the user's groups from the system's group database). */
  groups: number[];
  home: string;
}

export const DEFAULT_TASK_USER = 'openbatch-task';

export class RunAsError extends Error {}

export interface RunAsInput {
  /** The server's `runAs` setting: the user of the default account's attempts. */
  runAs?: string;
  defaultAccount: string;
  /** Every account, with the user its config entry names, if any. */
  accounts: { id: string; runAs?: string }[];
}

/** The user name of each account's attempts (root server) and whether OpenBatch may create it. */
export function taskUserNames(i: RunAsInput): Map<string, { name: string; dedicated: boolean }> {
  const out = new Map<string, { name: string; dedicated: boolean }>();
  const byName = new Map<string, string>();
  for (const a of i.accounts) {
    const named = a.runAs ?? (a.id === i.defaultAccount ? i.runAs : undefined);
    const name = named ?? (a.id === i.defaultAccount ? DEFAULT_TASK_USER : dedicatedName(a.id));
    if (name === 'root') throw new RunAsError(`account ${a.id} would run its tasks as root: name an unprivileged user (runAs)`);
    const other = byName.get(name);
    if (other !== undefined) {
      throw new RunAsError(`accounts ${other} and ${a.id} would both run their tasks as the user ${name}: each account needs a user of its own (runAs in its accounts entry), so that its tasks cannot read the other's`);
    }
    byName.set(name, a.id);
    out.set(a.id, { name, dedicated: named === undefined });
  }
  return out;
}

/** `openbatch-` and 8 hex digits of the account id's SHA-256: a valid user name whatever the id is. */
export function dedicatedName(accountId: string): string {
  return `openbatch-${createHash('sha256').update(accountId).digest('hex').slice(0, 8)}`;
}

/**
 * Resolve (and, for dedicated users, create) the users of every account. Root only; throws
 * RunAsError with a message for the operator when a named user does not exist or cannot be created.
 */
export function resolveTaskUsers(i: RunAsInput, log: (msg: string) => void): Map<string, RunUser> {
  const out = new Map<string, RunUser>();
  for (const [account, { name, dedicated }] of taskUserNames(i)) {
    let u = lookupUser(name);
    if (!u && dedicated) {
      createUser(name, account);
      log(`created the user ${name} for the tasks of account ${account}`);
      u = lookupUser(name);
    }
    if (!u) throw new RunAsError(`the user ${name} (runAs of account ${account}) does not exist on this machine`);
    if (u.uid === 0) throw new RunAsError(`the user ${name} (runAs of account ${account}) has uid 0: tasks must not run with the server's privileges`);
    out.set(account, u);
  }
  return out;
}

/** A user from the system's user database (getent: NSS, so LDAP users count too), or undefined. */
export function lookupUser(name: string): RunUser | undefined {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined; // getent: no such user (exit 2)
    line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`)) ?? '';
  }
  const f = line.split(':');
  if (f.length < 7 || f[0] !== name) return undefined;
  const uid = Number(f[2]), gid = Number(f[3]);
  let groups = [gid];
  try {
    groups = execFileSync('id', ['-G', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(/\s+/).map(Number);
  } catch {
    // no `id`: the primary group only
  }
  return { name, uid, gid, groups: groups.filter((g) => Number.isInteger(g)), home: f[5] || '/' };
}

const USERADD = ['/usr/sbin/useradd', '/sbin/useradd'];
const NOLOGIN = ['/usr/sbin/nologin', '/sbin/nologin', '/bin/false'];

/** A system user with a group of its own, a home in /var/lib (tasks may keep caches there) and no
 *  login shell. Several servers starting at once may race: "already exists" is success. */
function createUser(name: string, account: string): void {
  const useradd = USERADD.find((p) => fs.existsSync(p));
  if (!useradd) throw new RunAsError(`the user ${name} for the tasks of account ${account} is missing and cannot be created (no useradd on this machine): create it, or name an existing unprivileged user with --run-as / runAs`);
  const shell = NOLOGIN.find((p) => fs.existsSync(p)) ?? '/bin/false';
  const args = ['--system', '--user-group', '--create-home', '--home-dir', `/var/lib/${name}`, '--shell', shell, '--comment', `OpenBatch tasks of account ${account}`, name];
  for (let tries = 0; ; tries++) {
    try {
      execFileSync(useradd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      return;
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 9) return; // created meanwhile by another server
      // 10: /etc/passwd is locked by another useradd; try again shortly
      if (status === 10 && tries < 50) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        continue;
      }
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
      throw new RunAsError(`cannot create the user ${name} for the tasks of account ${account}: ${stderr || (e as Error).message}`);
    }
  }
}
