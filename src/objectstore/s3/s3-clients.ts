// Which S3 endpoint a bucket is reached at, and the S3 clients that reach it: one client per
// (endpoint, region, addressing style, credentials), made on first use and kept (the per-request
// credentials' clients in a small LRU), each with bounded timeouts and retries. Secrets live only
// in the clients' credentials: a cache entry is keyed by a hash of them, never by the keys.
import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import type { BucketRef, ObjectCredentials } from '../types.ts';

/** How an S3ObjectStore reaches its server (config file `objectStore`, OPENBATCH_S3_*). */
export interface S3StoreOptions {
  /** One S3 endpoint for every bucket (RGW, MinIO, AWS, a COS endpoint), e.g. `http://127.0.0.1:7480`.
   *  Without it, each bucket goes to Tencent COS of its region: `https://cos.<region>.myqcloud.com`. */
  endpoint?: string;
  /** The region requests are signed for (the endpoint's; without an endpoint, that of buckets whose
   *  `cos://` host names none). */
  region: string;
  /** Path-style requests (`<endpoint>/<bucket>/<key>`) to the configured endpoint, as RGW and MinIO
   *  want without wildcard DNS; otherwise virtual-hosted (`<bucket>.<endpoint host>`). */
  forcePathStyle: boolean;
  /** The server's own keys; without them only requests carrying their own credentials are signed. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Time to open a connection (ms; default 5 s). */
  connectionTimeoutMs?: number;
  /** A request gets no answer (headers), or its connection moves no byte, for this long (ms;
   *  default 30 s): it fails (and is retried). A long transfer that keeps moving is not cut off. */
  requestTimeoutMs?: number;
  /** Tries of one request, the first included (default 4), with the SDK's standard backoff. */
  maxAttempts?: number;
}

/** Where one bucket's requests go. */
export interface Route {
  endpoint: string;
  region: string;
  forcePathStyle: boolean;
}

export const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_ATTEMPTS = 4;
/** Clients of per-request credentials kept at once (the least recently used is dropped). */
const MAX_CREDENTIAL_CLIENTS = 32;

/** Tencent COS's S3 endpoint of a region. */
export function cosEndpoint(region: string): string {
  return `https://cos.${region}.myqcloud.com`;
}

/**
 * COMPAT: the endpoint of `loc`: with a configured endpoint every bucket goes there (signed for the
 * configured region: one endpoint is one region); without one, a bucket goes to COS of the region
 * its `cos://` host names, else of the configured region, virtual-hosted (COS refuses path style).
 */
export function routeOf(o: Pick<S3StoreOptions, 'endpoint' | 'region' | 'forcePathStyle'>, loc: BucketRef): Route {
  if (o.endpoint !== undefined) return { endpoint: o.endpoint, region: o.region, forcePathStyle: o.forcePathStyle };
  const region = loc.region ?? o.region;
  return { endpoint: cosEndpoint(region), region, forcePathStyle: false };
}

interface SdkCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Makes and keeps the S3 clients of one store. */
export class S3Clients {
  private readonly own = new Map<string, S3Client>();
  /** Per-request credentials' clients, in least-recently-used order (Map keeps insertion order). */
  private readonly borrowed = new Map<string, S3Client>();

  constructor(private readonly o: S3StoreOptions) {}

  /** The client for `route`, signing with `creds` when given, else with the store's own keys. */
  get(route: Route, creds?: ObjectCredentials): S3Client {
    const where = `${route.endpoint}|${route.region}|${route.forcePathStyle ? 'path' : 'host'}`;
    if (creds === undefined) {
      let c = this.own.get(where);
      if (!c) {
        c = this.make(route, this.ownCredentials());
        this.own.set(where, c);
      }
      return c;
    }
    const key = `${where}|${credentialsHash(creds)}`;
    let c = this.borrowed.get(key);
    if (c) {
      this.borrowed.delete(key); // re-inserted below: now the most recently used
    } else {
      c = this.make(route, { accessKeyId: creds.secretId, secretAccessKey: creds.secretKey, ...(creds.token ? { sessionToken: creds.token } : {}) });
      if (this.borrowed.size >= MAX_CREDENTIAL_CLIENTS) {
        const [oldestKey, oldest] = this.borrowed.entries().next().value as [string, S3Client];
        this.borrowed.delete(oldestKey);
        oldest.destroy();
      }
    }
    this.borrowed.set(key, c);
    return c;
  }

  /** How many clients exist (own, per-request), for tests. */
  get size(): { own: number; borrowed: number } {
    return { own: this.own.size, borrowed: this.borrowed.size };
  }

  destroy(): void {
    for (const c of [...this.own.values(), ...this.borrowed.values()]) c.destroy();
    this.own.clear();
    this.borrowed.clear();
  }

  private ownCredentials(): SdkCredentials | (() => Promise<SdkCredentials>) {
    const { accessKeyId, secretAccessKey, sessionToken } = this.o;
    if (accessKeyId !== undefined && secretAccessKey !== undefined) {
      return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
    }
    // never the SDK's default chain: it would read ~/.aws and ask the instance metadata service
    return () => Promise.reject(Object.assign(new Error('the object store has no keys configured (objectStore.accessKeyId / secretAccessKey) and the request carried none'), { name: 'NoCredentials' }));
  }

  private make(route: Route, credentials: SdkCredentials | (() => Promise<SdkCredentials>)): S3Client {
    // the SDK warns on Node 20 that its releases after early 2027 will need Node 22: the version
    // in package.json is pinned, so that says nothing about this server
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const idle = this.o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new S3Client({
      endpoint: route.endpoint,
      region: route.region,
      forcePathStyle: route.forcePathStyle,
      credentials,
      maxAttempts: this.o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      retryMode: 'standard',
      requestHandler: {
        connectionTimeout: this.o.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
        // requestTimeout (to the response's headers) is given per call by the store; the socket's
        // idle timeout bounds every transfer, uploads' parts included
        socketTimeout: idle,
        throwOnRequestTimeout: true,
        httpAgent: { keepAlive: true, maxSockets: 64 },
        httpsAgent: { keepAlive: true, maxSockets: 64 },
      },
      // COS, RGW and older MinIO know only Content-MD5 and plain ETags, not the newer flexible
      // checksums (x-amz-checksum-*, aws-chunked bodies) the SDK would send by default
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }
}

function credentialsHash(c: ObjectCredentials): string {
  return createHash('sha256').update(`${c.secretId}\0${c.secretKey}\0${c.token ?? ''}`).digest('base64url');
}
