// TC3-HMAC-SHA256 request signing in the browser, exactly as the official SDK signs a POST with a JSON
// body: canonical request `POST\n/\n\ncontent-type:…\nhost:…\n\ncontent-type;host\n<sha256(body)>`,
// scope `<date>/batch/tc3_request`, the signing key derived from "TC3"+SecretKey, date, service and
// "tc3_request". SHA-256 and HMAC come from crypto.subtle, which browsers offer in secure contexts only
// (https, http://localhost): tc3Available() says whether this page can sign.
export const CONTENT_TYPE = 'application/json; charset=utf-8';
export const SERVICE = 'batch';
const ALGORITHM = 'TC3-HMAC-SHA256';
const enc = new TextEncoder();

export function tc3Available(): boolean {
  return typeof crypto !== 'undefined' && crypto.subtle !== undefined;
}

function hex(buf: ArrayBuffer): string {
  const b = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

async function sha256Hex(data: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', enc.encode(data)));
}

async function hmac(key: ArrayBuffer | Uint8Array<ArrayBuffer>, msg: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, enc.encode(msg));
}

export interface SignInput {
  secretId: string;
  secretKey: string;
  /** The Host header the browser sends (location.host: with the port). */
  host: string;
  /** Path of the request ("/" for API calls). */
  path?: string;
  method?: 'POST' | 'GET';
  /** The query string as sent, without "?" (GET only). */
  query?: string;
  body: string;
  /** Unix seconds. */
  timestamp: number;
}

/** The Authorization header of a request. */
export async function authorization(i: SignInput): Promise<string> {
  const date = new Date(i.timestamp * 1000).toISOString().slice(0, 10);
  const canonical = [
    i.method ?? 'POST', i.path ?? '/', i.query ?? '',
    `content-type:${CONTENT_TYPE}\nhost:${i.host.toLowerCase()}\n`, 'content-type;host', await sha256Hex(i.body),
  ].join('\n');
  const scope = `${date}/${SERVICE}/tc3_request`;
  const toSign = [ALGORITHM, String(i.timestamp), scope, await sha256Hex(canonical)].join('\n');
  const kDate = await hmac(enc.encode(`TC3${i.secretKey}`), date);
  const kService = await hmac(kDate, SERVICE);
  const kSigning = await hmac(kService, 'tc3_request');
  const signature = hex(await hmac(kSigning, toSign));
  return `${ALGORITHM} Credential=${i.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}
