// Task templates on SQLite: insert under a per-owner quota, read, list with the Describe filters,
// update, and delete all-or-none. Written by the template service only (never fenced).
import type { TemplateFilter, TemplateRecord } from '../types.ts';
import { marks, type Conn, type Row } from './connection.ts';
import { ownedPage } from './owned-page.ts';
import { toTemplate } from './rows.ts';

export class SqliteTemplates {
  constructor(private readonly c: Conn) {}

  insert(t: TemplateRecord, quota: number): boolean {
    return this.c.write(() => {
      const n = (this.c.sql('SELECT COUNT(*) AS n FROM task_templates WHERE account=? AND region=?').get(t.account, t.region) as { n: number }).n;
      if (n >= quota) return false;
      const seq = (this.c.sql('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM task_templates').get() as { s: number }).s;
      this.c.sql(`INSERT INTO task_templates (id, seq, account, region, name, description, info, create_time, tags)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(t.id, seq, t.account, t.region, t.name, t.description, JSON.stringify(t.info), t.createTime, JSON.stringify(t.tags));
      const tag = this.c.sql('INSERT INTO task_template_tags (template_id, key, value) VALUES (?, ?, ?)');
      for (const g of t.tags) tag.run(t.id, g.Key, g.Value);
      return true;
    });
  }

  get(account: string, region: string, ids: string[]): TemplateRecord[] {
    if (ids.length === 0) return [];
    const rows = this.c.dyn(`SELECT * FROM task_templates WHERE account=? AND region=? AND id IN (${marks(ids.length)}) ORDER BY seq`)
      .all(account, region, ...ids) as Row[];
    return rows.map(toTemplate);
  }

  list(account: string, region: string, q: TemplateFilter): { total: number; templates: TemplateRecord[] } {
    const { total, rows } = this.c.read(() => ownedPage(this.c, {
      table: 'task_templates', tags: 'task_template_tags g WHERE g.template_id=x.id', account, region, ids: q.ids,
      filters: q.filters, columns: { 'task-template-name': 'x.name' }, offset: q.offset, limit: q.limit,
    }));
    return { total, templates: rows.map(toTemplate) };
  }

  update(t: TemplateRecord): void {
    this.c.write(() => {
      this.c.sql('UPDATE task_templates SET name=?, description=?, info=? WHERE id=? AND account=? AND region=?')
        .run(t.name, t.description, JSON.stringify(t.info), t.id, t.account, t.region);
    });
  }

  delete(account: string, region: string, ids: string[]): string[] {
    if (ids.length === 0) return [];
    return this.c.write(() => {
      const have = new Set(this.c.dyn(`SELECT id FROM task_templates WHERE account=? AND region=? AND id IN (${marks(ids.length)})`)
        .pluck().all(account, region, ...ids) as string[]);
      const missing = ids.filter((id) => !have.has(id));
      if (missing.length > 0) return missing;
      for (const id of ids) {
        this.c.sql('DELETE FROM task_template_tags WHERE template_id=?').run(id);
        this.c.sql('DELETE FROM task_templates WHERE id=?').run(id);
      }
      return [];
    });
  }
}
