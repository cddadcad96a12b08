// Events on PostgreSQL (Store.eventsAfter …): rows of consecutive Seqs (event-rows.ts), numbered from
// event_seq inside the batch's transaction: its row lock is held until that transaction commits, so a
// later batch's Seqs commit after it and a reader that resumes after its last Seq misses none. The
// oldest rows go once more than EVENTS_KEPT newer events are kept. The scheduler's batches write
// theirs in the statement of their rows (eventStatements). Readers' cursors in event_cursors.
import { eventBody, eventRow, groupEvents, type EventColumns } from '../event-rows.ts';
import type { EventDraft } from '../../domain/events.ts';
import { EVENTS_KEPT, type EventRow } from '../types.ts';
import { arrayLiteral } from './arrays.ts';
import type { Queryable } from './db.ts';

type Row = EventColumns;

/** The event writes as CTEs es, ew, ed (parameters $(at+1)–$(at+8)), numbering only when `guard`
 *  holds (empty: always): so that a scheduler's batch writes its rows and its events, fenced, in one
 *  statement (batch.ts). */
export function eventStatements(at: number, guard: string): string {
  const p = (n: number) => `$${at + n}`;
  const and = guard === '' ? '' : ` AND ${guard}`;
  const cut = `(SELECT base FROM es) + ${p(1)}::bigint - ${p(7)}::bigint`;
  return `es AS (UPDATE event_seq SET last = last + ${p(1)}::bigint WHERE id = 1 AND ${p(1)}::bigint > 0${and} RETURNING last - ${p(1)}::bigint AS base),
    ew AS (INSERT INTO events (first, last, account, region, job_id, body)
      SELECT es.base + u.off + 1, es.base + u.off + u.n, u.account, u.region, u.job_id, u.body
      FROM es, unnest(${p(2)}::bigint[], ${p(3)}::bigint[], ${p(4)}::text[], ${p(5)}::text[], ${p(6)}::text[], ${p(8)}::text[]) AS u(off, n, account, job_id, body, region)),
    ed AS (DELETE FROM events WHERE first <= ${cut} AND last <= ${cut})`;
}

/** The 8 parameters of eventStatements for `events`, keeping `kept`. */
export function eventValues(events: readonly EventDraft[], kept: number): (string | number)[] {
  const groups = groupEvents(events);
  const offs: number[] = [], ns: number[] = [];
  let at = 0;
  for (const g of groups) {
    offs.push(at);
    ns.push(g.events.length);
    at += g.events.length;
  }
  return [at, arrayLiteral(offs), arrayLiteral(ns), arrayLiteral(groups.map((g) => g.account)), arrayLiteral(groups.map((g) => g.jobId)),
    arrayLiteral(groups.map(eventBody)), kept, arrayLiteral(groups.map((g) => g.region))];
}

const WRITE = { name: 'ob_events_write', text: `WITH ${eventStatements(0, '')} SELECT 1` };
const START = { name: 'ob_events_start', text: 'SELECT first FROM events WHERE first <= $1 ORDER BY first DESC LIMIT 1' };
const AFTER = { name: 'ob_events_after', text: 'SELECT first, account, region, job_id, body FROM events WHERE first >= $1 AND last > $2 ORDER BY first LIMIT $3' };
const BOUNDS = { name: 'ob_events_bounds', text: '(SELECT first FROM events ORDER BY first LIMIT 1) UNION ALL (SELECT last FROM event_seq WHERE id = 1)' };
const CURSOR = { name: 'ob_event_cursor', text: 'SELECT seq FROM event_cursors WHERE name = $1' };
const SET_CURSOR = { name: 'ob_event_cursor_set', text: 'INSERT INTO event_cursors (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq' };

export class PgEvents {
  constructor(private readonly db: Queryable, readonly kept = EVENTS_KEPT) {}

  /** On the client of the batch's (fenced) transaction. */
  async write(c: Queryable, events: readonly EventDraft[]): Promise<void> {
    if (events.length === 0) return;
    await c.query({ ...WRITE, values: eventValues(events, this.kept) });
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
