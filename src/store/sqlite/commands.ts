// The command queue on SQLite: services insert, the leader reads what is pending and deletes what it
// carried out (fenced by its epoch). The wake-up is in-process: inserts made close together make one
// call of each listener (setImmediate), after their transactions committed. A backend shared by
// several processes maps onCommand to LISTEN/NOTIFY instead (see Store.onCommand).
import { COMMAND_KINDS, REFUSALS_KEPT_MS, type CommandRecord, type CommandResult, type NewCommand, type RefusedCommand } from '../coordination.ts';
import type { Conn, Row } from './connection.ts';
import type { SqliteLeadership } from './lease.ts';

export class SqliteCommands {
  private readonly listeners = new Set<() => void>();
  private wakeUp: NodeJS.Immediate | undefined;

  constructor(private readonly c: Conn, private readonly lease: SqliteLeadership) {}

  /** Insert inside the caller's write transaction; the caller calls wake() once it committed. */
  insertIn(cmd: NewCommand): CommandRecord {
    const { kind, createdAt, ...fields } = cmd;
    if (!COMMAND_KINDS.includes(kind)) throw new TypeError(`unknown command kind ${JSON.stringify(kind)}`);
    const id = this.c.sql('INSERT INTO commands (kind, payload, created_at) VALUES (?, ?, ?) RETURNING id')
      .pluck().get(kind, JSON.stringify(fields), createdAt) as number;
    return { ...cmd, id };
  }

  insert(cmd: NewCommand): CommandRecord {
    const rec = this.c.write(() => this.insertIn(cmd));
    this.wake();
    return rec;
  }

  pending(afterId: number, limit: number): CommandRecord[] {
    if (limit <= 0) return [];
    const rows = this.c.sql('SELECT id, kind, payload, created_at FROM commands WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as Row[];
    return rows.map(toCommand);
  }

  complete(ids: number[], epoch: number): void {
    this.c.write(() => {
      this.lease.fence(epoch, 'completeCommands');
      if (ids.length > 0) this.c.sql('DELETE FROM commands WHERE id IN (SELECT value FROM json_each(?))').run(JSON.stringify(ids));
    });
  }

  /** Inside the caller's write transaction: keep the reasons of refused commands (dropping old ones). */
  refuseIn(refused: RefusedCommand[]): void {
    if (refused.length === 0) return;
    const keep = this.c.sql('INSERT OR REPLACE INTO command_refusals (id, reason, at) VALUES (?, ?, ?)');
    let latest = 0;
    for (const r of refused) {
      keep.run(r.id, r.reason, r.at);
      latest = Math.max(latest, r.at);
    }
    this.c.sql('DELETE FROM command_refusals WHERE at < ?').run(latest - REFUSALS_KEPT_MS);
  }

  results(ids: number[]): Map<number, CommandResult> {
    const m = new Map<number, CommandResult>();
    if (ids.length === 0) return m;
    return this.c.read(() => {
      const json = JSON.stringify(ids);
      const pending = new Set(this.c.sql('SELECT id FROM commands WHERE id IN (SELECT value FROM json_each(?))').pluck().all(json) as number[]);
      const refused = new Map((this.c.sql('SELECT id, reason FROM command_refusals WHERE id IN (SELECT value FROM json_each(?))')
        .all(json) as { id: number; reason: string }[]).map((r) => [r.id, r.reason]));
      for (const id of ids) {
        if (pending.has(id)) continue;
        const reason = refused.get(id);
        m.set(id, reason === undefined ? { done: true } : { done: false, reason });
      }
      return m;
    });
  }

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Schedule one call of every listener (none when one is already scheduled). Listeners must not throw. */
  wake(): void {
    if (this.wakeUp !== undefined) return;
    this.wakeUp = setImmediate(() => {
      this.wakeUp = undefined;
      for (const l of [...this.listeners]) l();
    });
  }

  close(): void {
    if (this.wakeUp !== undefined) clearImmediate(this.wakeUp);
    this.wakeUp = undefined;
    this.listeners.clear();
  }
}

function toCommand(r: Row): CommandRecord {
  const fields = JSON.parse(r.payload as string) as Record<string, unknown>;
  return { ...fields, kind: r.kind, id: r.id as number, createdAt: r.created_at as number } as CommandRecord;
}
