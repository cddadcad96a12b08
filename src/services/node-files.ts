// Writing files into the emulated compute-node filesystem (RedirectLocalInfo) without ever leaving it:
// directories are created one level at a time and resolved with realpath before going deeper.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { apiError, type ApiError } from '../domain/errors.ts';
import { checkFileName, localPathError, resolveLocalPath } from '../domain/log-paths.ts';
import { errCode, isInside, mkdirsWithin } from '../lib/dirs-within.ts';

/**
 * The host path to write log file `fileName` in compute-node directory `dirPath` (the user's
 * RedirectLocalInfo path, e.g. `/home/logs/`, NOT an already resolved host path).
 * Creates missing directories one level at a time, resolving each with realpath before going
 * deeper, so a symlink planted inside `localRoot` can never lead a write outside it; an existing
 * file that is a symlink must also resolve inside. Returns a path under realpath(localRoot).
 * Throws ApiError(InvalidParameterValue.LocalPath) on any violation.
 */
export async function resolveLocalFile(localRoot: string, dirPath: string, fileName: string, paramPath = 'RedirectLocalInfo'): Promise<string> {
  checkFileName(fileName, paramPath, 'InvalidParameterValue.LocalPath');
  const lexicalRoot = path.resolve(localRoot);
  const dir = resolveLocalPath(lexicalRoot, dirPath, paramPath);
  await fsp.mkdir(lexicalRoot, { recursive: true });
  const realRoot = await fsp.realpath(lexicalRoot);
  const inside = (p: string): boolean => isInside(p, realRoot);
  const outside = (what: string): ApiError =>
    localPathError(paramPath, dirPath, `leads outside the compute node filesystem through a symbolic link (${what})`);

  const rel = path.relative(lexicalRoot, dir);
  const cur = await mkdirsWithin(realRoot, rel === '' ? [] : rel.split(path.sep), (problem, seg) =>
    problem === 'not-a-directory' ? localPathError(paramPath, dirPath, `is not a directory (at "${seg}")`) : outside(`at "${seg}"`));

  const file = path.join(cur, fileName);
  let st;
  try {
    st = await fsp.lstat(file);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return file;
    throw e;
  }
  if (st.isSymbolicLink()) {
    let real: string;
    try {
      real = await fsp.realpath(file);
    } catch {
      throw outside(`file ${JSON.stringify(fileName)} is a dangling link`);
    }
    if (!inside(real)) throw outside(`file ${JSON.stringify(fileName)}`);
    if ((await fsp.stat(real)).isDirectory()) throw localPathError(paramPath, dirPath, `already holds a directory named ${JSON.stringify(fileName)}`);
    return file;
  }
  if (st.isDirectory()) throw localPathError(paramPath, dirPath, `already holds a directory named ${JSON.stringify(fileName)}`);
  return file;
}
