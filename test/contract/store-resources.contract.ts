// The Store contract, part 2: compute environments (CreateComputeEnv in one call, ClientToken, quota),
// nodes, activities, task templates and monitoring samples.
import { describe, expect, it } from 'vitest';
import type { EnvRecord } from '../../src/store/types.ts';
import { activity, env, job, node, sample, task, template, type StoreFactory } from './store-fixtures.ts';

export function resourcesContract(f: StoreFactory): void {
  describe('compute environments, nodes and activities', () => {
    it('creates an env with its nodes and activities in one call and reads them back for its owner only', async () => {
      const s = await f.create();
      const e = env({ desired: 2, tags: [{ Key: 'team', Value: 'a' }] });
      const [n1, n2] = [node(e.id), node(e.id)];
      const [a1, a2] = [activity(n1), activity(n2)];
      expect(await s.insertEnvWithNodes(e, [n1, n2], [a1, a2], 10)).toEqual({ envId: e.id, created: true });
      expect(await s.getEnv('acc-a', 'ap-guangzhou', e.id)).toEqual(e);
      expect(await s.getEnv('acc-b', 'ap-guangzhou', e.id)).toBeUndefined();
      expect(await s.getEnv('acc-a', 'ap-shanghai', e.id)).toBeUndefined();
      expect(await s.getEnvById(e.id)).toEqual(e);
      expect(await s.nodesOf(e.id)).toEqual([n1, n2]);
      expect(await s.nodeByInstanceId(n2.instanceId)).toEqual(n2);
      expect(await s.nodeByInstanceId('ins-none')).toBeUndefined();
      // activities: newest first, by node, paged, with the full total
      expect(await s.activitiesOf(e.id, undefined, 0, 10)).toEqual({ total: 2, activities: [a2, a1] });
      expect(await s.activitiesOf(e.id, [n1.id], 0, 10)).toEqual({ total: 1, activities: [a1] });
      expect(await s.activitiesOf(e.id, undefined, 1, 1)).toEqual({ total: 2, activities: [a1] });
      expect(await s.activitiesOf('env-none', undefined, 0, 10)).toEqual({ total: 0, activities: [] });
      await s.close();
    });

    it('writes nothing when a node or an activity belongs to another env', async () => {
      const s = await f.create();
      const e = env();
      const stray = node('env-other');
      await expect(s.insertEnvWithNodes(e, [stray], [], 10)).rejects.toThrow(/env-other/);
      const n = node(e.id);
      await expect(s.insertEnvWithNodes(e, [n], [activity(stray)], 10)).rejects.toThrow(/env-other/);
      expect(await s.getEnvById(e.id)).toBeUndefined();
      expect(await s.nodeByInstanceId(n.instanceId)).toBeUndefined();
      await s.close();
    });

    it('makes CreateComputeEnv idempotent per account and region with a ClientToken', async () => {
      const s = await f.create();
      const first = env({ clientToken: 'tok' });
      expect(await s.insertEnvWithNodes(first, [node(first.id)], [], 10)).toEqual({ envId: first.id, created: true });
      const retry = env({ clientToken: 'tok' });
      const retryNode = node(retry.id);
      expect(await s.insertEnvWithNodes(retry, [retryNode], [activity(retryNode)], 10)).toEqual({ envId: first.id, created: false });
      expect(await s.getEnvById(retry.id)).toBeUndefined();
      expect(await s.nodesOf(retry.id)).toEqual([]);
      expect(await s.nodeByInstanceId(retryNode.instanceId)).toBeUndefined();
      expect(await s.getEnvByClientToken('acc-a', 'ap-guangzhou', 'tok')).toEqual(first);
      expect(await s.getEnvByClientToken('acc-a', 'ap-guangzhou', 'other')).toBeUndefined();
      expect(await s.getEnvByClientToken('acc-b', 'ap-guangzhou', 'tok')).toBeUndefined();
      // the same token elsewhere is another env; envs without a token never collide
      for (const other of [env({ clientToken: 'tok', account: 'acc-b' }), env({ clientToken: 'tok', region: 'ap-shanghai' }), env(), env()]) {
        expect(await s.insertEnvWithNodes(other, [], [], 10)).toEqual({ envId: other.id, created: true });
      }
      expect(await s.getEnvByClientToken('acc-b', 'ap-guangzhou', 'tok')).toMatchObject({ account: 'acc-b', clientToken: 'tok' });
      expect(await s.getEnvByClientToken('acc-a', 'ap-guangzhou', '')).toBeUndefined();
      await s.close();
    });

    it('refuses an env beyond the quota and writes nothing of it, but answers a retry of an existing one', async () => {
      const s = await f.create();
      const [a, b] = [env({ clientToken: 'q1' }), env()];
      for (const e of [a, b]) expect((await s.insertEnvWithNodes(e, [], [], 2)) !== 'quota').toBe(true);
      const c = env();
      const cn = node(c.id);
      expect(await s.insertEnvWithNodes(c, [cn], [activity(cn)], 2)).toBe('quota');
      expect(await s.getEnvById(c.id)).toBeUndefined();
      expect(await s.nodeByInstanceId(cn.instanceId)).toBeUndefined();
      expect(await s.activitiesOf(c.id, undefined, 0, 10)).toEqual({ total: 0, activities: [] });
      expect(await s.insertEnvWithNodes(env({ clientToken: 'q1' }), [], [], 2)).toEqual({ envId: a.id, created: false });
      // other owners have their own quota
      const d = env({ account: 'acc-b' });
      expect(await s.insertEnvWithNodes(d, [], [], 2)).toEqual({ envId: d.id, created: true });
      await s.close();
    });

    it('lists envs newest first with filters, paging and the full TotalCount', async () => {
      const s = await f.create();
      const envs = [
        env({ name: 'x', zone: 'ap-guangzhou-3', tags: [{ Key: 'team', Value: 'a' }] }),
        env({ name: 'y', tags: [{ Key: 'team', Value: 'b' }, { Key: 'tier', Value: 'prod' }] }),
        env({ name: 'x' }),
        env({ name: 'z', account: 'acc-b' }),
      ];
      for (const e of envs) await s.insertEnvWithNodes(e, [], [], 10);
      const ids = async (filters: { name: string; values: string[] }[], offset = 0, limit = 20) => {
        const r = await s.listEnvs('acc-a', 'ap-guangzhou', { filters, offset, limit });
        return [r.total, r.envs.map((e) => e.id)];
      };
      const [e0, e1, e2, e3] = envs.map((e) => e.id);
      expect(await ids([])).toEqual([3, [e2, e1, e0]]);
      expect(await ids([], 1, 1)).toEqual([3, [e1]]);
      expect(await ids([], 3, 5)).toEqual([3, []]);
      expect(await ids([{ name: 'env-name', values: ['x'] }])).toEqual([2, [e2, e0]]);
      expect(await ids([{ name: 'zone', values: ['ap-guangzhou-3'] }])).toEqual([1, [e0]]);
      expect(await ids([{ name: 'env-id', values: [e1!, e3!] }])).toEqual([1, [e1]]);
      expect(await ids([{ name: 'tag-key', values: ['tier'] }])).toEqual([1, [e1]]);
      expect(await ids([{ name: 'tag-value', values: ['a', 'b'] }])).toEqual([2, [e1, e0]]);
      expect(await ids([{ name: 'tag:team', values: ['b'] }])).toEqual([1, [e1]]);
      expect(await ids([{ name: 'resource-type', values: ['CVM'] }])).toEqual([3, [e2, e1, e0]]);
      expect(await ids([{ name: 'resource-type', values: ['CPM'] }])).toEqual([0, []]);
      expect(await ids([{ name: 'env-name', values: ['x'] }, { name: 'zone', values: ['ap-guangzhou-2'] }])).toEqual([1, [e2]]);
      expect(await ids([{ name: 'env-name', values: ["x' OR '1'='1"] }])).toEqual([0, []]);
      const byIds = await s.listEnvs('acc-a', 'ap-guangzhou', { ids: [e0!, e3!], offset: 0, limit: 20 });
      expect(byIds.envs.map((e) => e.id)).toEqual([e0]);
      expect((await s.allEnvs()).map((e) => e.id)).toEqual([e0, e1, e2, e3]);
      await s.close();
    });

    it('applies env batches: env changes, node upserts and deletes, activity updates, env deletes', async () => {
      const s = await f.create();
      const e = env({ desired: 1 });
      const n1 = node(e.id);
      const a1 = activity(n1);
      await s.insertEnvWithNodes(e, [n1], [a1], 10);
      const changed: EnvRecord = { ...e, name: 'renamed', description: 'd', desired: 2, nextAction: 'DELETING', info: { ...e.info, Placement: { Zone: 'ap-guangzhou-2', ProjectId: 7 } } };
      const n2 = node(e.id, { origin: 'USER_ATTACHED' });
      const a2 = activity(n2);
      await s.applyEnvBatch({ envs: [changed], nodes: [{ ...n1, state: 'RUNNING' }, n2], activities: [{ ...a1, state: 'SUCCEED', endTime: 9000 }, a2] });
      expect(await s.getEnvById(e.id)).toEqual(changed);
      // a node added later comes after the first; an upsert keeps its place
      expect(await s.nodesOf(e.id)).toEqual([{ ...n1, state: 'RUNNING' }, n2]);
      expect(await s.activitiesOf(e.id, undefined, 0, 10)).toEqual({ total: 2, activities: [a2, { ...a1, state: 'SUCCEED', endTime: 9000 }] });
      await s.applyEnvBatch({ deleteNodes: [n1.id] });
      expect(await s.nodesOf(e.id)).toEqual([n2]);
      expect(await s.nodeByInstanceId(n1.instanceId)).toBeUndefined();
      await s.applyEnvBatch({ deleteEnvs: [e.id] });
      expect(await s.getEnvById(e.id)).toBeUndefined();
      expect(await s.nodesOf(e.id)).toEqual([]);
      expect(await s.nodeByInstanceId(n2.instanceId)).toBeUndefined();
      expect(await s.allEnvs()).toEqual([]);
      await s.close();
    });
  });

  describe('task templates', () => {
    it('inserts under a quota, reads, lists with filters, updates and deletes all or none', async () => {
      const s = await f.create();
      const [a, b] = [template({ name: 'x', tags: [{ Key: 'team', Value: 'a' }] }), template({ name: 'y' })];
      expect(await s.insertTemplate(a, 2)).toBe(true);
      expect(await s.insertTemplate(b, 2)).toBe(true);
      const c = template();
      expect(await s.insertTemplate(c, 2)).toBe(false);
      expect(await s.getTemplates('acc-a', 'ap-guangzhou', [c.id])).toEqual([]);
      const other = template({ account: 'acc-b', name: 'x' });
      expect(await s.insertTemplate(other, 2)).toBe(true);
      // reads: the owner's, existing ids only, oldest first
      expect(await s.getTemplates('acc-a', 'ap-guangzhou', [b.id, a.id, other.id, 'tpl-none'])).toEqual([a, b]);
      expect(await s.getTemplates('acc-a', 'ap-guangzhou', [])).toEqual([]);
      const list = async (q: { ids?: string[]; filters?: { name: string; values: string[] }[] }, offset = 0, limit = 10) => {
        const r = await s.listTemplates('acc-a', 'ap-guangzhou', { ...q, offset, limit });
        return [r.total, r.templates.map((t) => t.id)];
      };
      expect(await list({})).toEqual([2, [b.id, a.id]]);
      expect(await list({}, 1, 1)).toEqual([2, [a.id]]);
      expect(await list({ filters: [{ name: 'task-template-name', values: ['x'] }] })).toEqual([1, [a.id]]);
      expect(await list({ filters: [{ name: 'tag:team', values: ['a'] }] })).toEqual([1, [a.id]]);
      expect(await list({ filters: [{ name: 'tag-value', values: ['b'] }] })).toEqual([0, []]);
      expect(await list({ ids: [b.id, other.id] })).toEqual([1, [b.id]]);
      // update: name, description and info; tags stay; another owner's id changes nothing
      const updated = { ...a, name: 'x2', description: 'new', info: { TaskName: 'B' }, tags: [] };
      await s.updateTemplate(updated);
      expect(await s.getTemplates('acc-a', 'ap-guangzhou', [a.id])).toEqual([{ ...updated, tags: a.tags }]);
      await s.updateTemplate({ ...other, account: 'acc-a', name: 'hijacked' });
      expect((await s.listTemplates('acc-b', 'ap-guangzhou', { offset: 0, limit: 10 })).templates[0]?.name).toBe('x');
      // delete: all or none
      expect(await s.deleteTemplates('acc-a', 'ap-guangzhou', [a.id, 'tpl-none', other.id])).toEqual(['tpl-none', other.id]);
      expect(await s.getTemplates('acc-a', 'ap-guangzhou', [a.id, b.id])).toHaveLength(2);
      expect(await s.deleteTemplates('acc-a', 'ap-guangzhou', [a.id, b.id])).toEqual([]);
      expect(await list({})).toEqual([0, []]);
      // the quota counts what is left
      expect(await s.insertTemplate(c, 2)).toBe(true);
      await s.close();
    });
  });

  describe('monitoring samples', () => {
    it('answers the samples of one instance within [from, to], ordered by time then attempt', async () => {
      const s = await f.create();
      const j = job();
      await s.insertJob(j, [task(j.id)]);
      await s.insertSamples([]);
      const mine = [sample(j.id, 30), sample(j.id, 10), sample(j.id, 20, { attempt: 2 }), sample(j.id, 20), sample(j.id, 40)];
      await s.insertSamples([...mine, sample(j.id, 20, { index: 1 }), sample(j.id, 20, { taskName: 'B' })]);
      expect(await s.samplesOf(j.id, 'A', 0, 10, 30)).toEqual([mine[1], mine[3], mine[2], mine[0]]);
      expect(await s.samplesOf(j.id, 'A', 0, 11, 39)).toEqual([mine[3], mine[2], mine[0]]);
      expect(await s.samplesOf(j.id, 'A', 1, 0, 100)).toHaveLength(1);
      expect(await s.samplesOf(j.id, 'A', 0, 50, 100)).toEqual([]);
      // a sample written again (same instance, attempt and time) replaces the first
      await s.insertSamples([sample(j.id, 40, { cpu: 99 })]);
      expect((await s.samplesOf(j.id, 'A', 0, 40, 40)).map((x) => x.cpu)).toEqual([99]);
      // deleted with their job
      await s.deleteJob(j.id);
      expect(await s.samplesOf(j.id, 'A', 0, 0, 100)).toEqual([]);
      await s.close();
    });
  });
}
