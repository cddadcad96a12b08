// The registry of replicas on SQLite (one row per replica id): a heartbeat replaces the row, a list
// reads them all. One server alone (the data-dir lock) has one row, its own.
import type { ReplicaRecord } from '../coordination.ts';
import { checkReplica } from '../replica-args.ts';
import type { Conn } from './connection.ts';

interface ReplicaRow {
  id: string;
  url: string;
  last_seen: number;
}

export class SqliteReplicas {
  constructor(private readonly c: Conn) {}

  register(r: ReplicaRecord): void {
    checkReplica(r);
    this.c.write(() => {
      this.c.sql(`INSERT INTO replicas (id, url, last_seen) VALUES (?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET url = excluded.url, last_seen = excluded.last_seen`).run(r.id, r.url, r.lastSeen);
    });
  }

  list(): ReplicaRecord[] {
    const rows = this.c.sql('SELECT id, url, last_seen FROM replicas ORDER BY id').all() as ReplicaRow[];
    return rows.map((r) => ({ id: r.id, url: r.url, lastSeen: r.last_seen }));
  }

  forget(beforeMs: number): number {
    return this.c.write(() => this.c.sql('DELETE FROM replicas WHERE last_seen < ?').run(beforeMs).changes);
  }
}
