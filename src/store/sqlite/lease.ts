// The leadership lease on SQLite: the one row of `leadership`, changed only in IMMEDIATE transactions,
// and the fencing check that the scheduler's writes run first inside their own transaction. (PostgreSQL:
// the same row read FOR UPDATE / FOR SHARE in the writing transaction.)
import type { Lease } from '../coordination.ts';
import { FencedError } from '../errors.ts';
import type { Conn } from './connection.ts';

interface LeaseRow {
  holder: string;
  epoch: number;
  expires_at: number;
  since: number;
}

const READ = 'SELECT holder, epoch, expires_at, since FROM leadership WHERE id = 1';

export class SqliteLeadership {
  constructor(private readonly c: Conn) {}

  acquire(holder: string, ttlMs: number, now: number): Lease | undefined {
    checkArgs(holder, ttlMs);
    return this.c.write(() => {
      const row = this.row();
      const expiresAt = now + ttlMs;
      if (row === undefined) {
        this.c.sql('INSERT INTO leadership (id, holder, epoch, expires_at, since) VALUES (1, ?, 1, ?, ?)').run(holder, expiresAt, now);
        return { holder, epoch: 1, expiresAt, since: now };
      }
      // the holder itself: a renewal, even after its lease lapsed (nobody took it over since)
      if (row.holder === holder) return this.extend(row, expiresAt);
      if (row.holder !== '' && row.expires_at > now) return undefined;
      const epoch = row.epoch + 1;
      this.c.sql('UPDATE leadership SET holder = ?, epoch = ?, expires_at = ?, since = ? WHERE id = 1').run(holder, epoch, expiresAt, now);
      return { holder, epoch, expiresAt, since: now };
    });
  }

  renew(lease: Lease, ttlMs: number, now: number): Lease | undefined {
    checkArgs(lease.holder, ttlMs);
    return this.c.write(() => {
      const row = this.row();
      if (row === undefined || row.holder !== lease.holder || row.epoch !== lease.epoch) return undefined;
      return this.extend(row, now + ttlMs);
    });
  }

  release(lease: Lease): void {
    this.c.write(() => {
      this.c.sql("UPDATE leadership SET holder = '', expires_at = 0 WHERE id = 1 AND holder = ? AND epoch = ?").run(lease.holder, lease.epoch);
    });
  }

  current(): Lease | undefined {
    const row = this.row();
    return row === undefined || row.holder === '' ? undefined : { holder: row.holder, epoch: row.epoch, expiresAt: row.expires_at, since: row.since };
  }

  /**
   * Throw FencedError unless `epoch` is the current lease's (no check when undefined). Call it first
   * inside the write transaction it guards, so that no takeover can come between check and write.
   */
  fence(epoch: number | undefined, operation: string): void {
    if (epoch === undefined) return;
    const row = this.row();
    const current = row === undefined || row.holder === '' ? undefined : row;
    if (current?.epoch !== epoch) throw new FencedError(operation, epoch, current?.epoch, current?.holder);
  }

  private row(): LeaseRow | undefined {
    return this.c.sql(READ).get() as LeaseRow | undefined;
  }

  private extend(row: LeaseRow, expiresAt: number): Lease {
    this.c.sql('UPDATE leadership SET expires_at = ? WHERE id = 1').run(expiresAt);
    return { holder: row.holder, epoch: row.epoch, expiresAt, since: row.since };
  }
}

function checkArgs(holder: string, ttlMs: number): void {
  if (holder === '') throw new RangeError('a lease holder must not be empty');
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`a lease ttl must be a positive number of ms, got ${ttlMs}`);
}
