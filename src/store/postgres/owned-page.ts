// One page of an owner's resources on PostgreSQL (jobs, envs, templates: newest first) with the
// Describe filters: filters on plain columns, and the tag filters (tag-key, tag-value, tag:<key>) as
// EXISTS over the resource's tag table. Values are always bound parameters (each filter's values as one
// text[] parameter, = ANY), never SQL. The total and the page are read in one snapshot by the caller.
import type { Queryable, Row } from './db.ts';

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
}

/** The WHERE clause and its values. */
function where(o: OwnedQuery): { sql: string; args: unknown[] } {
  const args: unknown[] = [o.account, o.region];
  const arg = (v: unknown): string => {
    args.push(v);
    return `$${args.length}`;
  };
  const parts = ['x.account = $1', 'x.region = $2'];
  if (o.ids) parts.push(`x.id = ANY(${arg(o.ids)}::text[])`);
  for (const f of o.filters ?? []) {
    const col = o.columns[f.name];
    if (col) parts.push(`${col} = ANY(${arg(f.values)}::text[])`);
    else if (f.name === 'tag-key') parts.push(`EXISTS (SELECT 1 FROM ${o.tags} AND g.key = ANY(${arg(f.values)}::text[]))`);
    else if (f.name === 'tag-value') parts.push(`EXISTS (SELECT 1 FROM ${o.tags} AND g.value = ANY(${arg(f.values)}::text[]))`);
    else parts.push(`EXISTS (SELECT 1 FROM ${o.tags} AND g.key = ${arg(f.name.slice(4))} AND g.value = ANY(${arg(f.values)}::text[]))`);
  }
  return { sql: parts.join(' AND '), args };
}

/** The matching rows' count (unless `total` is known) and the page; run it inside one snapshot. */
export async function ownedPage(c: Queryable, o: OwnedQuery, known?: number): Promise<{ total: number; rows: Row[] }> {
  const w = where(o);
  const total = known ?? (await c.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${o.table} x WHERE ${w.sql}`, w.args)).rows[0]!.n;
  if (total === 0 || o.limit <= 0) return { total, rows: [] };
  const n = w.args.length;
  const rows = (await c.query(`SELECT x.* FROM ${o.table} x WHERE ${w.sql} ORDER BY x.seq DESC LIMIT $${n + 1} OFFSET $${n + 2}`,
    [...w.args, o.limit, o.offset])).rows;
  return { total, rows };
}
