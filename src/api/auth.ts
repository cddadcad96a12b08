// Request authentication for the Tencent Cloud API wire protocol (batch-api.md §a.2, §a.5-§a.7).
//
// Pure: no I/O and no clock reads. The caller passes the raw request (method, path, raw query,
// lower-cased headers, raw body bytes), a SecretId lookup and the current time.
//
// Two styles are accepted:
//  - TC3-HMAC-SHA256 (Authorization header): POST JSON, POST form, GET with a flattened query;
//  - legacy v1 (Signature parameter, HmacSHA1 / HmacSHA256): GET query or POST urlencoded form.
// `Authorization: SKIP` (unsigned SDK requests) is rejected.
//
// Check order: style/format -> SecretId lookup -> timestamp skew -> signature -> replay (v1 only).
// Messages say what was wrong but never contain the secret key or the expected signature.

import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { apiError, type ApiError } from '../domain/errors.ts';
import type { SecretLookup, SecretRecord } from '../services/types.ts';

export interface IncomingRequest {
  /** Upper case, 'GET' | 'POST' (others are rejected). */
  method: string;
  /** URL path without query, normally '/'. */
  path: string;
  /** Query string exactly as received after '?', '' if none. */
  rawQuery: string;
  /** Header names lower-cased (Node style). */
  headers: Record<string, string | undefined>;
  /** Raw body bytes (empty for GET). */
  body: Buffer;
}

export interface AuthResult {
  style: 'TC3' | 'V1';
  accountId: string;
  secretId: string;
  /** X-TC-Action (TC3) or Action param (v1). */
  action: string | undefined;
  /** X-TC-Version or Version. */
  version: string | undefined;
  /** X-TC-Region or Region (undefined when absent or empty). */
  region: string | undefined;
  /** X-TC-Language or Language (undefined when absent or empty). */
  language: string | undefined;
  /** 'json' when the request parameters are the JSON body (TC3 POST with application/json);
   *  'flat' when they are flattened name=value pairs (TC3 GET query, TC3 POST form, v1 GET query / POST form). */
  paramsKind: 'json' | 'flat';
  /** For 'flat': the decoded request parameters with the common ones removed. Empty for 'json'. */
  flatParams: Map<string, string>;
  /** V1 only: the key of this verified signature for replay protection (§a.7). The caller refuses the
   *  request with replayedError() when the key was used within REPLAY_WINDOW_MS (Store.firstUse, so that
   *  a replay sent to another replica is refused too). */
  replayKey?: string;
}

/** How long a v1 signature may not be used again (§a.7). */
export const REPLAY_WINDOW_MS = 10 * 60 * 1000;

/** The answer to a v1 request whose signature was already used within the window. */
export function replayedError(windowMs = REPLAY_WINDOW_MS): ApiError {
  return apiError('AuthFailure.SignatureFailure', {
    detail:
      `replayed request: this Signature was already used within the last ${Math.round(windowMs / 1000)} s; ` +
        'sign every request anew (fresh Timestamp and Nonce)',
  });
}

/** Parameters that belong to the protocol, not to the action (removed from AuthResult.flatParams). */
export const COMMON_PARAMS: ReadonlySet<string> = new Set([
  'Action',
  'Version',
  'Region',
  'Timestamp',
  'Nonce',
  'SecretId',
  'SignatureMethod',
  'Signature',
  'Token',
  'Language',
  'RequestClient',
]);

const TC3_ALGORITHM = 'TC3-HMAC-SHA256';
const FORM_TYPE = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
// ---------------------------------------------------------------------------------------------
// helpers

/** Quote a client-supplied value for a message, truncated so messages stay short. */
function show(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

function header(req: IncomingRequest, name: string): string | undefined {
  return req.headers[name];
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** Media type of a Content-Type value, lower-cased, without parameters ('' when absent). */
function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex'); // one-shot: no Hash object per call
}

function hmac256(key: string | Buffer, msg: string): Buffer {
  return createHmac('sha256', key).update(msg, 'utf8').digest();
}

/** The TC3 signing key depends only on the secret key, the date and the service: derived once a day
 *  per key instead of with three HMACs per request. */
const signingKeys = new Map<string, Buffer>();
function signingKey(secretKey: string, date: string, service: string): Buffer {
  const id = `${date}\n${service}\n${secretKey}`;
  let k = signingKeys.get(id);
  if (k === undefined) {
    k = hmac256(hmac256(hmac256(`TC3${secretKey}`, date), service), 'tc3_request');
    if (signingKeys.size >= 1024) signingKeys.clear(); // bounded: keys of old dates and forged scopes go
    signingKeys.set(id, k);
  }
  return k;
}

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function utcDate(tsSeconds: number): string {
  return new Date(tsSeconds * 1000).toISOString().slice(0, 10);
}

function isoSeconds(tsSeconds: number): string {
  const d = new Date(tsSeconds * 1000);
  return Number.isNaN(d.getTime()) ? 'out of range' : `${d.toISOString().slice(0, 19)}Z`;
}

/** Host header variants to try: as received, then with a trailing `:port` stripped. */
function hostVariants(host: string | undefined): string[] {
  if (host === undefined || host === '') return [];
  const stripped = host.replace(/:\d*$/, '');
  return stripped !== host && stripped !== '' ? [host, stripped] : [host];
}

/** Standard URL decoding of one form/query component ('+' is a space). */
function decodeComponent(s: string, where: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw apiError('InvalidParameter', { detail: `the ${where} contains malformed percent-encoding in ${show(s)}` });
  }
}

/** Splits an urlencoded string into decoded [name, value] pairs (empty segments ignored). */
export function parseUrlEncoded(source: string, where: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (source === '') return out;
  for (const segment of source.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    const rawName = eq === -1 ? segment : segment.slice(0, eq);
    const rawValue = eq === -1 ? '' : segment.slice(eq + 1);
    const name = decodeComponent(rawName, where);
    if (name === '') {
      throw apiError('InvalidParameter', { detail: `the ${where} contains a parameter with an empty name (${show(segment)})` });
    }
    out.push([name, decodeComponent(rawValue, where)]);
  }
  return out;
}

/** Pairs to a Map; a repeated name is rejected with InvalidParameter naming it. */
function uniqueParams(pairs: Array<[string, string]>, where: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, value] of pairs) {
    if (m.has(name)) {
      throw apiError('InvalidParameter', { detail: `parameter ${show(name)} is given more than once in the ${where}` });
    }
    m.set(name, value);
  }
  return m;
}

function withoutCommon(params: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of params) if (!COMMON_PARAMS.has(k)) out.set(k, v);
  return out;
}

/** Parses a Unix-seconds timestamp given as decimal text. */
function parseTimestamp(raw: string | undefined, name: string): number {
  if (raw === undefined || raw === '') {
    throw apiError('MissingParameter', { detail: `${name} is missing (Unix time in seconds)` });
  }
  const t = raw.trim();
  const n = /^\d{1,15}$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw apiError('InvalidParameter', { detail: `${name} must be an integer number of seconds since the Unix epoch, got ${show(raw)}` });
  }
  return n;
}

function checkSkew(ts: number, name: string, nowMs: number, maxSkewSeconds: number): void {
  const nowSec = Math.floor(nowMs / 1000);
  const diff = ts - nowSec;
  if (Math.abs(diff) > maxSkewSeconds) {
    const dir = diff < 0 ? 'behind' : 'ahead of';
    throw apiError('AuthFailure.SignatureExpire', {
      name, timestamp: ts, time: isoSeconds(ts), skew: Math.abs(diff), direction: dir, now: nowSec, nowTime: isoSeconds(nowSec),
      maxSkew: maxSkewSeconds,
    });
  }
}

function lookupSecret(lookup: SecretLookup, secretId: string): SecretRecord {
  const rec = lookup(secretId);
  if (rec === undefined) {
    throw apiError('AuthFailure.SecretIdNotFound', { secretId: show(secretId) });
  }
  return rec;
}

// ---------------------------------------------------------------------------------------------
// entry point

export function authenticate(
  req: IncomingRequest,
  lookup: SecretLookup,
  nowMs: number,
  opts: { maxSkewSeconds: number },
): AuthResult {
  if (req.method !== 'GET' && req.method !== 'POST') {
    throw apiError('UnsupportedProtocol', { method: show(req.method) });
  }

  const authorization = header(req, 'authorization');
  if (authorization !== undefined && authorization !== '') {
    if (authorization.startsWith(`${TC3_ALGORITHM} `)) return authenticateTc3(req, authorization, lookup, nowMs, opts);
    throw apiError('AuthFailure.InvalidAuthorization', { detail: describeBadAuthorization(authorization) });
  }

  // No Authorization header: only a v1-signed request (Signature parameter) is acceptable.
  let source: string;
  let where: string;
  if (req.method === 'GET') {
    source = req.rawQuery;
    where = 'query string';
  } else {
    const ct = mediaType(header(req, 'content-type'));
    if (ct !== FORM_TYPE) {
      throw apiError('AuthFailure.InvalidAuthorization', {
        detail:
          `the Authorization header is missing; a POST request must carry "Authorization: ${TC3_ALGORITHM} ..." ` +
            `or be a v1-signed ${FORM_TYPE} form with a Signature parameter ` +
            `(Content-Type is ${ct === '' ? 'missing' : show(ct)})`,
      });
    }
    source = req.body.toString('utf8');
    where = 'form body';
  }
  const pairs = parseUrlEncoded(source, where);
  if (!pairs.some(([name]) => name === 'Signature')) {
    throw apiError('AuthFailure.InvalidAuthorization', { detail: `the request is not signed: there is no Authorization header (TC3-HMAC-SHA256) and no Signature parameter in the ${where}` });
  }
  return authenticateV1(req, uniqueParams(pairs, where), where, lookup, nowMs, opts);
}

function describeBadAuthorization(authorization: string): string {
  if (authorization.trim() === 'SKIP') {
    return 'unsigned requests (Authorization: SKIP) are not accepted; sign the request with TC3-HMAC-SHA256';
  }
  const algorithm = authorization.trim().split(/\s+/, 1)[0] ?? '';
  if (algorithm === TC3_ALGORITHM) {
    return `the Authorization header has no credential after ${TC3_ALGORITHM}; expected ` +
      `"${TC3_ALGORITHM} Credential=<SecretId>/<date>/<service>/tc3_request, SignedHeaders=content-type;host, Signature=<hex>"`;
  }
  return `unsupported Authorization scheme ${show(algorithm)}; expected "${TC3_ALGORITHM} Credential=..., SignedHeaders=..., Signature=..."`;
}

// ---------------------------------------------------------------------------------------------
// TC3-HMAC-SHA256

interface Tc3Authorization {
  secretId: string;
  date: string;
  service: string;
  signedHeaders: string;
  signedHeaderNames: string[];
  signature: Buffer;
}

function badTc3(what: string): ApiError {
  return apiError('AuthFailure.InvalidAuthorization', { detail: `malformed ${TC3_ALGORITHM} Authorization header: ${what}` });
}

function parseTc3Authorization(authorization: string): Tc3Authorization {
  const rest = authorization.slice(TC3_ALGORITHM.length + 1);
  const fields = new Map<string, string>();
  for (const part of rest.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) throw badTc3(`expected name=value, got ${show(p)}`);
    const name = p.slice(0, eq).trim();
    if (name !== 'Credential' && name !== 'SignedHeaders' && name !== 'Signature') {
      throw badTc3(`unknown field ${show(name)} (expected Credential, SignedHeaders and Signature)`);
    }
    if (fields.has(name)) throw badTc3(`field ${name} is given more than once`);
    fields.set(name, p.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signatureHex = fields.get('Signature');
  if (credential === undefined) throw badTc3('Credential is missing');
  if (signedHeaders === undefined) throw badTc3('SignedHeaders is missing');
  if (signatureHex === undefined) throw badTc3('Signature is missing');

  const scope = credential.split('/');
  if (scope.length !== 4 || scope[3] !== 'tc3_request') {
    throw badTc3(`Credential must be <SecretId>/<date>/<service>/tc3_request, got ${show(credential)}`);
  }
  const [secretId = '', date = '', service = ''] = scope;
  if (secretId === '') throw badTc3('the SecretId in Credential is empty');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw badTc3(`the date in Credential must be YYYY-MM-DD, got ${show(date)}`);
  if (service === '') throw badTc3('the service in Credential is empty');

  const names = signedHeaders.split(';');
  if (names.some((n) => n === '')) throw badTc3(`SignedHeaders contains an empty name (${show(signedHeaders)})`);
  for (const required of ['content-type', 'host']) {
    if (!names.includes(required)) {
      throw badTc3(`SignedHeaders must include content-type and host, got ${show(signedHeaders)}`);
    }
  }
  if (!/^[0-9a-fA-F]{64}$/.test(signatureHex)) {
    throw badTc3('Signature must be 64 hexadecimal digits (hex HMAC-SHA256)');
  }
  return {
    secretId,
    date,
    service,
    signedHeaders,
    signedHeaderNames: names,
    signature: Buffer.from(signatureHex, 'hex'),
  };
}

function authenticateTc3(
  req: IncomingRequest,
  authorization: string,
  lookup: SecretLookup,
  nowMs: number,
  opts: { maxSkewSeconds: number },
): AuthResult {
  // 1. format
  const auth = parseTc3Authorization(authorization);
  let paramsKind: 'json' | 'flat';
  let flatSource: string;
  let where: string;
  if (req.method === 'GET') {
    paramsKind = 'flat';
    flatSource = req.rawQuery;
    where = 'query string';
  } else {
    const ct = mediaType(header(req, 'content-type'));
    if (ct === JSON_TYPE) {
      paramsKind = 'json';
      flatSource = '';
      where = 'body';
    } else if (ct === FORM_TYPE) {
      paramsKind = 'flat';
      flatSource = req.body.toString('utf8');
      where = 'form body';
    } else {
      throw apiError('InvalidParameter', { detail: `Content-Type ${ct === '' ? '(missing)' : show(ct)} is not supported for POST; use ${JSON_TYPE} (or ${FORM_TYPE})` });
    }
  }

  // 2. SecretId
  const secret = lookupSecret(lookup, auth.secretId);

  // 3. timestamp skew
  const ts = parseTimestamp(header(req, 'x-tc-timestamp'), 'X-TC-Timestamp');
  checkSkew(ts, 'X-TC-Timestamp', nowMs, opts.maxSkewSeconds);

  // 4. signature
  const tsDate = utcDate(ts);
  if (auth.date !== tsDate) {
    throw apiError('AuthFailure.SignatureFailure', { detail: `the date in the credential scope (${auth.date}) is not the UTC date of X-TC-Timestamp ${ts} (${tsDate})` });
  }
  const hosts = hostVariants(header(req, 'host'));
  if (hosts.length === 0) {
    throw apiError('AuthFailure.SignatureFailure', { detail: 'the Host header is missing but host is a signed header' });
  }
  const otherHeaders = new Map<string, string>();
  for (const name of auth.signedHeaderNames) {
    if (name === 'host') continue;
    const v = header(req, name.toLowerCase());
    if (v === undefined) {
      throw apiError('AuthFailure.SignatureFailure', { detail: `signed header ${show(name)} is not present in the request` });
    }
    otherHeaders.set(name, v.trim().toLowerCase());
  }
  const unsigned = header(req, 'x-tc-content-sha256')?.trim() === UNSIGNED_PAYLOAD;
  const payloadHash = unsigned ? sha256Hex(UNSIGNED_PAYLOAD) : sha256Hex(req.body);
  // The query as received, for POST too: an honest SDK POST has none (so it signs ''), and a query
  // added to a signed POST must not pass unnoticed.
  const canonicalQuery = req.rawQuery;
  const path = req.path === '' ? '/' : req.path;
  const scope = `${auth.date}/${auth.service}/tc3_request`;
  const kSigning = signingKey(secret.secretKey, auth.date, auth.service);

  let ok = false;
  for (const host of hosts) {
    let canonicalHeaders = '';
    for (const name of auth.signedHeaderNames) {
      const value = name === 'host' ? host.trim().toLowerCase() : (otherHeaders.get(name) ?? '');
      canonicalHeaders += `${name}:${value}\n`;
    }
    const canonicalRequest = [req.method, path, canonicalQuery, canonicalHeaders, auth.signedHeaders, payloadHash].join('\n');
    const stringToSign = [TC3_ALGORITHM, String(ts), scope, sha256Hex(canonicalRequest)].join('\n');
    const expected = hmac256(kSigning, stringToSign);
    // the comparison is constant-time; stopping at the variant that matched tells a caller only which
    // host it signed, which it knows (a wrong signature always costs every variant)
    if (constantTimeEqual(expected, auth.signature)) {
      ok = true;
      break;
    }
  }
  if (!ok) {
    throw apiError('AuthFailure.SignatureFailure', {
      detail:
        `${TC3_ALGORITHM} signature does not match: checked the ${req.method} request to ${show(path)} with ` +
          `SignedHeaders ${show(auth.signedHeaders)}, host ${hosts.map(show).join(' and ')}, service ${show(auth.service)}, ` +
          `${unsigned ? 'UNSIGNED-PAYLOAD' : `the SHA-256 of the ${req.body.length}-byte body`}` +
          `${req.method === 'GET' ? ' and the query string' : ''}; the request was changed after signing ` +
          `or was not signed with the secret key of SecretId ${show(auth.secretId)}`,
    });
  }

  // parameters (after the signature: they are covered by it)
  const flatParams = paramsKind === 'flat' ? withoutCommon(uniqueParams(parseUrlEncoded(flatSource, where), where)) : new Map<string, string>();
  return {
    style: 'TC3',
    accountId: secret.accountId,
    secretId: auth.secretId,
    action: nonEmpty(header(req, 'x-tc-action')),
    version: nonEmpty(header(req, 'x-tc-version')),
    region: nonEmpty(header(req, 'x-tc-region')),
    language: nonEmpty(header(req, 'x-tc-language')),
    paramsKind,
    flatParams,
  };
}

// ---------------------------------------------------------------------------------------------
// legacy v1 (HmacSHA1 / HmacSHA256)

const V1_METHODS: Record<string, 'sha1' | 'sha256'> = { HmacSHA1: 'sha1', HmacSHA256: 'sha256' };

function authenticateV1(
  req: IncomingRequest,
  params: Map<string, string>,
  where: string,
  lookup: SecretLookup,
  nowMs: number,
  opts: { maxSkewSeconds: number },
): AuthResult {
  // 1. format
  const signatureMethod = params.get('SignatureMethod') ?? 'HmacSHA1';
  const algorithm = Object.hasOwn(V1_METHODS, signatureMethod) ? V1_METHODS[signatureMethod] : undefined;
  if (algorithm === undefined) {
    throw apiError('InvalidParameterValue', { param: 'SignatureMethod', problem: `must be HmacSHA1 or HmacSHA256, got ${show(signatureMethod)}` });
  }
  for (const name of ['SecretId', 'Timestamp', 'Nonce', 'Signature']) {
    const v = params.get(name);
    if (v === undefined || v === '') {
      throw apiError('MissingParameter', { detail: `parameter ${name} is missing from the ${where} (required for a v1 signature)` });
    }
  }
  const secretId = params.get('SecretId') ?? '';
  const signature = params.get('Signature') ?? '';
  const nonce = params.get('Nonce') ?? '';
  if (!/^\d{1,20}$/.test(nonce)) {
    throw apiError('InvalidParameter', { detail: `Nonce must be a positive integer, got ${show(nonce)}` });
  }

  // 2. SecretId
  const secret = lookupSecret(lookup, secretId);

  // 3. timestamp skew
  const ts = parseTimestamp(params.get('Timestamp'), 'Timestamp');
  checkSkew(ts, 'Timestamp', nowMs, opts.maxSkewSeconds);

  // 4. signature
  const hosts = hostVariants(header(req, 'host'));
  if (hosts.length === 0) {
    throw apiError('AuthFailure.SignatureFailure', { detail: 'the Host header is missing; it is part of the v1 string to sign' });
  }
  const names = [...params.keys()].filter((k) => k !== 'Signature');
  names.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  const joined = names.map((k) => `${k}=${params.get(k) ?? ''}`).join('&');
  const path = req.path === '' ? '/' : req.path;
  const received = Buffer.from(signature, 'utf8');
  let ok = false;
  for (const host of hosts) {
    const stringToSign = `${req.method}${host}${path}?${joined}`;
    const expected = Buffer.from(createHmac(algorithm, secret.secretKey).update(stringToSign, 'utf8').digest('base64'), 'utf8');
    if (constantTimeEqual(expected, received)) ok = true;
  }
  if (!ok) {
    throw apiError('AuthFailure.SignatureFailure', {
      detail:
        `${signatureMethod} signature does not match: checked ${req.method} + host ${hosts.map(show).join(' / ')} + ` +
          `path ${show(path)} + '?' + the ${names.length} parameters of the ${where} other than Signature, sorted by name; ` +
          `the request was changed after signing or was not signed with the secret key of SecretId ${show(secretId)}`,
    });
  }

  return {
    style: 'V1',
    accountId: secret.accountId,
    secretId,
    action: nonEmpty(params.get('Action')),
    version: nonEmpty(params.get('Version')),
    region: nonEmpty(params.get('Region')),
    language: nonEmpty(params.get('Language')),
    paramsKind: 'flat',
    flatParams: withoutCommon(params),
    // 5. replay: checked by the caller, for verified requests only
    replayKey: `${secretId}\n${signature}`,
  };
}
