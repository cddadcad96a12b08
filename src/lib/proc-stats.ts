// CPU time and resident memory of whole process groups, read from /proc (Linux).
import fs from 'node:fs';
import os from 'node:os';

export interface GroupUsage {
  /** CPU seconds used so far by the group's live processes and the children they reaped. */
  cpuSeconds: number;
  /** Resident memory of the group's live processes, bytes. */
  rssBytes: number;
  /** Seconds since the group leader started (when the leader is alive). */
  ageSeconds: number | undefined;
}

function uptimeSeconds(): number {
  try {
    return Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  } catch {
    return os.uptime();
  }
}

// USER_HZ is 100 on every Linux architecture Node supports; the page size comes from the kernel.
const TICKS_PER_SECOND = 100;
let pageSize = 4096;
try {
  // statm gives pages; status gives kB for the same RSS: their ratio is the page size
  const statm = fs.readFileSync('/proc/self/statm', 'utf8').split(' ');
  const kb = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
  const pages = Number(statm[1]);
  if (kb && pages > 0) {
    const p = Math.round((Number(kb) * 1024) / pages / 4096) * 4096;
    if (p >= 4096) pageSize = p;
  }
} catch {
  // not Linux
}

/** Usage of each of the given process groups (groups with no live process are absent). */
export function groupUsage(pgids: Set<number>): Map<number, GroupUsage> {
  const out = new Map<number, GroupUsage>();
  if (pgids.size === 0) return out;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  const uptime = uptimeSeconds();
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let s: string;
    try {
      s = fs.readFileSync(`/proc/${e}/stat`, 'latin1');
    } catch {
      continue; // gone
    }
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] = field 3 (state); field n is f[n - 3]
    const pgrp = Number(f[2]);
    if (!pgids.has(pgrp) || f[0] === 'Z') continue;
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    const rss = Number(f[21]) * pageSize;
    const u = out.get(pgrp) ?? { cpuSeconds: 0, rssBytes: 0, ageSeconds: undefined };
    u.cpuSeconds += ticks / TICKS_PER_SECOND;
    u.rssBytes += rss;
    if (Number(e) === pgrp) u.ageSeconds = Math.max(0, uptime - Number(f[19]) / TICKS_PER_SECOND);
    out.set(pgrp, u);
  }
  return out;
}

export const HOST_CPUS = os.availableParallelism();
export const HOST_MEMORY_BYTES = os.totalmem();
