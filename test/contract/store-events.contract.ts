// The Store contract, part 5: events (WriteBatch.events, eventsAfter, eventBounds, event cursors):
// a batch's events get consecutive Seqs after every earlier one, kept by account, region and job in
// their order; a reader resumes after any Seq, also in the middle of a row; a batch refused by its
// fence numbers nothing; cursors are durable; what was written survives a reopen; the events of env
// changes (insertEnvWithNodes, applyEnvBatch) are numbered with them, none for an env not created.
import { describe, expect, it } from 'vitest';
import type { EventDraft } from '../../src/domain/events.ts';
import type { Store } from '../../src/store/types.ts';
import { env, node, type StoreFactory } from './store-fixtures.ts';

const empty = { jobs: [], tasks: [], instances: [], attempts: [] };

function ev(jobId: string, index: number, state = 'RUNNING', account = 'acc', region = 'ap-guangzhou'): EventDraft {
  return { account, region, kind: 'instance', time: 1_700_000_000_000 + index, jobId, taskName: 'A', index, attempt: 1, state };
}

/** Every event after `after`, with its Seq. */
async function all(s: Store, after = 0): Promise<{ seq: number; e: EventDraft }[]> {
  const out: { seq: number; e: EventDraft }[] = [];
  for (const r of await s.eventsAfter(after, 1000)) {
    r.events.forEach((e, i) => {
      if (r.first + i > after) out.push({ seq: r.first + i, e });
    });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

export function eventsContract(f: StoreFactory): void {
  describe('events', () => {
    it('numbers the events of each batch after all earlier ones, keeping each job\'s in order', async () => {
      const s = await f.create();
      expect(await s.eventBounds()).toEqual({ first: 0, last: 0 });
      await s.applyBatch({ ...empty, events: [ev('job-aaaaaaaa', 0), ev('job-bbbbbbbb', 0), ev('job-aaaaaaaa', 1), ev('job-aaaaaaaa', 0, 'SUCCEED')] });
      await s.applyBatch({ ...empty, events: [ev('job-bbbbbbbb', 0, 'FAILED', 'other', 'ap-shanghai')] });
      const got = await all(s);
      expect(got.map((g) => g.seq)).toEqual([1, 2, 3, 4, 5]);
      const a = got.filter((g) => g.e.jobId === 'job-aaaaaaaa').map((g) => [g.e.index, g.e.state]);
      expect(a).toEqual([[0, 'RUNNING'], [1, 'RUNNING'], [0, 'SUCCEED']]);
      const last = got.at(-1)!.e;
      expect(last).toMatchObject({ account: 'other', region: 'ap-shanghai', jobId: 'job-bbbbbbbb', state: 'FAILED', kind: 'instance', attempt: 1 });
      expect(await s.eventBounds()).toEqual({ first: 1, last: 5 });
      // resumed after every Seq, also one in the middle of a row
      for (let after = 0; after <= 5; after++) expect((await all(s, after)).map((g) => g.seq)).toEqual(got.map((g) => g.seq).filter((q) => q > after));
      await s.close();
    });

    it('numbers nothing of a batch its fence refuses, and no Seq is skipped after it', async () => {
      const s = await f.create();
      const lease = await s.acquireLease('r1', 1_000, 10_000);
      expect(lease).toBeDefined();
      await s.applyBatch({ ...empty, events: [ev('job-aaaaaaaa', 0)] }, lease!.epoch);
      await expect(s.applyBatch({ ...empty, events: [ev('job-aaaaaaaa', 1)] }, lease!.epoch + 1)).rejects.toThrow();
      await s.applyBatch({ ...empty, events: [ev('job-aaaaaaaa', 2)] }, lease!.epoch);
      expect((await all(s)).map((g) => [g.seq, g.e.index])).toEqual([[1, 0], [2, 2]]);
      await s.close();
    });

    it('numbers the events of env changes with them, in order, and none of an env that was not created', async () => {
      const s = await f.create();
      await s.applyBatch({ ...empty, events: [ev('job-aaaaaaaa', 0)] });
      const e = env({ clientToken: 'token-1' });
      const n = node(e.id);
      const notify = [{ TopicName: 't', EventConfigs: [{ EventName: 'COMPUTE_ENV_DELETED', EventVars: [] }] }];
      const created: EventDraft = { account: e.account, region: e.region, kind: 'env', time: 1, envId: e.id, envName: e.name, state: 'CREATED', notify };
      const creating: EventDraft = { account: e.account, region: e.region, kind: 'node', time: 1, envId: e.id, nodeId: n.id, instanceId: n.instanceId, state: 'CREATING' };
      expect(await s.insertEnvWithNodes(e, [n], [], 10, [created, creating])).toEqual({ envId: e.id, created: true });
      // the same client token again: nothing is created, nothing numbered
      expect(await s.insertEnvWithNodes({ ...env(), clientToken: 'token-1' }, [], [], 10, [{ ...created, envId: 'env-zzzzzzzz' }])).toMatchObject({ envId: e.id, created: false });
      const running: EventDraft = { ...creating, state: 'RUNNING', jobs: ['job-aaaaaaaa'] };
      await s.applyEnvBatch({ nodes: [{ ...n, state: 'RUNNING' }], events: [running] });
      // refused by its fence: nothing of it is written
      const lease = await s.acquireLease('r1', 1_000, 10_000);
      await expect(s.applyEnvBatch({ deleteNodes: [n.id], events: [{ ...creating, state: 'DELETED' }] }, lease!.epoch + 1)).rejects.toThrow();
      await s.applyEnvBatch({ deleteNodes: [n.id], deleteEnvs: [e.id], events: [{ ...creating, state: 'DELETED' }, { ...created, state: 'DELETED' }] }, lease!.epoch);
      const got = await all(s);
      expect(got.map((g) => [g.seq, g.e.kind, g.e.state])).toEqual([
        [1, 'instance', 'RUNNING'], [2, 'env', 'CREATED'], [3, 'node', 'CREATING'], [4, 'node', 'RUNNING'], [5, 'node', 'DELETED'], [6, 'env', 'DELETED'],
      ]);
      expect(got[1]!.e).toEqual(created);
      expect(got[3]!.e).toEqual(running);
      expect(got.slice(1).every((g) => g.e.jobId === undefined)).toBe(true);
      await s.close();
    });

    it('keeps durable cursors by name, 0 for one never set', async () => {
      const s = await f.create();
      expect(await s.eventCursor('topic:a')).toBe(0);
      await s.setEventCursor('topic:a', 7);
      await s.setEventCursor('topic:b', 3);
      await s.setEventCursor('topic:a', 9);
      expect([await s.eventCursor('topic:a'), await s.eventCursor('topic:b')]).toEqual([9, 3]);
      if (f.reopen) {
        await s.applyBatch({ ...empty, events: [ev('job-aaaaaaaa', 0)] });
        const again = await f.reopen(s);
        expect(await again.eventCursor('topic:a')).toBe(9);
        expect((await all(again)).map((g) => g.seq)).toEqual([1]);
        await again.applyBatch({ ...empty, events: [ev('job-aaaaaaaa', 1)] });
        expect((await all(again)).map((g) => g.seq)).toEqual([1, 2]);
        await again.close();
      } else {
        await s.close();
      }
    });
  });
}
