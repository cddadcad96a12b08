// Signatures of the requests replicas send each other (GET /internal/v1/…): HMAC-SHA256 over the
// method, the path with its query and a timestamp, keyed with a key derived from the deployment's
// shared key pair (every replica of a shared store runs with the same OPENBATCH_SECRET_ID and
// OPENBATCH_SECRET_KEY). A signature holds for INTERNAL_WINDOW_S seconds either side of the
// receiver's clock. The keys stay in a private field: no message, log line or JSON of this names them.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-openbatch-timestamp';
export const SIGNATURE_HEADER = 'x-openbatch-signature';
/** How far (s) a request's timestamp may be from the receiver's clock. */
export const INTERNAL_WINDOW_S = 300;

/** Why a request is refused: 401 when it carries no signature at all, 403 when its signature is wrong. */
export type Verdict = { ok: true } | { ok: false; status: 401 | 403; why: string };

const SIGNATURE = /^[0-9a-f]{64}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;

export class InternalKey {
  readonly #key: Buffer;

  /** The key of the internal requests of a deployment, derived from its default key pair (never the
   *  pair itself: a signature seen on the wire says nothing about the API's SecretKey). */
  constructor(secretId: string, secretKey: string) {
    if (secretId === '' || secretKey === '') throw new RangeError('the internal key needs a SecretId and a SecretKey');
    this.#key = createHmac('sha256', secretKey).update(`openbatch internal v1\n${secretId}`).digest();
  }

  /** The headers that authenticate `method pathAndQuery` sent at `nowMs`. */
  headers(method: string, pathAndQuery: string, nowMs: number): Record<string, string> {
    const ts = String(Math.floor(nowMs / 1000));
    return { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: this.sign(method, pathAndQuery, ts) };
  }

  /** Whether `method pathAndQuery` with these headers was signed with this key within the window of `nowMs`. */
  verify(method: string, pathAndQuery: string, headers: Record<string, string | string[] | undefined>, nowMs: number): Verdict {
    const ts = headers[TIMESTAMP_HEADER];
    const sig = headers[SIGNATURE_HEADER];
    if (ts === undefined || sig === undefined) {
      return { ok: false, status: 401, why: `the request carries no ${TIMESTAMP_HEADER} and ${SIGNATURE_HEADER} headers` };
    }
    if (typeof ts !== 'string' || !TIMESTAMP.test(ts)) return { ok: false, status: 403, why: `${TIMESTAMP_HEADER} must be Unix seconds` };
    if (typeof sig !== 'string' || !SIGNATURE.test(sig)) return { ok: false, status: 403, why: `${SIGNATURE_HEADER} must be 64 lower-case hex digits` };
    const skew = Math.abs(Number(ts) - nowMs / 1000);
    if (skew > INTERNAL_WINDOW_S) {
      return { ok: false, status: 403, why: `the request's timestamp is ${Math.round(skew)} s away from this replica's clock (at most ${INTERNAL_WINDOW_S} s)` };
    }
    const want = Buffer.from(this.sign(method, pathAndQuery, ts), 'hex');
    if (!timingSafeEqual(want, Buffer.from(sig, 'hex'))) {
      return { ok: false, status: 403, why: 'the signature does not match (are all replicas started with the same OPENBATCH_SECRET_ID and OPENBATCH_SECRET_KEY?)' };
    }
    return { ok: true };
  }

  private sign(method: string, pathAndQuery: string, ts: string): string {
    return createHmac('sha256', this.#key).update(`${method.toUpperCase()}\n${pathAndQuery}\n${ts}`).digest('hex');
  }

  /** Never the key, whatever prints this. */
  toJSON(): string {
    return 'InternalKey(***)';
  }
}
