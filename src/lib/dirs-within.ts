// Creating directories below a root without ever leaving it, whatever symbolic links were planted
// there: one level at a time, each resolved with realpath before going deeper.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** Whether `child` is strictly below `dir` (both real paths). */
export function isInside(child: string, dir: string): boolean {
  return child.startsWith(dir + path.sep);
}

/** Why a level could not be used: a link that leads nowhere (or loops), one that leads outside the
 *  root, or something that is not a directory. */
export type LevelProblem = 'dangling' | 'outside' | 'not-a-directory';

/**
 * Creates `segs` below `realRoot` (already a real path) one level at a time and returns the real path
 * of the last level. Each level is resolved with realpath and must stay strictly inside `realRoot`;
 * otherwise `refuse(problem, seg, realPathOfLevel)` gives the error thrown.
 */
export async function mkdirsWithin(
  realRoot: string,
  segs: string[],
  refuse: (problem: LevelProblem, seg: string, real?: string) => Error,
): Promise<string> {
  let cur = realRoot;
  for (const seg of segs) {
    const next = path.join(cur, seg);
    try {
      await fsp.mkdir(next);
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw e;
    }
    let real: string;
    try {
      real = await fsp.realpath(next);
    } catch (e) {
      if (errCode(e) === 'ENOENT' || errCode(e) === 'ELOOP') throw refuse('dangling', seg);
      throw e;
    }
    if (!isInside(real, realRoot)) throw refuse('outside', seg, real);
    if (!(await fsp.stat(real)).isDirectory()) throw refuse('not-a-directory', seg, real);
    cur = real;
  }
  return cur;
}
