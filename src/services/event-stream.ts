// The reader side of the event stream (docs/events.md): the caller's events (its account and region) after a Seq, read from the
// store (any replica answers: the leader writes them there), optionally of one job or of one compute
// environment (its own and its nodes' events), as wire events.
// A reader that is further behind than the store keeps is told so (`reset`: re-read the state, then go
// on from the oldest event kept). Polled by each open stream; a read takes one indexed range of rows.
import { eventView, type ChangeEvent } from '../domain/events.ts';
import type { Store } from '../store/types.ts';

/** Rows read per poll (each holds the events of one job of one batch). */
const ROWS_PER_READ = 200;

export interface EventPage {
  /** Events were dropped before the first one here: the reader's view must be re-read. */
  reset: boolean;
  events: ChangeEvent[];
  /** Where the next read starts (the last Seq looked at, the caller's or not). */
  next: number;
}

export class EventReader {
  constructor(private readonly store: Pick<Store, 'eventsAfter' | 'eventBounds'>) {}

  /** The last Seq written (a stream that starts now starts after it). */
  async last(): Promise<number> {
    return (await this.store.eventBounds()).last;
  }

  async read(account: string, region: string, after: number, only: { jobId?: string; envId?: string } = {}): Promise<EventPage> {
    const { jobId, envId } = only;
    let reset = false;
    let from = after;
    const rows = await this.store.eventsAfter(from, ROWS_PER_READ);
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
