// The Store contract, part 4: the registry of replicas (Store.registerReplica, listReplicas,
// forgetReplicas): a heartbeat inserts or replaces a replica's row, the list is every row by id, old
// rows are forgotten by their last heartbeat, and what was written survives a reopen.
import { describe, expect, it } from 'vitest';
import type { StoreFactory } from './store-fixtures.ts';

export function replicasContract(f: StoreFactory): void {
  describe('registry of replicas', () => {
    it('is empty at first, then lists every registered replica by id with its URL and last heartbeat', async () => {
      const s = await f.create();
      expect(await s.listReplicas()).toEqual([]);
      await s.registerReplica({ id: 'r2', url: 'http://host-b:8080', lastSeen: 2000 });
      await s.registerReplica({ id: 'r1', url: 'http://host-a:8080', lastSeen: 1000 });
      await s.registerReplica({ id: 'R0', url: 'https://host-c', lastSeen: 1500 });
      // byte order of the ids (uppercase first), the same on every backend
      expect(await s.listReplicas()).toEqual([
        { id: 'R0', url: 'https://host-c', lastSeen: 1500 },
        { id: 'r1', url: 'http://host-a:8080', lastSeen: 1000 },
        { id: 'r2', url: 'http://host-b:8080', lastSeen: 2000 },
      ]);
      await s.close();
    });

    it('replaces the row of a replica that registers again: a heartbeat, or a restart at another URL', async () => {
      const s = await f.create();
      await s.registerReplica({ id: 'r1', url: 'http://host-a:8080', lastSeen: 1000 });
      await s.registerReplica({ id: 'r2', url: 'http://host-b:8080', lastSeen: 1000 });
      await s.registerReplica({ id: 'r1', url: 'http://host-a:8080', lastSeen: 6000 });
      expect(await s.listReplicas()).toEqual([
        { id: 'r1', url: 'http://host-a:8080', lastSeen: 6000 },
        { id: 'r2', url: 'http://host-b:8080', lastSeen: 1000 },
      ]);
      await s.registerReplica({ id: 'r2', url: 'http://host-b:9090', lastSeen: 7000 });
      expect((await s.listReplicas()).find((r) => r.id === 'r2')).toEqual({ id: 'r2', url: 'http://host-b:9090', lastSeen: 7000 });
      expect(await s.listReplicas()).toHaveLength(2);
      await s.close();
    });

    it('forgets the replicas last seen before a time, and only those, saying how many', async () => {
      const s = await f.create();
      await s.registerReplica({ id: 'old', url: 'http://a:1', lastSeen: 1000 });
      await s.registerReplica({ id: 'older', url: 'http://b:1', lastSeen: 500 });
      await s.registerReplica({ id: 'edge', url: 'http://c:1', lastSeen: 5000 });
      await s.registerReplica({ id: 'new', url: 'http://d:1', lastSeen: 9000 });
      expect(await s.forgetReplicas(5000)).toBe(2);
      expect((await s.listReplicas()).map((r) => r.id)).toEqual(['edge', 'new']);
      expect(await s.forgetReplicas(5000)).toBe(0);
      // a forgotten replica that comes back registers anew
      await s.registerReplica({ id: 'old', url: 'http://a:2', lastSeen: 9500 });
      expect((await s.listReplicas()).map((r) => r.id)).toEqual(['edge', 'new', 'old']);
      await s.close();
    });

    it('refuses a row without an id, a URL or an integer time, writing nothing', async () => {
      const s = await f.create();
      await expect(s.registerReplica({ id: '', url: 'http://a:1', lastSeen: 1 })).rejects.toThrow(RangeError);
      await expect(s.registerReplica({ id: 'r1', url: '', lastSeen: 1 })).rejects.toThrow(RangeError);
      await expect(s.registerReplica({ id: 'r1', url: 'http://a:1', lastSeen: 1.5 })).rejects.toThrow(RangeError);
      expect(await s.listReplicas()).toEqual([]);
      await s.close();
    });

    it('keeps the registry across a reopen of the store', async () => {
      if (!f.reopen) return;
      const s = await f.create();
      await s.registerReplica({ id: 'r1', url: 'http://host-a:8080', lastSeen: 1_767_225_600_123 });
      const again = await f.reopen(s);
      expect(await again.listReplicas()).toEqual([{ id: 'r1', url: 'http://host-a:8080', lastSeen: 1_767_225_600_123 }]);
      await again.close();
    });
  });
}
