// How both stores keep events (Store.eventsAfter): a batch's events grouped by account and job, in
// the order they happened within each, each group one row of consecutive Seqs whose body is the JSON
// array of its events without the members the row holds (account, job). Shared by SQLite and PostgreSQL.
import type { EventDraft } from '../domain/events.ts';
import type { EventRow } from './types.ts';

export interface EventGroup {
  account: string;
  region: string;
  jobId: string | null;
  events: EventDraft[];
}

/** The events of a batch by account and job (first-seen order), each group's events in their order. */
export function groupEvents(events: readonly EventDraft[]): EventGroup[] {
  const groups = new Map<string, EventGroup>();
  for (const e of events) {
    const jobId = e.jobId ?? null;
    const key = `${e.account}\u0000${e.region}\u0000${jobId ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { account: e.account, region: e.region, jobId, events: [] }));
    g.events.push(e);
  }
  return [...groups.values()];
}

/** The body of a group's row. */
export function eventBody(g: EventGroup): string {
  return JSON.stringify(g.events.map(({ account: _a, region: _r, jobId: _j, ...rest }) => rest));
}

/** The columns of a row as both stores read them. */
export interface EventColumns {
  first: number;
  account: string;
  region: string;
  job_id: string | null;
  body: string;
}

/** A row as read back. */
export function eventRow(first: number, account: string, region: string, jobId: string | null, body: string): EventRow {
  const events = (JSON.parse(body) as Omit<EventDraft, 'account' | 'region'>[]).map((e): EventDraft => ({ ...e, account, region, ...(jobId === null ? {} : { jobId }) }));
  return { first, account, region, jobId, events };
}
