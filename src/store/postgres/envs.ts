// Compute environments, their nodes and activities on PostgreSQL. CreateComputeEnv is one transaction
// (insertEnvWithNodes) under the owner's quota lock: client token lookup, quota, env, nodes,
// activities; the unique index on (account, region, client_token) backs the token up (a create that
// loses a race to it answers the winner's id). applyEnvBatch writes each table's rows in one statement,
// fenced when given an epoch. Node and activity seqs come from their sequences, in the order given.
import type { EventDraft } from '../../domain/events.ts';
import type { ActivityRecord, EnvBatch, EnvFilter, EnvRecord, NodeRecord } from '../types.ts';
import { toActivity, toEnv, toNode } from '../sqlite/rows.ts';
import type { Db, Queryable } from './db.ts';
import type { PgEvents } from './events.ts';
import { fence } from './lease.ts';
import { ownedPage } from './owned-page.ts';
import { ENV_QUOTA_LOCK, insertTags, lockOwner } from './templates.ts';

const UNIQUE_VIOLATION = '23505';

/** The last record of each id (a batch naming one twice keeps its last). */
function lastById<T extends { id: string }>(xs: T[]): T[] {
  return [...new Map(xs.map((x) => [x.id, x])).values()];
}

export class PgEnvs {
  constructor(private readonly db: Db, private readonly events: PgEvents) {}

  async insertWithNodes(e: EnvRecord, nodes: NodeRecord[], activities: ActivityRecord[], quota: number, events: readonly EventDraft[]): Promise<{ envId: string; created: boolean } | 'quota'> {
    const stray = [...nodes, ...activities].find((x) => x.envId !== e.id);
    if (stray) throw new RangeError(`insertEnvWithNodes: ${stray.id} belongs to ${stray.envId}, not to ${e.id}`);
    try {
      return await this.db.write(async (c) => {
        await lockOwner(c, ENV_QUOTA_LOCK, e.account, e.region);
        if (e.clientToken) {
          const existing = await this.byTokenRow(c, e.account, e.region, e.clientToken);
          if (existing) return { envId: existing.id as string, created: false };
        }
        const n = (await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM compute_envs WHERE account = $1 AND region = $2', [e.account, e.region])).rows[0]!.n;
        if (n >= quota) return 'quota';
        await c.query(`INSERT INTO compute_envs (id, account, region, name, description, zone, info, desired, next_action, create_time, tags, client_token)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [e.id, e.account, e.region, e.name, e.description, e.zone,
          JSON.stringify(e.info), e.desired, e.nextAction, e.createTime, JSON.stringify(e.tags), e.clientToken ?? '']);
        await insertTags(c, 'compute_env_tags', 'env_id', e.id, e.tags);
        await writeNodes(c, nodes);
        await writeActivities(c, activities);
        await this.events.write(c, events);
        return { envId: e.id, created: true };
      });
    } catch (err) {
      // another transaction committed the same token first (the index says so): answer its env
      if ((err as { code?: string }).code === UNIQUE_VIOLATION && e.clientToken && (err as { constraint?: string }).constraint === 'compute_envs_client_token') {
        const existing = await this.byTokenRow(this.db, e.account, e.region, e.clientToken);
        if (existing) return { envId: existing.id as string, created: false };
      }
      throw err;
    }
  }

  async byToken(account: string, region: string, token: string): Promise<EnvRecord | undefined> {
    if (token === '') return undefined;
    const r = await this.byTokenRow(this.db, account, region, token);
    return r ? toEnv(r) : undefined;
  }

  async get(account: string, region: string, envId: string): Promise<EnvRecord | undefined> {
    const r = (await this.db.query('SELECT * FROM compute_envs WHERE id = $1 AND account = $2 AND region = $3', [envId, account, region])).rows[0];
    return r ? toEnv(r) : undefined;
  }

  async getById(envId: string): Promise<EnvRecord | undefined> {
    const r = (await this.db.query('SELECT * FROM compute_envs WHERE id = $1', [envId])).rows[0];
    return r ? toEnv(r) : undefined;
  }

  async list(account: string, region: string, q: EnvFilter): Promise<{ total: number; envs: EnvRecord[] }> {
    const { total, rows } = await this.db.read((c) => ownedPage(c, {
      table: 'compute_envs', tags: 'compute_env_tags g WHERE g.env_id = x.id', account, region, ids: q.ids, filters: q.filters,
      columns: { zone: 'x.zone', 'env-id': 'x.id', 'env-name': 'x.name', 'resource-type': "'CVM'" }, offset: q.offset, limit: q.limit,
    }));
    return { total, envs: rows.map(toEnv) };
  }

  async all(): Promise<EnvRecord[]> {
    return (await this.db.query('SELECT * FROM compute_envs ORDER BY seq')).rows.map(toEnv);
  }

  async nodesOf(envId: string): Promise<NodeRecord[]> {
    return (await this.db.query('SELECT * FROM compute_nodes WHERE env_id = $1 ORDER BY seq', [envId])).rows.map(toNode);
  }

  async nodeByInstanceId(instanceId: string): Promise<NodeRecord | undefined> {
    const r = (await this.db.query('SELECT * FROM compute_nodes WHERE instance_id = $1', [instanceId])).rows[0];
    return r ? toNode(r) : undefined;
  }

  async activitiesOf(envId: string, nodeIds: string[] | undefined, offset: number, limit: number): Promise<{ total: number; activities: ActivityRecord[] }> {
    const where = nodeIds ? 'env_id = $1 AND node_id = ANY($2::text[])' : 'env_id = $1';
    const args: unknown[] = nodeIds ? [envId, nodeIds] : [envId];
    return this.db.read(async (c) => {
      const total = (await c.query<{ n: number }>(`SELECT COUNT(*) AS n FROM env_activities WHERE ${where}`, args)).rows[0]!.n;
      const n = args.length;
      const rows = total === 0 ? [] : (await c.query(`SELECT * FROM env_activities WHERE ${where} ORDER BY seq DESC LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...args, limit, offset])).rows;
      return { total, activities: rows.map(toActivity) };
    });
  }

  apply(b: EnvBatch, epoch: number | undefined): Promise<void> {
    return this.db.write(async (c) => {
      await fence(c, epoch, 'applyEnvBatch');
      const envs = lastById(b.envs ?? []);
      if (envs.length > 0) {
        await c.query(`UPDATE compute_envs e SET name = u.name, description = u.description, info = u.info, desired = u.desired,
          next_action = u.next_action FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[])
          AS u(id, name, description, info, desired, next_action) WHERE e.id = u.id`,
        [envs.map((e) => e.id), envs.map((e) => e.name), envs.map((e) => e.description), envs.map((e) => JSON.stringify(e.info)),
          envs.map((e) => e.desired), envs.map((e) => e.nextAction)]);
      }
      await writeNodes(c, b.nodes ?? []);
      if (b.deleteNodes?.length) await c.query('DELETE FROM compute_nodes WHERE id = ANY($1::text[])', [b.deleteNodes]);
      await writeActivities(c, b.activities ?? []);
      if (b.deleteEnvs?.length) {
        await c.query(`WITH g AS (DELETE FROM compute_env_tags WHERE env_id = ANY($1::text[])),
          n AS (DELETE FROM compute_nodes WHERE env_id = ANY($1::text[]))
          DELETE FROM compute_envs WHERE id = ANY($1::text[])`, [b.deleteEnvs]);
      }
      await this.events.write(c, b.events ?? []);
    });
  }

  private async byTokenRow(c: Queryable, account: string, region: string, token: string): Promise<Record<string, unknown> | undefined> {
    return (await c.query('SELECT * FROM compute_envs WHERE account = $1 AND region = $2 AND client_token = $3', [account, region, token])).rows[0];
  }
}

/** Insert nodes (in order, after every node already there: seqs from the sequence) or change the state of existing ones. */
async function writeNodes(c: Queryable, nodes: NodeRecord[]): Promise<void> {
  const ns = lastById(nodes);
  if (ns.length === 0) return;
  await c.query(`INSERT INTO compute_nodes (id, env_id, instance_id, instance_type, state, cpu, mem, origin, created_time)
    SELECT id, env_id, instance_id, instance_type, state, cpu, mem, origin, created_time
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[], $9::int8[])
      WITH ORDINALITY AS u(id, env_id, instance_id, instance_type, state, cpu, mem, origin, created_time, ord)
    ORDER BY ord
    ON CONFLICT (id) DO UPDATE SET state = excluded.state`,
  [ns.map((n) => n.id), ns.map((n) => n.envId), ns.map((n) => n.instanceId), ns.map((n) => n.instanceType), ns.map((n) => n.state),
    ns.map((n) => n.cpu), ns.map((n) => n.mem), ns.map((n) => n.origin), ns.map((n) => n.createdTime)]);
}

async function writeActivities(c: Queryable, activities: ActivityRecord[]): Promise<void> {
  const as = lastById(activities);
  if (as.length === 0) return;
  await c.query(`INSERT INTO env_activities (id, env_id, node_id, type, cause, state, reason, start_time, end_time, instance_id)
    SELECT id, env_id, node_id, type, cause, state, reason, start_time, end_time, instance_id
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::text[])
      WITH ORDINALITY AS u(id, env_id, node_id, type, cause, state, reason, start_time, end_time, instance_id, ord)
    ORDER BY ord
    ON CONFLICT (id) DO UPDATE SET state = excluded.state, reason = excluded.reason, end_time = excluded.end_time`,
  [as.map((a) => a.id), as.map((a) => a.envId), as.map((a) => a.nodeId), as.map((a) => a.type), as.map((a) => a.cause), as.map((a) => a.state),
    as.map((a) => a.reason), as.map((a) => a.startTime), as.map((a) => a.endTime), as.map((a) => a.instanceId)]);
}
