// Events on SQLite (Store.eventsAfter …): rows of consecutive Seqs (event-rows.ts), numbered on from
// the newest row inside the batch's write transaction (one writer at a time: Seqs never interleave);
// the oldest rows go once more than EVENTS_KEPT newer events are kept. Readers' cursors (webhook
// topics) in event_cursors.
import { groupEvents, eventBody, eventRow, type EventColumns } from '../event-rows.ts';
import type { EventDraft } from '../../domain/events.ts';
import { EVENTS_KEPT, type EventRow } from '../types.ts';
import type { Conn } from './connection.ts';

type Row = EventColumns;

export class SqliteEvents {
  constructor(private readonly c: Conn, private readonly kept = EVENTS_KEPT) {}

  /** Inside the batch's transaction. */
  write(events: readonly EventDraft[]): void {
    if (events.length === 0) return;
    let next = ((this.c.sql('SELECT last FROM events ORDER BY first DESC LIMIT 1').pluck().get() as number | undefined) ?? 0) + 1;
    const insert = this.c.sql('INSERT INTO events (first, last, account, region, job_id, body) VALUES (?, ?, ?, ?, ?, ?)');
    for (const g of groupEvents(events)) {
      const last = next + g.events.length - 1;
      insert.run(next, last, g.account, g.region, g.jobId, eventBody(g));
      next = last + 1;
    }
    const old = next - 1 - this.kept;
    this.c.sql('DELETE FROM events WHERE first <= ? AND last <= ?').run(old, old);
  }

  after(after: number, limit: number): EventRow[] {
    // the row holding Seq after + 1 may start at or before it
    const from = (this.c.sql('SELECT first FROM events WHERE first <= ? ORDER BY first DESC LIMIT 1').pluck().get(after + 1) as number | undefined) ?? 0;
    const rows = this.c.sql('SELECT first, account, region, job_id, body FROM events WHERE first >= ? AND last > ? ORDER BY first LIMIT ?').all(from, after, limit) as Row[];
    return rows.map((r) => eventRow(r.first, r.account, r.region, r.job_id, r.body));
  }

  bounds(): { first: number; last: number } {
    const first = this.c.sql('SELECT first FROM events ORDER BY first LIMIT 1').pluck().get() as number | undefined;
    const last = this.c.sql('SELECT last FROM events ORDER BY first DESC LIMIT 1').pluck().get() as number | undefined;
    return { first: first ?? 0, last: last ?? 0 };
  }

  cursor(name: string): number {
    return (this.c.sql('SELECT seq FROM event_cursors WHERE name = ?').pluck().get(name) as number | undefined) ?? 0;
  }

  setCursor(name: string, seq: number): void {
    this.c.write(() => {
      this.c.sql('INSERT INTO event_cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq').run(name, seq);
    });
  }
}
