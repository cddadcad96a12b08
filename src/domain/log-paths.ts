// Log file names and local log paths (RedirectInfo / RedirectLocalInfo, batch-api.md §c and §i.1):
// expanding `${BATCH_JOB_ID}` / `${BATCH_TASK_NAME}` / `${BATCH_TASK_INSTANCE_INDEX}` in file-name
// templates, checking that a name is one safe path segment, and confining RedirectLocalInfo paths to
// the emulated compute-node filesystem `localRoot` inside the data dir.
// Everything is pure except resolveLocalFile, which must look at the disk (realpath) at write time.
import * as path from 'node:path';
import { apiError, type ApiError } from './errors.ts';

export type FileNameErrorCode = 'InvalidParameterValue.RemoteStoragePath' | 'InvalidParameterValue.LocalPath';

export interface FileNameVars {
  jobId: string;
  taskName: string;
  index: number;
}

/** Default names; the DescribeTask example shows `stdout.job-97zcl3wt.A.1.log` (batch-api.md §c). */
export const DEFAULT_STDOUT_FILE = 'stdout.${BATCH_JOB_ID}.${BATCH_TASK_NAME}.${BATCH_TASK_INSTANCE_INDEX}.log';
export const DEFAULT_STDERR_FILE = 'stderr.${BATCH_JOB_ID}.${BATCH_TASK_NAME}.${BATCH_TASK_INSTANCE_INDEX}.log';

/** A single file name must fit a POSIX file-name component. */
export const MAX_FILE_NAME_BYTES = 255;
/** Linux PATH_MAX (including the terminating NUL). */
const MAX_LOCAL_PATH_BYTES = 4095;

const PLACEHOLDER_RE = /\$\{(BATCH_JOB_ID|BATCH_TASK_NAME|BATCH_TASK_INSTANCE_INDEX)\}/g;
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE_RE = /\p{Cs}/u;

/** Replace exactly the three documented placeholders, in one pass: substituted values are never
 *  re-expanded, and any other `$` text (`$HOME`, `${X}`, `$&`) stays verbatim. */
export function expandFileName(template: string, vars: FileNameVars): string {
  return template.replace(PLACEHOLDER_RE, (_m, name: string) =>
    name === 'BATCH_JOB_ID' ? vars.jobId : name === 'BATCH_TASK_NAME' ? vars.taskName : String(vars.index));
}

/** Why `name` is not a single safe file name, or undefined when it is. */
function fileNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return `is "${name}"`;
  if (name.includes('/')) return "contains '/' (it must be a single file name, not a path)";
  if (name.includes('\\')) return "contains a backslash ('\\')";
  if (CONTROL_RE.test(name)) return 'contains a control character';
  if (LONE_SURROGATE_RE.test(name)) return 'contains invalid Unicode (a lone surrogate)';
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) return `is longer than ${MAX_FILE_NAME_BYTES} bytes`;
  return undefined;
}

/** Check an (already expanded) file name; returns it unchanged or throws ApiError(code). */
export function checkFileName(name: string, paramPath: string, code: FileNameErrorCode): string {
  const p = fileNameProblem(name);
  if (p) throw apiError(code, { param: paramPath, problem: `names the file ${JSON.stringify(name)}, which ${p}` });
  return name;
}

/** Expand a template and check the result (use at run time, with the real values). */
export function resolveFileName(template: string, vars: FileNameVars, paramPath: string, code: FileNameErrorCode): string {
  const name = expandFileName(template, vars);
  const p = fileNameProblem(name);
  if (p) {
    throw apiError(code, { param: paramPath, problem: `${JSON.stringify(template)} expands to ${JSON.stringify(name)}, which ${p}` });
  }
  return name;
}

/**
 * Validate a file-name template at submit time: expanded with sample values it must be a single
 * path segment (no `/`, `\`, NUL or control characters, not `.`/`..`, at most 255 bytes).
 * Pass the real job id / task name / highest index as `sample` when known, so a name that would only
 * overflow with the real values is caught too; the run-time check is resolveFileName.
 * `code` is InvalidParameterValue.RemoteStoragePath (RedirectInfo) or …LocalPath (RedirectLocalInfo).
 * Callers decide what an absent template means (DEFAULT_STDOUT_FILE / DEFAULT_STDERR_FILE); an empty
 * string is rejected here.
 */
export function validateFileNameTemplate(
  template: string,
  paramPath: string,
  code: FileNameErrorCode,
  sample: Partial<FileNameVars> = {},
): void {
  resolveFileName(template, { jobId: 'job-00000000', taskName: 'task', index: 0, ...sample }, paramPath, code);
}

export function localPathError(paramPath: string, userPath: string, problem: string): ApiError {
  return apiError('InvalidParameterValue.LocalPath', { param: paramPath, problem: `${JSON.stringify(userPath)} ${problem}` });
}

/**
 * Map a compute-node path (RedirectLocalInfo, e.g. `/home/logs/`) into the emulated node filesystem:
 * `/home/logs/` → `<localRoot>/home/logs`. The path must be absolute; `.`/`..` segments, NUL/control
 * characters and backslashes are rejected (InvalidParameterValue.LocalPath), never normalised away.
 * COMPAT: empty segments (`/home//logs`) are collapsed as Linux does, and `/` itself is accepted (it
 * maps to `localRoot`; every file written in it is still strictly inside `localRoot + sep`).
 * Percent sequences are literal characters of a local path and are not decoded.
 */
export function resolveLocalPath(localRoot: string, userPath: string, paramPath: string): string {
  if (typeof userPath !== 'string' || userPath === '') throw localPathError(paramPath, String(userPath ?? ''), 'is empty');
  if (!userPath.startsWith('/')) throw localPathError(paramPath, userPath, "is not an absolute path (it must start with '/')");
  if (CONTROL_RE.test(userPath)) throw localPathError(paramPath, userPath, 'contains a control character');
  if (LONE_SURROGATE_RE.test(userPath)) throw localPathError(paramPath, userPath, 'contains invalid Unicode (a lone surrogate)');
  if (userPath.includes('\\')) throw localPathError(paramPath, userPath, "contains a backslash ('\\')");
  if (Buffer.byteLength(userPath, 'utf8') > MAX_LOCAL_PATH_BYTES) {
    throw localPathError(paramPath, userPath, `is longer than ${MAX_LOCAL_PATH_BYTES} bytes`);
  }
  const segs = userPath.split('/').filter((s) => s !== '');
  for (const seg of segs) {
    if (seg === '.' || seg === '..') throw localPathError(paramPath, userPath, `contains a '${seg}' path segment`);
    if (Buffer.byteLength(seg, 'utf8') > MAX_FILE_NAME_BYTES) {
      throw localPathError(paramPath, userPath, `has a path segment longer than ${MAX_FILE_NAME_BYTES} bytes`);
    }
  }
  const root = path.resolve(localRoot);
  const result = path.join(root, ...segs);
  if (result !== root && !result.startsWith(root + path.sep)) {
    throw localPathError(paramPath, userPath, 'resolves outside the compute node filesystem');
  }
  return result;
}
