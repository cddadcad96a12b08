// Compute environments, their nodes and activities on SQLite. CreateComputeEnv is one transaction
// (insertEnvWithNodes): client token lookup, quota, env, nodes, activities; the unique index on
// (account, region, client_token) backs the lookup up. applyEnvBatch is fenced when given an epoch.
import type { EventDraft } from '../../domain/events.ts';
import type { ActivityRecord, EnvBatch, EnvFilter, EnvRecord, NodeRecord } from '../types.ts';
import { marks, type Conn, type Row } from './connection.ts';
import type { SqliteEvents } from './events.ts';
import type { SqliteLeadership } from './lease.ts';
import { ownedPage } from './owned-page.ts';
import { toActivity, toEnv, toNode } from './rows.ts';

export class SqliteEnvs {
  constructor(private readonly c: Conn, private readonly lease: SqliteLeadership, private readonly events: SqliteEvents) {}

  insertWithNodes(e: EnvRecord, nodes: NodeRecord[], activities: ActivityRecord[], quota: number, events: readonly EventDraft[]): { envId: string; created: boolean } | 'quota' {
    const stray = [...nodes, ...activities].find((x) => x.envId !== e.id);
    if (stray) throw new RangeError(`insertEnvWithNodes: ${stray.id} belongs to ${stray.envId}, not to ${e.id}`);
    return this.c.write(() => {
      if (e.clientToken) {
        const existing = this.byTokenRow(e.account, e.region, e.clientToken);
        if (existing) return { envId: existing.id as string, created: false };
      }
      const n = this.c.sql('SELECT COUNT(*) AS n FROM compute_envs WHERE account=? AND region=?').get(e.account, e.region) as { n: number };
      if (n.n >= quota) return 'quota';
      const seq = (this.c.sql('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM compute_envs').get() as { s: number }).s;
      this.c.sql(`INSERT INTO compute_envs (id, seq, account, region, name, description, zone, info, desired, next_action, create_time, tags, client_token)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(e.id, seq, e.account, e.region, e.name, e.description, e.zone,
        JSON.stringify(e.info), e.desired, e.nextAction, e.createTime, JSON.stringify(e.tags), e.clientToken ?? '');
      const tag = this.c.sql('INSERT INTO compute_env_tags (env_id, key, value) VALUES (?, ?, ?)');
      for (const g of e.tags) tag.run(e.id, g.Key, g.Value);
      this.writeNodes(nodes);
      this.writeActivities(activities);
      this.events.write(events);
      return { envId: e.id, created: true };
    });
  }

  byToken(account: string, region: string, token: string): EnvRecord | undefined {
    if (token === '') return undefined;
    const r = this.byTokenRow(account, region, token);
    return r ? toEnv(r) : undefined;
  }

  get(account: string, region: string, envId: string): EnvRecord | undefined {
    const r = this.c.sql('SELECT * FROM compute_envs WHERE id=? AND account=? AND region=?').get(envId, account, region) as Row | undefined;
    return r ? toEnv(r) : undefined;
  }

  getById(envId: string): EnvRecord | undefined {
    const r = this.c.sql('SELECT * FROM compute_envs WHERE id=?').get(envId) as Row | undefined;
    return r ? toEnv(r) : undefined;
  }

  list(account: string, region: string, q: EnvFilter): { total: number; envs: EnvRecord[] } {
    const { total, rows } = this.c.read(() => ownedPage(this.c, {
      table: 'compute_envs', tags: 'compute_env_tags g WHERE g.env_id=x.id', account, region, ids: q.ids, filters: q.filters,
      columns: { zone: 'x.zone', 'env-id': 'x.id', 'env-name': 'x.name', 'resource-type': "'CVM'" }, offset: q.offset, limit: q.limit,
    }));
    return { total, envs: rows.map(toEnv) };
  }

  all(): EnvRecord[] {
    return (this.c.sql('SELECT * FROM compute_envs ORDER BY seq').all() as Row[]).map(toEnv);
  }

  nodesOf(envId: string): NodeRecord[] {
    return (this.c.sql('SELECT * FROM compute_nodes WHERE env_id=? ORDER BY seq').all(envId) as Row[]).map(toNode);
  }

  nodeByInstanceId(instanceId: string): NodeRecord | undefined {
    const r = this.c.sql('SELECT * FROM compute_nodes WHERE instance_id=?').get(instanceId) as Row | undefined;
    return r ? toNode(r) : undefined;
  }

  activitiesOf(envId: string, nodeIds: string[] | undefined, offset: number, limit: number): { total: number; activities: ActivityRecord[] } {
    const where = nodeIds ? `env_id=? AND node_id IN (${marks(nodeIds.length)})` : 'env_id=?';
    const args = [envId, ...(nodeIds ?? [])];
    return this.c.read(() => {
      const total = (this.c.dyn(`SELECT COUNT(*) AS n FROM env_activities WHERE ${where}`).get(...args) as { n: number }).n;
      const rows = this.c.dyn(`SELECT * FROM env_activities WHERE ${where} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...args, limit, offset) as Row[];
      return { total, activities: rows.map(toActivity) };
    });
  }

  apply(b: EnvBatch, epoch: number | undefined): void {
    this.c.write(() => {
      this.lease.fence(epoch, 'applyEnvBatch');
      for (const e of b.envs ?? []) {
        this.c.sql('UPDATE compute_envs SET name=?, description=?, info=?, desired=?, next_action=? WHERE id=?')
          .run(e.name, e.description, JSON.stringify(e.info), e.desired, e.nextAction, e.id);
      }
      this.writeNodes(b.nodes ?? []);
      for (const id of b.deleteNodes ?? []) this.c.sql('DELETE FROM compute_nodes WHERE id=?').run(id);
      this.writeActivities(b.activities ?? []);
      for (const id of b.deleteEnvs ?? []) {
        this.c.sql('DELETE FROM compute_env_tags WHERE env_id=?').run(id);
        this.c.sql('DELETE FROM compute_envs WHERE id=?').run(id);
        this.c.sql('DELETE FROM compute_nodes WHERE env_id=?').run(id);
      }
      this.events.write(b.events ?? []);
    });
  }

  private byTokenRow(account: string, region: string, token: string): Row | undefined {
    return this.c.sql('SELECT * FROM compute_envs WHERE account=? AND region=? AND client_token=?').get(account, region, token) as Row | undefined;
  }

  /** Insert nodes (in order, after every node already there) or change the state of existing ones. */
  private writeNodes(nodes: NodeRecord[]): void {
    if (nodes.length === 0) return;
    let seq = (this.c.sql('SELECT COALESCE(MAX(seq), 0) AS s FROM compute_nodes').get() as { s: number }).s;
    const up = this.c.sql(`INSERT INTO compute_nodes (id, env_id, instance_id, instance_type, state, cpu, mem, origin, created_time, seq)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state=excluded.state`);
    for (const n of nodes) up.run(n.id, n.envId, n.instanceId, n.instanceType, n.state, n.cpu, n.mem, n.origin, n.createdTime, ++seq);
  }

  private writeActivities(activities: ActivityRecord[]): void {
    if (activities.length === 0) return;
    let seq = (this.c.sql('SELECT COALESCE(MAX(seq), 0) AS s FROM env_activities').get() as { s: number }).s;
    const up = this.c.sql(`INSERT INTO env_activities (id, seq, env_id, node_id, type, cause, state, reason, start_time, end_time, instance_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state=excluded.state, reason=excluded.reason,
      end_time=excluded.end_time`);
    for (const a of activities) up.run(a.id, ++seq, a.envId, a.nodeId, a.type, a.cause, a.state, a.reason, a.startTime, a.endTime, a.instanceId);
  }
}
