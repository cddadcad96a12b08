// One page of an owner's resources (jobs, envs, templates: newest first) with the Describe filters of
// §g: filters on plain columns and the tag filters (tag-key, tag-value, tag:<key>) as EXISTS over the
// resource's tag table. Values are always bound parameters, never SQL.
import { marks, type Conn, type Row } from './connection.ts';

export interface OwnedQuery {
  table: string;
  /** The tag table joined to alias x, e.g. "job_tags g WHERE g.job_id=x.id". */
  tags: string;
  account: string;
  region: string;
  ids: string[] | undefined;
  filters: { name: string; values: string[] }[] | undefined;
  /** Filter name → SQL expression over alias x; names not listed are tag filters. */
  columns: Record<string, string>;
  offset: number;
  limit: number;
  /** The match count when the caller knows it without a COUNT over the rows. */
  total?: number;
}

export function ownedPage(c: Conn, o: OwnedQuery): { total: number; rows: Row[] } {
  const where = ['x.account = ?', 'x.region = ?'];
  const args: unknown[] = [o.account, o.region];
  if (o.ids) {
    where.push(`x.id IN (${marks(o.ids.length)})`);
    args.push(...o.ids);
  }
  for (const f of o.filters ?? []) {
    const col = o.columns[f.name];
    if (col) {
      where.push(`${col} IN (${marks(f.values.length)})`);
      args.push(...f.values);
    } else {
      tagFilter(o.tags, f, where, args);
    }
  }
  const w = where.join(' AND ');
  const total = o.total ?? (c.dyn(`SELECT COUNT(*) AS n FROM ${o.table} x WHERE ${w}`).get(...args) as { n: number }).n;
  const rows = (o.total === 0 ? [] : c.dyn(`SELECT x.* FROM ${o.table} x WHERE ${w} ORDER BY x.seq DESC LIMIT ? OFFSET ?`)
    .all(...args, o.limit, o.offset)) as Row[];
  return { total, rows };
}

function tagFilter(from: string, f: { name: string; values: string[] }, where: string[], args: unknown[]): void {
  const ph = marks(f.values.length);
  if (f.name === 'tag-key') {
    where.push(`EXISTS (SELECT 1 FROM ${from} AND g.key IN (${ph}))`);
    args.push(...f.values);
  } else if (f.name === 'tag-value') {
    where.push(`EXISTS (SELECT 1 FROM ${from} AND g.value IN (${ph}))`);
    args.push(...f.values);
  } else {
    // tag:<key>
    where.push(`EXISTS (SELECT 1 FROM ${from} AND g.key = ? AND g.value IN (${ph}))`);
    args.push(f.name.slice(4), ...f.values);
  }
}
