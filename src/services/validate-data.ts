// Validation of what a task or compute environment asks of object storage: InputMappings (a cos://
// source, an absolute local destination), OutputMappings (an absolute local source, a cos://
// destination), OutputMappingConfigs and a PACKAGE's PackagePath. Local paths are the attempt's own
// (private mounts), so they are checked as paths, not against the host: absolute, no `.`/`..`
// segment, no control characters, not `/` and nowhere in the system's own trees.
import { apiError, isApiError } from '../domain/errors.ts';
import { normalTarget } from '../domain/data-spec.ts';
import { parseCosUrl } from '../objectstore/cos-url.ts';
import type { InputMappingInput, OutputMappingConfigInput, OutputMappingInput } from '../api/models.ts';

const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
/** What a mapping may not cover: the system's trees and the root. */
const RESERVED = ['/proc', '/sys', '/dev', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/usr', '/etc', '/boot', '/run'];
const MAX_PATH_BYTES = 1024;
/** The most mappings of each kind one task may have. */
export const MAX_MAPPINGS = 32;
/** OutputMappingConfigs.WorkerNum at most, and WorkerPartSize (MB) at most (S3: 5 GiB parts). */
const MAX_WORKERS = 64;
const MAX_PART_MB = 5120;

function localProblem(p: string): string | undefined {
  if (p === '') return 'is empty';
  if (!p.startsWith('/')) return "is not an absolute path (it must start with '/')";
  if (CONTROL_RE.test(p)) return 'contains a control character';
  if (p.includes('\\')) return "contains a backslash ('\\')";
  if (Buffer.byteLength(p, 'utf8') > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  const segs = p.split('/').filter((s) => s !== '');
  if (segs.length === 0) return "is '/': a mapping needs a directory of its own";
  for (const seg of segs) if (seg === '.' || seg === '..') return `contains a '${seg}' path segment`;
  if (p.includes('//')) return "contains an empty path segment ('//')";
  const n = normalTarget(p);
  const sys = RESERVED.find((r) => n === r || n.startsWith(`${r}/`));
  if (sys) return `lies in ${sys}, which belongs to the system`;
  return undefined;
}

function checkLocal(p: string, param: string): string {
  const problem = localProblem(p);
  if (problem) throw apiError('InvalidParameterValue.LocalPath', { param, problem: `${JSON.stringify(p)} ${problem}` });
  return normalTarget(p);
}

function checkRemote(p: string, param: string): void {
  try {
    parseCosUrl(p, param);
  } catch (e) {
    if (isApiError(e)) throw e.within(param);
    throw e;
  }
}

/** Two local paths of one task's mappings: the same path twice, or one inside the other, cannot both
 *  be mapped (which would the attempt see?). */
function checkDistinct(paths: { path: string; param: string }[]): void {
  for (let i = 0; i < paths.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = paths[j]!;
      const b = paths[i]!;
      if (a.path === b.path || b.path.startsWith(`${a.path}/`) || a.path.startsWith(`${b.path}/`)) {
        throw apiError('InvalidParameterValue.LocalPath', { param: b.param, problem: `"${b.path}" overlaps ${a.param} "${a.path}": the local paths of mappings must be apart` });
      }
    }
  }
}

export function checkInputMappings(list: InputMappingInput[] | undefined, param: string): { path: string; param: string }[] {
  if (!list) return [];
  if (list.length > MAX_MAPPINGS) throw apiError('InvalidParameterValue.LimitExceeded', { param, problem: `holds ${list.length} mappings; at most ${MAX_MAPPINGS} are allowed` });
  return list.map((m, i) => {
    checkRemote(m.SourcePath, `${param}.${i}.SourcePath`);
    if (m.MountType !== undefined && m.MountType !== 'COSFS' && m.MountType !== 'GooseFS-Lite') {
      throw apiError('InvalidParameterValue', { param: `${param}.${i}.MountType`, problem: `must be COSFS or GooseFS-Lite; got ${JSON.stringify(m.MountType)}` });
    }
    return { path: checkLocal(m.DestinationPath, `${param}.${i}.DestinationPath`), param: `${param}.${i}.DestinationPath` };
  });
}

export function checkOutputMappings(list: OutputMappingInput[] | undefined, param: string): { path: string; param: string }[] {
  if (!list) return [];
  if (list.length > MAX_MAPPINGS) throw apiError('InvalidParameterValue.LimitExceeded', { param, problem: `holds ${list.length} mappings; at most ${MAX_MAPPINGS} are allowed` });
  return list.map((m, i) => {
    checkRemote(m.DestinationPath, `${param}.${i}.DestinationPath`);
    const ws = m.OutputMappingOption?.Workspace;
    if (ws !== undefined && ws !== 'BATCH_WORKSPACE' && ws !== 'GLOBAL_WORKSPACE') {
      throw apiError('InvalidParameterValue', { param: `${param}.${i}.OutputMappingOption.Workspace`, problem: `must be BATCH_WORKSPACE or GLOBAL_WORKSPACE; got ${JSON.stringify(ws)}` });
    }
    return { path: checkLocal(m.SourcePath, `${param}.${i}.SourcePath`), param: `${param}.${i}.SourcePath` };
  });
}

export function checkOutputMappingConfigs(list: OutputMappingConfigInput[] | undefined, param: string): void {
  list?.forEach((c, i) => {
    if (c.Scene !== 'COS') throw apiError('InvalidParameterValue', { param: `${param}.${i}.Scene`, problem: `must be COS; got ${JSON.stringify(c.Scene)}` });
    if (!Number.isInteger(c.WorkerNum) || c.WorkerNum < 1 || c.WorkerNum > MAX_WORKERS) {
      throw apiError('InvalidParameterValue', { param: `${param}.${i}.WorkerNum`, problem: `must be between 1 and ${MAX_WORKERS}; got ${c.WorkerNum}` });
    }
    if (!Number.isInteger(c.WorkerPartSize) || c.WorkerPartSize < 1 || c.WorkerPartSize > MAX_PART_MB) {
      throw apiError('InvalidParameterValue', { param: `${param}.${i}.WorkerPartSize`, problem: `must be between 1 and ${MAX_PART_MB} (MB); got ${c.WorkerPartSize}` });
    }
  });
}

/** All local paths of a task's mappings must be apart. */
export function checkMappingsApart(...lists: { path: string; param: string }[][]): void {
  checkDistinct(lists.flat());
}

/** PackagePath: a .tgz / .tar.gz on cos://, http:// or https://. */
export function checkPackagePath(p: string | undefined, param: string): void {
  if (p === undefined || p === '') throw apiError('MissingParameter', { detail: `The parameter ${param} is required with DeliveryForm PACKAGE.` });
  if (/^https?:\/\//i.test(p)) {
    let u: URL;
    try {
      u = new URL(p);
    } catch {
      throw apiError('InvalidParameterValue.RemoteStoragePath', { param, problem: `${JSON.stringify(p)} is not a valid URL` });
    }
    if (u.username || u.password) throw apiError('InvalidParameterValue.RemoteStoragePath', { param, problem: 'must not carry a user name or password' });
  } else {
    checkRemote(p, param);
  }
  if (!/\.(tgz|tar\.gz)$/i.test(p.replace(/[?#].*$/, ''))) {
    throw apiError('InvalidParameterValue.RemoteStoragePath', { param, problem: `${JSON.stringify(p)} must name a .tgz or .tar.gz package` });
  }
}
