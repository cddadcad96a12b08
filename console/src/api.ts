// The console's only way to the server: call(action, params) signs an ordinary API call (POST /, TC3)
// with the key of the sign-in page, kept in sessionStorage only (gone when the tab closes). An error
// answer is thrown as ApiError with the API's Code, Message and RequestId as they came. A call refused
// by the rate limit (RequestLimitExceeded) waits and is sent again a few times, signed anew.
import { authorization, CONTENT_TYPE } from './tc3.ts';

export const VERSION = '2017-03-12';
const KEY = 'openbatch.console.credentials';

export interface Credentials {
  secretId: string;
  secretKey: string;
  region: string;
}

export class ApiError extends Error {
  constructor(readonly Code: string, readonly Message: string, readonly RequestId: string) {
    super(`${Code}: ${Message}`);
  }
}

export function credentials(): Credentials | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const c = JSON.parse(raw) as Partial<Credentials>;
    return c.secretId && c.secretKey && c.region ? { secretId: c.secretId, secretKey: c.secretKey, region: c.region } : undefined;
  } catch {
    return undefined;
  }
}

export function saveCredentials(c: Credentials): void {
  sessionStorage.setItem(KEY, JSON.stringify(c));
}

export function forgetCredentials(): void {
  sessionStorage.removeItem(KEY);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Answer = Record<string, any>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `action` once with these credentials; the parsed Response, or throws ApiError. */
export async function callWith(c: Credentials, action: string, params: object): Promise<Answer> {
  const body = JSON.stringify(params);
  const timestamp = Math.floor(Date.now() / 1000);
  const auth = await authorization({ secretId: c.secretId, secretKey: c.secretKey, host: location.host, body, timestamp });
  const res = await fetch('/', {
    method: 'POST',
    headers: {
      'Content-Type': CONTENT_TYPE,
      Authorization: auth,
      'X-TC-Action': action,
      'X-TC-Version': VERSION,
      'X-TC-Timestamp': String(timestamp),
      'X-TC-Region': c.region,
    },
    body,
    credentials: 'omit',
    cache: 'no-store',
  });
  let json: { Response?: Answer & { Error?: { Code?: string; Message?: string }; RequestId?: string } };
  try {
    json = (await res.json()) as typeof json;
  } catch {
    throw new ApiError('ConsoleError', `the server answered HTTP ${res.status} without a JSON body`, res.headers.get('x-tc-requestid') ?? '');
  }
  const r = json.Response;
  if (!r) throw new ApiError('ConsoleError', `the server answered HTTP ${res.status} without a Response`, '');
  if (r.Error) throw new ApiError(r.Error.Code ?? 'UnknownError', r.Error.Message ?? '', r.RequestId ?? '');
  return r;
}

/** Calls `action` with the signed-in key; waits and retries when the rate limit refuses it. */
export async function call(action: string, params: object = {}): Promise<Answer> {
  const c = credentials();
  if (!c) throw new ApiError('AuthFailure.SecretIdNotFound', 'not signed in: give a SecretId and SecretKey', '');
  for (let attempt = 0; ; attempt++) {
    try {
      return await callWith(c, action, params);
    } catch (e) {
      if (e instanceof ApiError && e.Code === 'RequestLimitExceeded' && attempt < 8) {
        await sleep(300 * (attempt + 1) + Math.random() * 200);
        continue;
      }
      throw e;
    }
  }
}

/** The text of an error for the page: the API's code and message as they came, and the RequestId. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.Code}: ${e.Message}${e.RequestId ? ` (RequestId ${e.RequestId})` : ''}`;
  return e instanceof Error ? e.message : String(e);
}
