// The reader side of the event stream (docs/events.md): the caller's events (its account and region) after a Seq, read from the
// store (any replica answers: the leader writes them there), optionally of one job or of one compute
// environment (its own and its nodes' events), as wire events.
// A reader that is further behind than the store keeps is told so (`reset`: re-read the state, then go
// on from the oldest event kept). One reader serves every open stream of the replica: it alone polls
// the store's last Seq (every pollMs, only while a stream waits) and wakes the waiting streams when it
// moves; streams at the same position share one read of the rows. A read takes one indexed range.
import { eventView, type ChangeEvent } from '../domain/events.ts';
import type { EventRow, Store } from '../store/types.ts';

/** Rows read per poll (each holds the events of one job of one batch). */
const ROWS_PER_READ = 200;
/** Positions whose rows are kept for other streams at most (cleared whenever the last Seq moves). */
const SHARED_READS = 64;

export interface EventPage {
  /** Events were dropped before the first one here: the reader's view must be re-read. */
  reset: boolean;
  events: ChangeEvent[];
  /** Where the next read starts (the last Seq looked at, the caller's or not). */
  next: number;
}

export class EventReader {
  /** The last Seq the poll saw. */
  private known = 0;
  private readonly waiters = new Set<() => void>();
  private polling = false;
  /** Reads of rows after a position, shared by the streams there, while `known` stays. */
  private readonly shared = new Map<number, Promise<EventRow[]>>();

  constructor(private readonly store: Pick<Store, 'eventsAfter' | 'eventBounds'>, private readonly pollMs = 250) {}

  /** Resolves once a Seq after `after` was written (as the poll sees it) or after `ms`. */
  waitFor(after: number, ms: number): Promise<void> {
    if (this.known > after) return Promise.resolve();
    return new Promise((res) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        res();
      };
      const t = setTimeout(done, ms);
      t.unref?.();
      this.waiters.add(done);
      void this.poll();
    });
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      while (this.waiters.size > 0) {
        try {
          const { last } = await this.store.eventBounds();
          if (last > this.known) {
            this.known = last;
            this.shared.clear();
            for (const w of [...this.waiters]) w();
          }
        } catch {
          // the store cannot answer: the streams' own reads say so
        }
        if (this.waiters.size > 0) await new Promise((r) => setTimeout(r, this.pollMs).unref());
      }
    } finally {
      this.polling = false;
    }
  }

  private rowsAfter(from: number): Promise<EventRow[]> {
    let p = this.shared.get(from);
    if (!p) {
      if (this.shared.size >= SHARED_READS) this.shared.clear();
      p = this.store.eventsAfter(from, ROWS_PER_READ);
      this.shared.set(from, p);
      p.catch(() => this.shared.delete(from));
    }
    return p;
  }

  /** The last Seq written (a stream that starts now starts after it). */
  async last(): Promise<number> {
    return (await this.store.eventBounds()).last;
  }

  async read(account: string, region: string, after: number, only: { jobId?: string; envId?: string } = {}): Promise<EventPage> {
    const { jobId, envId } = only;
    let reset = false;
    let from = after;
    const rows = await this.rowsAfter(from);
    if (rows.length > 0 && rows[0]!.first > from + 1) {
      // the first row after the reader's position may only start later if rows were pruned
      const { first } = await this.store.eventBounds();
      if (first > from + 1) {
        reset = true;
        from = first - 1;
      }
    }
    const events: ChangeEvent[] = [];
    let next = from;
    for (const r of rows) {
      const last = r.first + r.events.length - 1;
      if (last > next) next = last;
      if (r.account !== account || r.region !== region || (jobId !== undefined && r.jobId !== jobId)) continue;
      r.events.forEach((e, i) => {
        const seq = r.first + i;
        if (seq > from && (envId === undefined || e.envId === envId)) events.push(eventView(seq, e));
      });
    }
    return { reset, events, next };
  }
}
