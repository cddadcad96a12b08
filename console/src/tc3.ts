// TC3-HMAC-SHA256 request signing in the browser, exactly as the official SDK signs a POST with a JSON
// body: canonical request `POST\n/\n\ncontent-type:…\nhost:…\n\ncontent-type;host\n<sha256(body)>`,
// scope `<date>/batch/tc3_request`, the signing key derived from "TC3"+SecretKey, date, service and
// "tc3_request". SHA-256 and HMAC come from @noble/hashes (pure JS), not crypto.subtle, which browsers
// offer in secure contexts only: the console signs also when opened as http://<a LAN address>.
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export const CONTENT_TYPE = 'application/json; charset=utf-8';
export const SERVICE = 'batch';
const ALGORITHM = 'TC3-HMAC-SHA256';
const enc = new TextEncoder();

function sha256Hex(data: string): string {
  return bytesToHex(sha256(enc.encode(data)));
}

function hmac(key: Uint8Array, msg: string): Uint8Array {
  return nobleHmac(sha256, key, enc.encode(msg));
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

/** The Authorization header of a request (async: the callers' shape when it used crypto.subtle). */
export async function authorization(i: SignInput): Promise<string> {
  const date = new Date(i.timestamp * 1000).toISOString().slice(0, 10);
  const canonical = [
    i.method ?? 'POST', i.path ?? '/', i.query ?? '',
    `content-type:${CONTENT_TYPE}\nhost:${i.host.toLowerCase()}\n`, 'content-type;host', sha256Hex(i.body),
  ].join('\n');
  const scope = `${date}/${SERVICE}/tc3_request`;
  const toSign = [ALGORITHM, String(i.timestamp), scope, sha256Hex(canonical)].join('\n');
  const kDate = hmac(enc.encode(`TC3${i.secretKey}`), date);
  const kService = hmac(kDate, SERVICE);
  const kSigning = hmac(kService, 'tc3_request');
  const signature = bytesToHex(hmac(kSigning, toSign));
  return `${ALGORITHM} Credential=${i.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}
