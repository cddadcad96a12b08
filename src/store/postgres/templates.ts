// Task templates on PostgreSQL: insert under a per-owner quota (the owner's transaction-scoped advisory
// lock serialises concurrent inserts of one owner, so the count it checks still holds at commit), read,
// list with the Describe filters (one snapshot), update, and delete all-or-none. Never fenced.
import type { TemplateFilter, TemplateRecord } from '../types.ts';
import { toTemplate } from '../sqlite/rows.ts';
import type { Db, Queryable } from './db.ts';
import { ownedPage } from './owned-page.ts';

/** The first key of the owner locks (the second is a hash of the owner): one per kind of quota. */
export const TEMPLATE_QUOTA_LOCK = 0x0b7e;
export const ENV_QUOTA_LOCK = 0x0b7f;

/** Take the owner's quota lock of `kind` until the transaction ends. */
export async function lockOwner(c: Queryable, kind: number, account: string, region: string): Promise<void> {
  await c.query({ name: 'ob_lock_owner', text: `SELECT pg_advisory_xact_lock($1, hashtext($2 || E'\\x1f' || $3))`, values: [kind, account, region] });
}

export async function insertTags(c: Queryable, table: string, idColumn: string, id: string, tags: { Key: string; Value: string }[]): Promise<void> {
  if (tags.length === 0) return;
  const byKey = new Map(tags.map((t) => [t.Key, t.Value]));
  await c.query(`INSERT INTO ${table} (${idColumn}, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS u(k, v)`,
    [id, [...byKey.keys()], [...byKey.values()]]);
}

export class PgTemplates {
  constructor(private readonly db: Db) {}

  insert(t: TemplateRecord, quota: number): Promise<boolean> {
    return this.db.write(async (c) => {
      await lockOwner(c, TEMPLATE_QUOTA_LOCK, t.account, t.region);
      const n = (await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM task_templates WHERE account = $1 AND region = $2', [t.account, t.region])).rows[0]!.n;
      if (n >= quota) return false;
      await c.query(`INSERT INTO task_templates (id, account, region, name, description, info, create_time, tags)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [t.id, t.account, t.region, t.name, t.description, JSON.stringify(t.info), t.createTime, JSON.stringify(t.tags)]);
      await insertTags(c, 'task_template_tags', 'template_id', t.id, t.tags);
      return true;
    });
  }

  async get(account: string, region: string, ids: string[]): Promise<TemplateRecord[]> {
    if (ids.length === 0) return [];
    const rows = (await this.db.query('SELECT * FROM task_templates WHERE account = $1 AND region = $2 AND id = ANY($3::text[]) ORDER BY seq',
      [account, region, ids])).rows;
    return rows.map(toTemplate);
  }

  async list(account: string, region: string, q: TemplateFilter): Promise<{ total: number; templates: TemplateRecord[] }> {
    const { total, rows } = await this.db.read((c) => ownedPage(c, {
      table: 'task_templates', tags: 'task_template_tags g WHERE g.template_id = x.id', account, region, ids: q.ids,
      filters: q.filters, columns: { 'task-template-name': 'x.name' }, offset: q.offset, limit: q.limit,
    }));
    return { total, templates: rows.map(toTemplate) };
  }

  async update(t: TemplateRecord): Promise<void> {
    await this.db.query('UPDATE task_templates SET name = $1, description = $2, info = $3 WHERE id = $4 AND account = $5 AND region = $6',
      [t.name, t.description, JSON.stringify(t.info), t.id, t.account, t.region]);
  }

  delete(account: string, region: string, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.write(async (c) => {
      // locked, so that what is checked is what is deleted
      const have = new Set((await c.query<{ id: string }>('SELECT id FROM task_templates WHERE account = $1 AND region = $2 AND id = ANY($3::text[]) FOR UPDATE',
        [account, region, ids])).rows.map((r) => r.id));
      const missing = ids.filter((id) => !have.has(id));
      if (missing.length > 0) return missing;
      await c.query(`WITH g AS (DELETE FROM task_template_tags WHERE template_id = ANY($1::text[]))
        DELETE FROM task_templates WHERE id = ANY($1::text[])`, [ids]);
      return [];
    });
  }
}
