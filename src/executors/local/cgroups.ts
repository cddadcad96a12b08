// Per-attempt cgroups, the way Slurm's cgroup plugins do it: at start the server finds the cgroup
// controllers it may use (cgroup v1 hierarchies, or the v2 tree) below its own cgroup and prepares one
// parent directory per hierarchy (`openbatch-<tag>`, the tag naming the data dir); the shim then gives
// each attempt `<parent>/<attempt key>` with its instance type's limits (see native/openbatch-shim.c).
// This module also reads an attempt's counters (monitoring), signals every process of an attempt,
// and removes an attempt's cgroups when the supervisor could not.
import fs from 'node:fs';
import path from 'node:path';

/** The controllers whose limits are enforced; cpuacct (v1) is used for CPU time when present. */
const REQUIRED = ['memory', 'cpu', 'pids'] as const;

export interface CgroupLayout {
  version: 1 | 2;
  /** Parent directories of attempt cgroups: one per v1 hierarchy, or the one v2 directory. */
  parents: string[];
  /** The parent holding each controller's files (v1: its hierarchy's; v2: the one parent). */
  memory: string;
  cpu: string;
  pids: string;
  /** v1 only, where a cpuacct hierarchy exists: CPU time (cpuacct.usage). */
  cpuacct?: string;
}

interface Hierarchy {
  controllers: string[];
  mount: string;
  /** Our own cgroup's directory in it. */
  own: string;
}

/** Mounted cgroup hierarchies and our own cgroup in each (from /proc/self/mountinfo and /proc/self/cgroup). */
function hierarchies(): { v1: Hierarchy[]; v2: Hierarchy | undefined } {
  // "4:memory:/a/b" (v1: the hierarchy's controllers) or "0::/a/b" (v2)
  const own: { controllers: string[]; path: string }[] = [];
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) own.push({ controllers: m[1] === '' ? [] : m[1]!.split(','), path: m[2]! });
  }
  const v1: Hierarchy[] = [];
  let v2: Hierarchy | undefined;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const root = unescapeMount(fields[3] ?? '/'), mountPoint = unescapeMount(fields[4] ?? '');
    const [fstype, , options = ''] = right.split(' ');
    const opts = options.split(',');
    const at = (p: string) => path.join(mountPoint, path.relative(root, p));
    if (fstype === 'cgroup2') {
      const mine = own.find((o) => o.controllers.length === 0);
      if (mine && !v2) v2 = { controllers: [], mount: mountPoint, own: at(mine.path) };
    } else if (fstype === 'cgroup') {
      const mine = own.find((o) => o.controllers.length > 0 && !o.controllers[0]!.startsWith('name=') && o.controllers.every((c) => opts.includes(c)));
      if (mine && !v1.some((h) => h.mount === mountPoint)) v1.push({ controllers: mine.controllers, mount: mountPoint, own: at(mine.path) });
    }
  }
  return { v1, v2 };
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Prepare the parents of attempt cgroups. Returns the layout, or why cgroups cannot be used here
 * (missing controller, no permission) — the caller says so once and runs attempts without limits.
 */
export function setupCgroups(tag: string): CgroupLayout | { unavailable: string } {
  const l = locate(tag);
  if ('unavailable' in l) return l;
  const problem = l.version === 1 ? prepare(l.parents) : delegateV2(path.dirname(l.memory), path.basename(l.memory));
  return problem ? { unavailable: problem } : l;
}

/** Where this data dir's attempt cgroups go (nothing is created), or why there is no place. */
function locate(tag: string): CgroupLayout | { unavailable: string } {
  if (process.platform !== 'linux') return { unavailable: 'cgroups exist on Linux only' };
  let found;
  try {
    found = hierarchies();
  } catch (e) {
    return { unavailable: `cannot read this process's cgroups (${(e as Error).message})` };
  }
  const name = `openbatch-${tag}`;
  const v1 = REQUIRED.map((c) => found.v1.find((h) => h.controllers.includes(c)));
  if (v1.every((h) => h !== undefined)) {
    const acct = found.v1.find((h) => h.controllers.includes('cpuacct'));
    const dirs = new Map<Hierarchy, string>();
    for (const h of [...v1, ...(acct ? [acct] : [])] as Hierarchy[]) dirs.set(h, path.join(h.own, name));
    return {
      version: 1, parents: [...new Set(dirs.values())],
      memory: dirs.get(v1[0]!)!, cpu: dirs.get(v1[1]!)!, pids: dirs.get(v1[2]!)!, cpuacct: acct ? dirs.get(acct) : undefined,
    };
  }
  if (!found.v2) {
    const missing = REQUIRED.filter((_c, i) => !v1[i]);
    return { unavailable: `no cgroup hierarchy has the ${missing.join(', ')} controller${missing.length > 1 ? 's' : ''}` };
  }
  const dir = path.join(found.v2.own, name);
  return { version: 2, parents: [dir], memory: dir, cpu: dir, pids: dir };
}

/** The parents of this data dir's attempt cgroups, as setupCgroups makes them (none made here). */
export function cgroupParents(tag: string): string[] {
  const l = locate(tag);
  return 'unavailable' in l ? [] : l.parents;
}

/** Create the v1 parents and check that a child with limits can be made in each. */
function prepare(dirs: string[]): string | undefined {
  for (const d of dirs) {
    const probe = path.join(d, `probe-${process.pid}`);
    try {
      fs.mkdirSync(d, { recursive: true });
      // readable as cgroups are on any host: an attempt may read its own counters and limits
      fs.chmodSync(d, 0o755);
      fs.mkdirSync(probe);
      for (const [f, v] of [['memory.limit_in_bytes', '1073741824'], ['cpu.cfs_quota_us', '100000'], ['pids.max', '64']] as const) {
        if (fs.existsSync(path.join(probe, f))) fs.writeFileSync(path.join(probe, f), v);
      }
    } catch (e) {
      return `cannot create cgroups in ${d} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    } finally {
      try {
        fs.rmdirSync(probe);
      } catch {
        // never created
      }
    }
  }
  return undefined;
}

/**
 * cgroup v2: attempt cgroups need the cpu, memory and pids controllers enabled for the children of our
 * cgroup. A cgroup with processes cannot hand controllers down ("no internal processes"), so, as a
 * delegated service should (systemd Delegate=yes), this server and its launcher (npx, sh) move into a
 * leaf `<own>/openbatch-<tag>-server` first — only when nothing else lives in our cgroup.
 */
function delegateV2(own: string, name: string): string | undefined {
  const need = REQUIRED.map((c) => `+${c}`).join(' ');
  try {
    const available = fs.readFileSync(path.join(own, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    const missing = REQUIRED.filter((c) => !available.includes(c));
    if (missing.length > 0) return `cgroup v2: the ${missing.join(', ')} controller${missing.length > 1 ? 's are' : ' is'} not delegated to ${own}`;
    try {
      fs.writeFileSync(path.join(own, 'cgroup.subtree_control'), need);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
      const procs = fs.readFileSync(path.join(own, 'cgroup.procs'), 'utf8').trim().split(/\s+/).map(Number);
      const ours = new Set(ancestors(process.pid));
      const strangers = procs.filter((p) => !ours.has(p));
      if (strangers.length > 0) {
        return `cgroup v2: ${own} holds processes other than this server (${strangers.slice(0, 5).join(', ')}), so it cannot give controllers to cgroups below it; run OpenBatch in a cgroup of its own (systemd: Delegate=yes)`;
      }
      const leaf = path.join(own, `${name}-server`);
      fs.mkdirSync(leaf, { recursive: true });
      for (const p of procs) fs.writeFileSync(path.join(leaf, 'cgroup.procs'), String(p));
      fs.writeFileSync(path.join(own, 'cgroup.subtree_control'), need);
    }
    const dir = path.join(own, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), need);
    return undefined;
  } catch (e) {
    return `cgroup v2: cannot prepare ${path.join(own, name)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}

function ancestors(pid: number): number[] {
  const out: number[] = [];
  for (let p = pid; p > 1 && out.length < 64; ) {
    out.push(p);
    try {
      const s = fs.readFileSync(`/proc/${p}/stat`, 'latin1');
      p = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return out;
}

/** The process ids in an attempt's cgroup (`name`: its handle's cgroup; empty when it has none). */
export function attemptPids(layout: CgroupLayout, name: string): number[] {
  try {
    return fs.readFileSync(path.join(layout.pids, name, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface CgroupUsage {
  /** CPU seconds used by the attempt so far (undefined where no cgroup counts CPU time). */
  cpuSeconds: number | undefined;
  /** Memory the attempt uses, as its limit counts it, without inactive file cache. */
  memoryBytes: number;
}

/** The counters of an attempt's cgroups (`name`: its handle's cgroup), or undefined when it has none.
 *  Memory leaves out inactive file cache (what an earlier attempt of the same slot left included).
 *  CPU time counts from the attempt's start in v1 (the shim resets cpuacct.usage); in v2 a slot's
 *  cpu.stat counts every attempt it ran, so it is not given (the caller reads /proc instead). */
export function attemptUsage(layout: CgroupLayout, name: string): CgroupUsage | undefined {
  const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, name, file), 'utf8');
  try {
    const stat = read(layout.memory, 'memory.stat');
    let memoryBytes: number, cpuSeconds: number | undefined;
    if (layout.version === 1) {
      const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
      memoryBytes = Math.max(0, Number(read(layout.memory, 'memory.usage_in_bytes')) - inactive);
      cpuSeconds = layout.cpuacct ? Number(read(layout.cpuacct, 'cpuacct.usage')) / 1e9 : undefined;
    } else {
      const inactive = Number(/^inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
      memoryBytes = Math.max(0, Number(read(layout.memory, 'memory.current')) - inactive);
      cpuSeconds = undefined;
    }
    return { cpuSeconds, memoryBytes };
  } catch {
    return undefined;
  }
}

/** Kill what is left in an attempt's cgroups and remove them (best effort: its supervisor normally
 *  does; this is for attempts whose supervisor died). */
export function removeAttemptCgroups(layout: CgroupLayout, name: string): void {
  for (const pid of attemptPids(layout, name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const parent of layout.parents) {
    try {
      fs.rmdirSync(path.join(parent, name));
    } catch {
      // gone, or a process is still exiting: the next start's sweep or the shim removes it
    }
  }
}

/** Remove the parents when no attempt cgroup is left in them (the server stops). */
export function removeParents(layout: CgroupLayout): void {
  for (const parent of layout.parents) {
    try {
      fs.rmdirSync(parent);
    } catch {
      // attempts still run (they outlive the server) or it is gone
    }
  }
}
