// The replica's event reader (services/event-stream.ts) on a real SQLite store: however many streams
// wait, one poll of the store's last Seq serves them; they wake when an event is written, and streams
// at the same position share one read of the rows, each seeing only its own account's events.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventReader } from '../../src/services/event-stream.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { EventDraft } from '../../src/domain/events.ts';
import { tempDir } from '../helpers/spawn-server.ts';

const empty = { jobs: [], tasks: [], instances: [], attempts: [] };
const ev = (account: string, index: number): EventDraft => ({ account, region: 'ap-guangzhou', kind: 'instance', time: 1, jobId: 'job-aaaaaaaa', taskName: 'A', index, state: 'RUNNING' });

let store: SqliteStore | undefined;
afterEach(async () => {
  await store?.close();
});

describe('EventReader', () => {
  it('polls once for every waiting stream, wakes them on a new event and shares their reads', async () => {
    store = new SqliteStore(path.join(tempDir(), 'openbatch.db'));
    const calls = { bounds: 0, after: 0 };
    const counted = {
      eventBounds: () => (calls.bounds++, store!.eventBounds()),
      eventsAfter: (after: number, limit: number) => (calls.after++, store!.eventsAfter(after, limit)),
    };
    const reader = new EventReader(counted, 50);
    const woken: number[] = [];
    const waits = Array.from({ length: 20 }, (_x, i) => reader.waitFor(0, 600_000).then(() => woken.push(i)));
    await new Promise((r) => setTimeout(r, 300));
    expect(woken).toEqual([]);
    // one poll at a time, 50 ms apart, for all twenty (not one each)
    expect(calls.bounds).toBeGreaterThan(0);
    expect(calls.bounds).toBeLessThan(20);
    await store.applyBatch({ ...empty, events: [ev('acc-a', 0), ev('acc-b', 1)] });
    await Promise.all(waits);
    expect(woken).toHaveLength(20); // by the event: their own time (10 minutes) is far from up
    const before = calls.after;
    const pages = await Promise.all(Array.from({ length: 20 }, (_x, i) => reader.read(i % 2 === 0 ? 'acc-a' : 'acc-b', 'ap-guangzhou', 0)));
    expect(calls.after - before).toBe(1);
    expect(pages[0]!.events.map((e) => e.TaskInstanceIndex)).toEqual([0]);
    expect(pages[1]!.events.map((e) => e.TaskInstanceIndex)).toEqual([1]);
    expect(pages.every((p) => p.next === 2)).toBe(true);
    // at the newest position, a wait lasts until its time is up
    const t1 = Date.now();
    await reader.waitFor(2, 200);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(150);
  });
});
