// Where the user commands of `openbatch` send their requests and with which key: the endpoint and
// credentials resolved from flags, the environment (OPENBATCH_ENDPOINT, TENCENTCLOUD_SECRET_ID,
// TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_REGION — the variables of tccli and the SDKs), a profile of
// ~/.openbatch/config (YAML), or a local server's data dir (its generated credentials.json), in that
// order; and the one way they call the API: the official Node SDK (so every command works against
// any OpenBatch and, where the action exists, Tencent Cloud itself), with RequestLimitExceeded retried
// with backoff and jitter instead of shown as a failure. Signed GETs (the event stream) are signed
// with the SDK's own TC3 signer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import YAML from 'yaml';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tencentcloud = require('tencentcloud-sdk-nodejs') as { batch: { v20170312: { Client: new (cfg: unknown) => SdkClient } } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sign = (require('tencentcloud-sdk-nodejs/tencentcloud/common/sign.js') as { default: Signer }).default;

interface Signer {
  sign3(o: { method: string; url: string; payload: unknown; timestamp: number; service: string; secretId: string; secretKey: string;
    multipart: boolean; boundary: string; headers: Record<string, string> }): string;
}

interface SdkClient {
  request(action: string, req: unknown): Promise<Record<string, unknown>>;
}

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8080';
export const DEFAULT_REGION = 'ap-guangzhou';
export const API_VERSION = '2017-03-12';

/** What the global options say (undefined: not given). */
export interface ConnectionFlags {
  endpoint?: string;
  secretId?: string;
  secretKey?: string;
  region?: string;
  profile?: string;
  dataDir?: string;
}

export interface Connection {
  endpoint: URL;
  secretId: string;
  secretKey: string;
  region: string;
  /** Where the key came from (for error messages; never the key itself). */
  source: string;
}

/** A failure the CLI reports as `openbatch: <message>` with exit code `exitCode`. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1, readonly code?: string) {
    super(message);
  }
}

interface Profile {
  endpoint?: string;
  secretId?: string;
  secretKey?: string;
  region?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.OPENBATCH_CONFIG ?? path.join(env.HOME ?? os.homedir(), '.openbatch', 'config');
}

function readProfile(name: string, file: string, required: boolean): Profile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    throw new CliError(`cannot read the profile file ${file}: ${(e as Error).message}`, 2);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new CliError(`the profile file ${file} is not valid YAML: ${(e as Error).message}`, 2);
  }
  const profiles = (doc ?? {}) as Record<string, unknown>;
  const p = profiles[name];
  if (p === undefined) {
    if (required) throw new CliError(`the profile file ${file} has no profile "${name}" (it has: ${Object.keys(profiles).join(', ') || 'none'})`, 2);
    return undefined;
  }
  if (typeof p !== 'object' || p === null) throw new CliError(`profile "${name}" in ${file} must be a mapping of endpoint, secretId, secretKey, region`, 2);
  return p as Profile;
}

function readDataDir(dir: string, required: boolean): { secretId: string; secretKey: string } | undefined {
  const file = path.join(dir, 'credentials.json');
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { secretId?: unknown; secretKey?: unknown };
    if (typeof j.secretId === 'string' && typeof j.secretKey === 'string') return { secretId: j.secretId, secretKey: j.secretKey };
    throw new CliError(`${file} has no secretId/secretKey`, 2);
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
  }
}

/** The endpoint and key, from flags > environment > profile > a data dir's credentials.json. */
export function resolveConnection(f: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const profileName = f.profile ?? env.OPENBATCH_PROFILE;
  const profile = readProfile(profileName ?? 'default', configPath(env), profileName !== undefined) ?? {};
  const endpointText = f.endpoint ?? env.OPENBATCH_ENDPOINT ?? profile.endpoint ?? DEFAULT_ENDPOINT;
  let endpoint: URL;
  try {
    endpoint = new URL(/^[a-z]+:\/\//i.test(endpointText) ? endpointText : `http://${endpointText}`);
  } catch {
    throw new CliError(`the endpoint "${endpointText}" is not a URL (for example http://127.0.0.1:8080)`, 2);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw new CliError(`the endpoint must be http:// or https://; got "${endpointText}"`, 2);
  const region = f.region ?? env.TENCENTCLOUD_REGION ?? profile.region ?? DEFAULT_REGION;
  const pick = (flag: string | undefined, envName: string, prof: string | undefined, what: string): [string | undefined, string] =>
    flag !== undefined ? [flag, `--${what}`] : env[envName] ? [env[envName], envName] : prof !== undefined ? [prof, `profile ${profileName ?? 'default'}`] : [undefined, ''];
  let [secretId, idSource] = pick(f.secretId, 'TENCENTCLOUD_SECRET_ID', profile.secretId, 'secret-id');
  let [secretKey, keySource] = pick(f.secretKey, 'TENCENTCLOUD_SECRET_KEY', profile.secretKey, 'secret-key');
  // half a pair is a mistake, not a cue to take the other half from elsewhere (two keys that do not match)
  if ((secretId === undefined) !== (secretKey === undefined)) {
    throw new CliError(secretId === undefined
      ? `a SecretKey was given (${keySource}) but no SecretId: give both (--secret-id, TENCENTCLOUD_SECRET_ID or the profile)`
      : `a SecretId was given (${idSource}) but no SecretKey: give both (--secret-key, TENCENTCLOUD_SECRET_KEY or the profile)`, 2);
  }
  if (secretId === undefined || secretKey === undefined) {
    const dir = f.dataDir ?? env.OPENBATCH_DATA_DIR;
    const local = readDataDir(dir ?? path.resolve('.openbatch'), dir !== undefined);
    if (local) {
      secretId = local.secretId;
      secretKey = local.secretKey;
      idSource = `${dir ?? '.openbatch'}/credentials.json`;
    }
  }
  if (secretId === undefined || secretKey === undefined) {
    throw new CliError('no API key: pass --secret-id and --secret-key, set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, ' +
      `write a profile in ${configPath(env)}, or run on the server's host with --data-dir DIR`, 2);
  }
  return { endpoint, secretId, secretKey, region, source: idSource };
}

/** An API error as the SDK reports it. */
export interface ApiFailure {
  code: string;
  message: string;
  requestId?: string;
}

function failureOf(e: unknown): ApiFailure | undefined {
  const x = e as { code?: unknown; message?: unknown; requestId?: unknown };
  if (typeof x?.code === 'string' && x.code !== '') return { code: x.code, message: String(x.message ?? ''), requestId: typeof x.requestId === 'string' ? x.requestId : undefined };
  return undefined;
}

export interface RetryPolicy {
  /** First wait (ms); doubles each time, with full jitter, up to capMs. */
  baseMs: number;
  capMs: number;
  /** Give up after this long in all (ms). */
  maxTotalMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 200, capMs: 5_000, maxTotalMs: 10 * 60_000 };

/** Calls the Batch API through the official SDK. */
export class Api {
  private readonly client: SdkClient;
  /** How many RequestLimitExceeded answers were retried (for --verbose and tests). */
  rateLimited = 0;

  constructor(readonly conn: Connection, private readonly retry: RetryPolicy = DEFAULT_RETRY, private readonly onRetry?: (action: string, waitMs: number) => void) {
    this.client = new tencentcloud.batch.v20170312.Client({
      credential: { secretId: conn.secretId, secretKey: conn.secretKey },
      region: conn.region,
      profile: { httpProfile: { endpoint: conn.endpoint.host, protocol: `${conn.endpoint.protocol}//`, reqMethod: 'POST', reqTimeout: 60 } },
    });
  }

  /** `action` with `params`; RequestLimitExceeded is waited out; any other API error is a CliError. */
  async call<T = Record<string, unknown>>(action: string, params: object = {}): Promise<T> {
    const t0 = Date.now();
    for (let tries = 0; ; tries++) {
      try {
        return (await this.client.request(action, params)) as T;
      } catch (e) {
        const f = failureOf(e);
        if (f?.code === 'RequestLimitExceeded' && Date.now() - t0 < this.retry.maxTotalMs) {
          const wait = Math.random() * Math.min(this.retry.capMs, this.retry.baseMs * 2 ** Math.min(tries, 20));
          this.rateLimited++;
          this.onRetry?.(action, wait);
          await new Promise((r) => setTimeout(r, wait));
          continue;
        }
        if (f) throw new CliError(`${action}: ${f.code}: ${f.message}${f.requestId ? ` (RequestId ${f.requestId})` : ''}`, 1, f.code);
        throw new CliError(`${action}: cannot reach ${this.conn.endpoint.origin}: ${(e as Error).message}`, 1);
      }
    }
  }

  /** Headers of a TC3-signed GET of `pathAndQuery` on the endpoint (the extension paths). */
  signedGetHeaders(pathAndQuery: string, action: string): Record<string, string> {
    const url = new URL(pathAndQuery, this.conn.endpoint);
    const timestamp = Math.floor(Date.now() / 1000);
    const contentType = 'application/x-www-form-urlencoded';
    const authorization = Sign.sign3({
      method: 'GET', url: url.href, payload: '', timestamp, service: 'batch', secretId: this.conn.secretId, secretKey: this.conn.secretKey,
      multipart: false, boundary: '', headers: { 'Content-Type': contentType },
    });
    return {
      Authorization: authorization, 'Content-Type': contentType, Host: url.host, 'X-TC-Action': action, 'X-TC-Version': API_VERSION,
      'X-TC-Timestamp': String(timestamp), 'X-TC-Region': this.conn.region,
    };
  }
}
