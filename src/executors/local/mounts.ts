// Private mounts of local attempts, as the service checks them before the shim makes them (see
// native/shim-mounts.c for how, and docs/security.md for what the host sees): targets are absolute,
// normalized paths outside /proc, /sys and /dev and away from the hidden paths (the data dir, the
// config file: neither at, inside nor above them), each target once, no path with a tab, newline or
// NUL (the shim's record cannot carry them); sorted so that parents come before children. Also the
// shim's encoding of them.
import fs from 'node:fs';
import path from 'node:path';
import type { MountSpec } from '../types.ts';

/** The most mounts an attempt may have (the shim's limit). */
export const MAX_MOUNTS = 64;

/** p is dir or lies below it. */
function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The mounts, checked and sorted parents first; throws an Error saying what is wrong.
 *  COMPAT: refused (docs/compat.md, Mappings): `/`, /proc, /sys, /dev, at/inside/above a hidden path,
 *  a target twice, a missing file target directly in `/`, more than MAX_MOUNTS. */
export function checkMounts(mounts: readonly MountSpec[], hidden: readonly string[]): MountSpec[] {
  if (mounts.length > MAX_MOUNTS) throw new Error(`an attempt can have at most ${MAX_MOUNTS} private mounts (${mounts.length} asked)`);
  const seen = new Set<string>();
  for (const m of mounts) {
    for (const [what, p] of [['source', m.source], ['target', m.target]] as const) {
      if (/[\t\n\0]/.test(p)) throw new Error(`the mount ${what} ${JSON.stringify(p)} contains a tab, newline or NUL character`);
      if (!path.isAbsolute(p) || path.posix.normalize(p) !== p || (p.length > 1 && p.endsWith('/'))) {
        throw new Error(`the mount ${what} ${JSON.stringify(p)} is not a normalized absolute path`);
      }
    }
    const t = m.target;
    if (t === '/') throw new Error('a mount cannot cover /');
    for (const sys of ['/proc', '/sys', '/dev']) {
      if (within(t, sys)) throw new Error(`the mount target ${t} lies in ${sys}`);
    }
    for (const h of hidden) {
      if (within(t, h)) throw new Error(`the mount target ${t} lies in ${h}, which attempts do not see`);
      if (within(h, t)) throw new Error(`the mount target ${t} would cover ${h}, which attempts do not see`);
    }
    if (seen.has(t)) throw new Error(`two mounts have the target ${t}`);
    seen.add(t);
  }
  // a file mount whose top-level target is missing would need a file created in / of the host
  for (const m of mounts) {
    if (path.dirname(m.target) !== '/' || fs.existsSync(m.target)) continue;
    let dir: boolean;
    try {
      dir = fs.statSync(m.source).isDirectory();
    } catch (e) {
      throw new Error(`the mount source ${m.source} cannot be read: ${(e as Error).message}`);
    }
    if (!dir) throw new Error(`the file mount target ${m.target} does not exist, and files are not created in / of the host: choose a target in a directory`);
  }
  // a parent is a prefix of its children: it sorts before them (code units, not the locale's order)
  return [...mounts].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

/** The shim's field: lines `r|w\t<source>\t<target>` joined by '\n' ('' for none). */
export function encodeMounts(mounts: readonly MountSpec[]): string {
  return mounts.map((m) => `${m.readOnly ? 'r' : 'w'}\t${m.source}\t${m.target}`).join('\n');
}
