// `cos://` paths (RedirectInfo, InputMapping, OutputMapping; batch-api.md §c): parsing into
// bucket + key prefix, the BucketRef (bucket, region, endpoint host) a store is handed, and the
// bucket/key rules every ObjectStore re-checks (defence in depth). Nothing here is ever normalised
// away: `..`, `.`, `a//b`, backslashes, control characters and percent-encoded traversal are
// rejected with InvalidParameterValue.RemoteStoragePath.
import { ApiError } from '../domain/errors.ts';
import type { BucketRef } from './types.ts';

export interface CosLocation {
  /** Bucket name: the whole host (`cos://b/…`) or the first DNS label of a COS endpoint host. */
  bucket: string;
  /** Object-key prefix: the path without its leading `/` (`''` for the bucket root). Kept verbatim:
   *  percent sequences are NOT decoded (COS keys are literal). */
  prefix: string;
  /** The host exactly as written (`dondonbatch-1251783334.cosgz.myqcloud.com`, or the bucket). */
  host: string;
}

/** COS limits an object key to 850 bytes (UTF-8). */
export const MAX_KEY_BYTES = 850;
/** One path segment must fit in a file name on a POSIX file system (the embedded store uses one). */
export const MAX_SEGMENT_BYTES = 255;

const BUCKET_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE_RE = /\p{Cs}/u;
const REGION_LABEL_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const LEGACY_COS_LABEL_RE = /^cos[a-z0-9]+$/;

/** Why `bucket` is not a valid bucket name, or undefined when it is.
 *  COMPAT: besides the documented alphabet (lower-case letters, digits, `-`, 1–63 chars) we also
 *  refuse a leading or trailing `-`, as COS and S3 do. */
export function bucketNameProblem(bucket: string): string | undefined {
  if (BUCKET_RE.test(bucket)) return undefined;
  return `bucket ${JSON.stringify(bucket)} is invalid: a bucket name is 1-63 lower-case letters, digits and '-', not starting or ending with '-'`;
}

export interface KeyRules {
  /** `''` (the bucket root) is acceptable. */
  allowEmpty?: boolean;
  /** A trailing `/` (a "directory" prefix) is acceptable. */
  allowTrailingSlash?: boolean;
}

/** Why `key` is not an acceptable object key (or key prefix), or undefined when it is.
 *  COMPAT: `?` and `#` are refused (in a `cos://` URL they are ambiguous with a query/fragment);
 *  a lone `%` not followed by two hex digits is a literal character and accepted. */
export function keyProblem(key: string, rules: KeyRules = {}): string | undefined {
  if (key === '') return rules.allowEmpty ? undefined : 'is empty';
  if (CONTROL_RE.test(key)) return 'contains a control character';
  if (LONE_SURROGATE_RE.test(key)) return 'contains invalid Unicode (a lone surrogate)';
  if (key.includes('\\')) return "contains a backslash ('\\')";
  if (key.includes('?') || key.includes('#')) return "contains '?' or '#'";
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  const segProblem = segmentsProblem(key, rules.allowTrailingSlash ?? false);
  if (segProblem) return segProblem;
  // Percent-encoded traversal: decode ASCII escapes (repeatedly, so `%252e` is caught too) and
  // re-check. The key itself is kept verbatim; this only refuses keys that some later consumer
  // might decode into something dangerous.
  let current = key;
  for (let round = 0; round < 4 && /%[0-9A-Fa-f]{2}/.test(current); round++) {
    if (/%(?:2[fF]|5[cC])/.test(current)) return "contains a percent-encoded '/' or '\\' (%2F, %5C)";
    if (/%(?:[01][0-9A-Fa-f]|7[fF])/.test(current)) return 'contains a percent-encoded control character';
    const decoded = current.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (decoded === current) break;
    const p = segmentsProblem(decoded, true, true);
    if (p) return `${p} once percent-decoded`;
    current = decoded;
  }
  return undefined;
}

/** Why a listing `prefix` is not acceptable, or undefined when it is. A prefix is a plain string
 *  (`logs/std` is fine); its directory part (up to the last `/`) must obey the key rules, so it can
 *  smuggle no traversal into a listing. */
export function listPrefixProblem(prefix: string): string | undefined {
  const cut = prefix.lastIndexOf('/');
  if (cut === 0) return "starts with '/'";
  if (cut === -1) return CONTROL_RE.test(prefix) ? 'contains a control character' : undefined;
  const kp = keyProblem(prefix.slice(0, cut));
  return kp === undefined ? undefined : `has a directory part that ${kp}`;
}

function segmentsProblem(key: string, allowTrailingSlash: boolean, dotsOnly = false): string | undefined {
  if (key.startsWith('/')) return dotsOnly ? undefined : "starts with '/' (an empty path segment)";
  const segs = key.split('/');
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i] ?? '';
    if (seg === '.' || seg === '..') return `contains a '${seg}' path segment`;
    if (dotsOnly) continue;
    if (seg === '') {
      if (i === segs.length - 1 && allowTrailingSlash) continue;
      return i === segs.length - 1 ? "ends with '/'" : "contains an empty path segment ('//')";
    }
    if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) return `has a path segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

function pathError(param: string, url: string, problem: string): ApiError {
  return new ApiError('InvalidParameterValue.RemoteStoragePath', `${param} ${JSON.stringify(url)} ${problem}.`);
}

/**
 * Parse a `cos://` path. Accepted forms:
 *   cos://<bucket>/<path>
 *   cos://<bucket>-<appid>.cos.<region>.myqcloud.com/<path>    (also `.tencentcos.cn`)
 *   cos://<bucket>-<appid>.cos<xx>.myqcloud.com/<path>          (legacy, e.g. `cosgz`, `cosbj`)
 * Any other scheme (or none) → InvalidParameterValue.RemoteStorageSchemeType; any other malformation
 * → InvalidParameterValue.RemoteStoragePath. `param` names the parameter in the message.
 * COMPAT: a `/` after the host is required (`cos://b` is refused; write `cos://b/` for the root).
 */
export function parseCosUrl(url: string, param = 'path'): CosLocation {
  if (typeof url !== 'string' || url === '') throw pathError(param, String(url ?? ''), 'is empty');
  if (!url.startsWith('cos://')) {
    const scheme = SCHEME_RE.exec(url)?.[1];
    if (scheme === undefined) {
      throw new ApiError('InvalidParameterValue.RemoteStorageSchemeType',
        `${param} ${JSON.stringify(url)} has no scheme; expected cos://<bucket>/<path>.`);
    }
    if (scheme === 'cos') throw pathError(param, url, "is malformed: expected 'cos://' followed by the bucket");
    throw new ApiError('InvalidParameterValue.RemoteStorageSchemeType',
      `${param} ${JSON.stringify(url)} uses scheme "${scheme}://"; only cos:// is supported (written in lower case).`);
  }
  if (CONTROL_RE.test(url)) throw pathError(param, url, 'contains a control character');
  const rest = url.slice('cos://'.length);
  const slash = rest.indexOf('/');
  if (slash === -1) {
    throw pathError(param, url, `has no path after the host; write ${JSON.stringify(`${url}/`)} for the bucket root`);
  }
  const host = rest.slice(0, slash);
  if (host === '') throw pathError(param, url, 'has no bucket (nothing between cos:// and the next /)');
  const bucket = bucketOfHost(host);
  if (bucket === undefined) {
    throw pathError(param, url, `has host ${JSON.stringify(host)}, which is not a COS bucket endpoint (expected <bucket>-<appid>.cos.<region>.myqcloud.com or cos://<bucket>/)`);
  }
  const bp = bucketNameProblem(bucket);
  if (bp) throw pathError(param, url, `names an invalid ${bp}`);
  const prefix = rest.slice(slash + 1);
  const kp = keyProblem(prefix, { allowEmpty: true, allowTrailingSlash: true });
  if (kp) throw pathError(param, url, `has a path that ${kp}`);
  return { bucket, prefix, host };
}

/** The COS regions of the legacy `cos<xx>` endpoint labels (`cosgz.myqcloud.com`), as Tencent's
 *  own tools (coscmd, the PHP SDK) map their short region names. */
const LEGACY_REGIONS: Readonly<Record<string, string>> = {
  gz: 'ap-guangzhou',
  sh: 'ap-shanghai',
  tj: 'ap-beijing-1',
  bj: 'ap-beijing',
  cd: 'ap-chengdu',
  sgp: 'ap-singapore',
  hk: 'ap-hongkong',
  ca: 'na-toronto',
  ger: 'eu-frankfurt',
};

/** The location a store is handed for a parsed `cos://` path: the bucket, plus the region and the
 *  endpoint host when the URL's host says them (see BucketRef).
 *  COMPAT: a legacy `cos<xx>` label missing from LEGACY_REGIONS, and `cos.accelerate` (the global
 *  acceleration endpoint), are accepted as before but name no region; the host is kept. */
export function bucketRef(loc: CosLocation): BucketRef {
  if (loc.host === loc.bucket) return { bucket: loc.bucket };
  const labels = loc.host.split('.');
  const service = labels[1] ?? '';
  let region: string | undefined;
  if (service === 'cos') region = labels[2] === 'accelerate' ? undefined : labels[2];
  else region = LEGACY_REGIONS[service.slice('cos'.length)];
  return region === undefined ? { bucket: loc.bucket, host: loc.host } : { bucket: loc.bucket, region, host: loc.host };
}

function bucketOfHost(host: string): string | undefined {
  const cosDomain = host.endsWith('.myqcloud.com') || host.endsWith('.tencentcos.cn');
  if (!cosDomain) return host; // `cos://<bucket>/…`: the host is the bucket (checked by the caller)
  const labels = host.split('.');
  const [bucket, service, region] = labels;
  if (bucket === undefined || service === undefined) return undefined;
  if (labels.length === 5 && service === 'cos' && region !== undefined && REGION_LABEL_RE.test(region)) return bucket;
  if (labels.length === 4 && host.endsWith('.myqcloud.com') && LEGACY_COS_LABEL_RE.test(service)) return bucket;
  return undefined;
}

/**
 * The object key of `fileName` under `prefix` (as returned by parseCosUrl).
 * COMPAT: a prefix that does not end in `/` is treated as a directory too
 * (`logs` + `a.log` → `logs/a.log`, same as `logs/`); `''` is the bucket root.
 * Throws InvalidParameterValue.RemoteStoragePath when the file name is not a single segment or the
 * resulting key breaks the key rules.
 */
export function joinKey(prefix: string, fileName: string, param = 'file name'): string {
  if (fileName === '' || fileName.includes('/')) {
    throw new ApiError('InvalidParameterValue.RemoteStoragePath',
      `${param} ${JSON.stringify(fileName)} must be a single non-empty path segment (no '/').`);
  }
  const key = prefix === '' || prefix.endsWith('/') ? prefix + fileName : `${prefix}/${fileName}`;
  const kp = keyProblem(key);
  if (kp) throw new ApiError('InvalidParameterValue.RemoteStoragePath', `object key ${JSON.stringify(key)} ${kp}.`);
  return key;
}
