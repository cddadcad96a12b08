// Request limits on PostgreSQL, shared by every replica of the deployment: a token bucket per key
// (rate_buckets) and keys remembered for a window (used_keys, v1 replay protection). Each check is ONE
// statement, an upsert that decides and records atomically; old rows are pruned now and then (at most
// once a PRUNE_EVERY_MS per store), not on every call. Keys are bytea (UTF-8): they may hold characters
// that text cannot (NUL).
import type { Queryable } from './db.ts';

/** A bucket idle this long is full again (it refills in a second) and may be dropped. */
const BUCKET_IDLE_MS = 60_000;
const PRUNE_EVERY_MS = 10_000;

// a new key starts full (burst = perSecond) and takes one; an existing one is refilled continuously
// and takes one only when a whole token is there (else it is not written: its refill is recomputed
// next time from the same base, with the same result)
const TAKE = {
  name: 'ob_rate_take',
  text: `INSERT INTO rate_buckets AS b (key, tokens, updated_at) SELECT $1, $2::float8 - 1, $3 WHERE $2::float8 >= 1 - 1e-9
    ON CONFLICT (key) DO UPDATE SET
      tokens = least($2::float8, b.tokens + greatest(0, $3 - b.updated_at) * $2::float8 / 1000.0) - 1,
      updated_at = greatest(b.updated_at, $3)
    WHERE least($2::float8, b.tokens + greatest(0, $3 - b.updated_at) * $2::float8 / 1000.0) >= 1 - 1e-9
    RETURNING 1 AS took`,
};

// a first use inserts the key; a use after the window replaces it; a use within it changes nothing
const FIRST_USE = {
  name: 'ob_first_use',
  text: `INSERT INTO used_keys AS u (key, at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET at = excluded.at
    WHERE u.at <= $2::int8 - $3::int8 RETURNING 1 AS first`,
};

export class PgLimits {
  private lastBucketPrune = Number.NEGATIVE_INFINITY;
  private lastKeyPrune = Number.NEGATIVE_INFINITY;

  constructor(private readonly db: Queryable) {}

  async takeToken(key: string, perSecond: number, now: number): Promise<boolean> {
    if (now - this.lastBucketPrune >= PRUNE_EVERY_MS) {
      this.lastBucketPrune = now;
      await this.db.query({ name: 'ob_rate_prune', text: 'DELETE FROM rate_buckets WHERE updated_at < $1', values: [now - BUCKET_IDLE_MS] });
    }
    const r = await this.db.query({ ...TAKE, values: [Buffer.from(key, 'utf8'), perSecond, now] });
    return r.rows.length > 0;
  }

  async firstUse(key: string, now: number, windowMs: number): Promise<boolean> {
    if (now - this.lastKeyPrune >= PRUNE_EVERY_MS) {
      this.lastKeyPrune = now;
      await this.db.query({ name: 'ob_keys_prune', text: 'DELETE FROM used_keys WHERE at <= $1', values: [now - windowMs] });
    }
    const r = await this.db.query({ ...FIRST_USE, values: [Buffer.from(key, 'utf8'), now, windowMs] });
    return r.rows.length > 0;
  }
}
