// The command queue on SQLite: services insert, the leader reads what is pending and deletes what it
// carried out (fenced by its epoch). The wake-up is in-process: inserts made close together make one
// call of each listener (setImmediate), after their transactions committed. A backend shared by
// several processes maps onCommand to LISTEN/NOTIFY instead (see Store.onCommand).
import { COMMAND_KINDS, type CommandRecord, type NewCommand } from '../coordination.ts';
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
