// Events on PostgreSQL (Store.eventsAfter …): rows of consecutive Seqs (event-rows.ts), numbered from
// event_seq inside the batch's transaction: its row lock is held until that transaction commits, so a
// later batch's Seqs commit after it and a reader that resumes after its last Seq misses none. The
// oldest rows go once more than EVENTS_KEPT newer events are kept. Readers' cursors in event_cursors.
import { eventBody, eventRow, groupEvents, type EventColumns } from '../event-rows.ts';
import type { EventDraft } from '../../domain/events.ts';
import { EVENTS_KEPT, type EventRow } from '../types.ts';
import { arrayLiteral } from './batch.ts';
import type { Queryable } from './db.ts';

type Row = EventColumns;

const WRITE = {
  name: 'ob_events_write',
  text: `WITH s AS (UPDATE event_seq SET last = last + $1::bigint WHERE id = 1 RETURNING last - $1::bigint AS base),
    w AS (INSERT INTO events (first, last, account, region, job_id, body)
      SELECT s.base + u.off + 1, s.base + u.off + u.n, u.account, u.region, u.job_id, u.body
      FROM s, unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $8::text[]) AS u(off, n, account, job_id, body, region))
    DELETE FROM events WHERE first <= (SELECT base FROM s) + $1::bigint - $7::bigint AND last <= (SELECT base FROM s) + $1::bigint - $7::bigint`,
};
const START = { name: 'ob_events_start', text: 'SELECT first FROM events WHERE first <= $1 ORDER BY first DESC LIMIT 1' };
const AFTER = { name: 'ob_events_after', text: 'SELECT first, account, region, job_id, body FROM events WHERE first >= $1 AND last > $2 ORDER BY first LIMIT $3' };
const BOUNDS = { name: 'ob_events_bounds', text: '(SELECT first FROM events ORDER BY first LIMIT 1) UNION ALL (SELECT last FROM event_seq WHERE id = 1)' };
const CURSOR = { name: 'ob_event_cursor', text: 'SELECT seq FROM event_cursors WHERE name = $1' };
const SET_CURSOR = { name: 'ob_event_cursor_set', text: 'INSERT INTO event_cursors (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq' };

export class PgEvents {
  constructor(private readonly db: Queryable, private readonly kept = EVENTS_KEPT) {}

  /** On the client of the batch's (fenced) transaction. */
  async write(c: Queryable, events: readonly EventDraft[]): Promise<void> {
    if (events.length === 0) return;
    const groups = groupEvents(events);
    const offs: number[] = [], ns: number[] = [];
    let at = 0;
    for (const g of groups) {
      offs.push(at);
      ns.push(g.events.length);
      at += g.events.length;
    }
    await c.query({
      ...WRITE,
      values: [at, arrayLiteral(offs), arrayLiteral(ns), arrayLiteral(groups.map((g) => g.account)), arrayLiteral(groups.map((g) => g.jobId)),
        arrayLiteral(groups.map(eventBody)), this.kept, arrayLiteral(groups.map((g) => g.region))],
    });
  }

  async after(after: number, limit: number): Promise<EventRow[]> {
    const from = (await this.db.query<{ first: number }>({ ...START, values: [after + 1] })).rows[0]?.first ?? 0;
    const rows = (await this.db.query<Row>({ ...AFTER, values: [from, after, limit] })).rows;
    return rows.map((r) => eventRow(Number(r.first), r.account, r.region, r.job_id, r.body));
  }

  async bounds(): Promise<{ first: number; last: number }> {
    const r = (await this.db.query<{ first: number }>(BOUNDS)).rows.map((x) => Number(x.first));
    // no event row: only event_seq's
    return r.length === 2 ? { first: r[0]!, last: r[1]! } : { first: 0, last: r[0] ?? 0 };
  }

  async cursor(name: string): Promise<number> {
    const r = (await this.db.query<{ seq: number }>({ ...CURSOR, values: [name] })).rows[0];
    return r === undefined ? 0 : Number(r.seq);
  }

  async setCursor(name: string, seq: number): Promise<void> {
    await this.db.query({ ...SET_CURSOR, values: [name, seq] });
  }
}
