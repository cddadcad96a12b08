// The leadership lease on PostgreSQL: the one row of `leadership` (there from the first migration,
// holder '' while nobody holds it), changed by single atomic UPDATE … WHERE statements, and the fencing
// check that every fenced write runs first inside its own transaction: the row read FOR SHARE, so that
// no takeover (an UPDATE of that row) can commit between the check and the write's commit.
//
// Lease times are the caller's `now`: replicas with skewed clocks may disagree on when a lease lapsed,
// which only decides when a takeover may happen; safety comes from the epochs, compared in the writing
// transaction under the row lock, never from clocks.
import type { Lease } from '../coordination.ts';
import { FencedError } from '../errors.ts';
import type { Queryable } from './db.ts';

interface LeaseRow {
  holder: string;
  epoch: number;
  expires_at: number;
  since: number;
}

const toLease = (r: LeaseRow): Lease => ({ holder: r.holder, epoch: r.epoch, expiresAt: r.expires_at, since: r.since });

// granted when free (released), lapsed, or held by `holder` itself (then renewed: same epoch and since)
const ACQUIRE = {
  name: 'ob_lease_acquire',
  text: `UPDATE leadership SET
      epoch = CASE WHEN holder = $1 THEN epoch ELSE epoch + 1 END,
      since = CASE WHEN holder = $1 THEN since ELSE $2 END,
      holder = $1, expires_at = $3
    WHERE id = 1 AND (holder = $1 OR holder = '' OR expires_at <= $2)
    RETURNING holder, epoch, expires_at, since`,
};
const RENEW = {
  name: 'ob_lease_renew',
  text: `UPDATE leadership SET expires_at = $3 WHERE id = 1 AND holder = $1 AND epoch = $2 RETURNING holder, epoch, expires_at, since`,
};
const RELEASE = { name: 'ob_lease_release', text: `UPDATE leadership SET holder = '', expires_at = 0 WHERE id = 1 AND holder = $1 AND epoch = $2` };
const CURRENT = { name: 'ob_lease_current', text: `SELECT holder, epoch, expires_at, since FROM leadership WHERE id = 1` };
const FENCE = { name: 'ob_lease_fence', text: `SELECT holder, epoch FROM leadership WHERE id = 1 FOR SHARE` };

export class PgLeadership {
  constructor(private readonly db: Queryable) {}

  async acquire(holder: string, ttlMs: number, now: number): Promise<Lease | undefined> {
    checkArgs(holder, ttlMs);
    const r = await this.db.query<LeaseRow>({ ...ACQUIRE, values: [holder, now, now + ttlMs] });
    return r.rows[0] && toLease(r.rows[0]);
  }

  async renew(lease: Lease, ttlMs: number, now: number): Promise<Lease | undefined> {
    checkArgs(lease.holder, ttlMs);
    const r = await this.db.query<LeaseRow>({ ...RENEW, values: [lease.holder, lease.epoch, now + ttlMs] });
    return r.rows[0] && toLease(r.rows[0]);
  }

  async release(lease: Lease): Promise<void> {
    await this.db.query({ ...RELEASE, values: [lease.holder, lease.epoch] });
  }

  async current(): Promise<Lease | undefined> {
    const row = (await this.db.query<LeaseRow>(CURRENT)).rows[0];
    return row === undefined || row.holder === '' ? undefined : toLease(row);
  }
}

/**
 * Throw FencedError unless `epoch` is the current lease's (no check when undefined). Run it first on
 * the client of the write transaction it guards: the row stays share-locked until that transaction ends.
 */
export async function fence(c: Queryable, epoch: number | undefined, operation: string): Promise<void> {
  if (epoch === undefined) return;
  const row = (await c.query<{ holder: string; epoch: number }>(FENCE)).rows[0];
  const current = row === undefined || row.holder === '' ? undefined : row;
  if (current?.epoch !== epoch) throw new FencedError(operation, epoch, current?.epoch, current?.holder);
}

function checkArgs(holder: string, ttlMs: number): void {
  if (holder === '') throw new RangeError('a lease holder must not be empty');
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`a lease ttl must be a positive number of ms, got ${ttlMs}`);
}
