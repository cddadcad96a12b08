// The nodes of the Slurm partitions behind THPC_QUEUE compute environments: one sinfo call lists
// them (per node: its partitions, CPUs, memory, Slurm state and the reason an operator or Slurm
// gave), and the Slurm state of a node maps to a Tencent ComputeNodeState (nodeStateOf, pure).
import type { SlurmCli } from './cli.ts';

/** The ComputeNodeState values (batch-api.md §d.4) a Slurm node can be in. */
export type SlurmNodeState = 'CREATING' | 'CREATED' | 'RUNNING' | 'ABNORMAL' | 'DELETING';

export interface SlurmNode {
  /** Slurm's NodeName. */
  name: string;
  /** The asked partitions the node is in (sorted). */
  partitions: string[];
  cpus: number;
  /** RealMemory as Slurm counts it (MiB). */
  memoryMiB: number;
  /** sinfo's extended state with its flag suffix, e.g. `idle`, `mixed`, `drained`, `down*`. */
  slurmState: string;
  state: SlurmNodeState;
  /** Why the node is down, drained or failing (absent when Slurm gives none). */
  reason?: string;
}

/**
 * Fields of `sinfo -N` (one line per node and partition): NodeName, partition (without the `*` of
 * the default one), CPUs, RealMemory, extended state, reason. The reason comes last: it is free
 * text (it may hold the separator).
 */
export const SINFO_NODE_FORMAT = '%N|%R|%c|%m|%T|%E';

// sinfo's state suffixes (man sinfo, NODE STATE CODES): * not responding, ~ powered off,
// # powering up, ! pending power down, % powering down, $ maintenance reservation, @ pending
// reboot, ^ reboot issued, - planned by backfill; `+` (allocated+) some of its jobs completing.
const SUFFIXES = /[*~#!%$@^+-]+$/;

/**
 * Base states (sinfo's `%T` without its suffix) and the ComputeNodeState each is. Idle, allocated,
 * mixed and completing are RUNNING; down, drained, draining, fail, failing, unknown are ABNORMAL.
 */
export const NODE_STATE_OF_BASE: ReadonlyMap<string, SlurmNodeState> = new Map<string, SlurmNodeState>([
  ['idle', 'RUNNING'], ['allocated', 'RUNNING'], ['mixed', 'RUNNING'], ['completing', 'RUNNING'],
  // COMPAT: usable for work, though not by everyone or not right now: still a running node
  ['reserved', 'RUNNING'], ['maint', 'RUNNING'], ['planned', 'RUNNING'], ['perfctrs', 'RUNNING'],
  ['blocked', 'RUNNING'], ['reboot_requested', 'RUNNING'],
  // COMPAT: an operator's drain (draining: its jobs go on, it takes no new ones) is ABNORMAL, not
  // DELETING: OpenBatch neither creates nor deletes Slurm nodes, so nothing is being terminated
  ['down', 'ABNORMAL'], ['drained', 'ABNORMAL'], ['draining', 'ABNORMAL'], ['fail', 'ABNORMAL'],
  ['failing', 'ABNORMAL'], ['unknown', 'ABNORMAL'], ['inval', 'ABNORMAL'],
  // COMPAT: a node rebooting runs nothing until it is back
  ['reboot_issued', 'ABNORMAL'],
  // COMPAT: FUTURE (declared, not there yet; sinfo shows it only with --future) and powering up are
  // CREATING; powered off (power saving: it starts on demand) is CREATED; powering down is DELETING
  ['future', 'CREATING'], ['powering_up', 'CREATING'], ['powered_down', 'CREATED'],
  ['power_down', 'DELETING'], ['powering_down', 'DELETING'],
]);

/**
 * The ComputeNodeState of a node in sinfo's extended state (`%T`: lower case, with flag suffixes).
 * The suffix comes first: not responding (`*`) is ABNORMAL whatever the base state, `%`/`!`
 * (powering down) DELETING, `#` (powering up) CREATING, `~` (powered off) CREATED, `^` (reboot
 * issued) ABNORMAL; `$`, `@`, `-` and `+` leave the base state. A state the table does not know
 * is ABNORMAL: a node Slurm does not call usable is not offered as running.
 */
export function nodeStateOf(slurmState: string): SlurmNodeState {
  const s = slurmState.trim().toLowerCase();
  const flags = SUFFIXES.exec(s)?.[0] ?? '';
  if (flags.includes('*')) return 'ABNORMAL';
  if (flags.includes('%') || flags.includes('!')) return 'DELETING';
  if (flags.includes('#')) return 'CREATING';
  if (flags.includes('~')) return 'CREATED';
  if (flags.includes('^')) return 'ABNORMAL';
  return NODE_STATE_OF_BASE.get(s.slice(0, s.length - flags.length)) ?? 'ABNORMAL';
}

/** The nodes of `sinfo -N -h -o SINFO_NODE_FORMAT` output, one per node (its lines merged), in Slurm's order. */
export function parseSinfoNodes(out: string): SlurmNode[] {
  const byName = new Map<string, SlurmNode>();
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue;
    const f = splitN(line, '|', 6);
    if (f.length < 6) throw new Error(`unexpected sinfo output (want ${SINFO_NODE_FORMAT}): ${JSON.stringify(line)}`);
    const [name, partition, cpus, mem, state, reason] = f as [string, string, string, string, string, string];
    const node = byName.get(name);
    if (node) {
      if (partition !== '' && !node.partitions.includes(partition)) node.partitions.push(partition);
      continue;
    }
    const n: SlurmNode = {
      name,
      partitions: partition === '' ? [] : [partition],
      cpus: count(cpus, 'CPUs', line),
      memoryMiB: count(mem, 'memory', line),
      slurmState: state,
      state: nodeStateOf(state),
    };
    const why = reason.trim();
    if (why !== '' && why !== 'none') n.reason = why;
    byName.set(name, n);
  }
  const nodes = [...byName.values()];
  for (const n of nodes) n.partitions.sort();
  return nodes;
}

/** The nodes of these partitions (one sinfo call; a partition named is listed even when hidden). No partitions: none, no call. */
export async function listNodes(cli: SlurmCli, partitions: string[]): Promise<SlurmNode[]> {
  if (partitions.length === 0) return [];
  const out = await cli.run('sinfo', ['-N', '-h', '-p', [...new Set(partitions)].join(','), '-o', SINFO_NODE_FORMAT]);
  const asked = new Set(partitions);
  return parseSinfoNodes(out)
    .map((n) => ({ ...n, partitions: n.partitions.filter((p) => asked.has(p)) }))
    .filter((n) => n.partitions.length > 0);
}

function splitN(s: string, sep: string, n: number): string[] {
  const parts: string[] = [];
  let rest = s;
  while (parts.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    parts.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  parts.push(rest);
  return parts;
}

function count(v: string, what: string, line: string): number {
  const n = Number(v.trim());
  if (!Number.isInteger(n) || n < 0 || v.trim() === '') throw new Error(`unexpected ${what} in sinfo output: ${JSON.stringify(line)}`);
  return n;
}
