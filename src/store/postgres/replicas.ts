// The registry of replicas on PostgreSQL (one row per replica id, each replica writing only its own):
// a heartbeat is one upsert, a list one read, forgetting one delete.
import type { ReplicaRecord } from '../coordination.ts';
import { checkReplica } from '../replica-args.ts';
import type { Queryable } from './db.ts';

interface ReplicaRow {
  id: string;
  url: string;
  last_seen: number;
}

const REGISTER = {
  name: 'ob_replica_register',
  text: `INSERT INTO replicas (id, url, last_seen) VALUES ($1, $2, $3)
    ON CONFLICT (id) DO UPDATE SET url = excluded.url, last_seen = excluded.last_seen`,
};
const LIST = { name: 'ob_replica_list', text: 'SELECT id, url, last_seen FROM replicas ORDER BY id' };
const FORGET = { name: 'ob_replica_forget', text: 'DELETE FROM replicas WHERE last_seen < $1' };

export class PgReplicas {
  constructor(private readonly db: Queryable) {}

  async register(r: ReplicaRecord): Promise<void> {
    checkReplica(r);
    await this.db.query({ ...REGISTER, values: [r.id, r.url, r.lastSeen] });
  }

  async list(): Promise<ReplicaRecord[]> {
    const rows = (await this.db.query<ReplicaRow>(LIST)).rows;
    return rows.map((r) => ({ id: r.id, url: r.url, lastSeen: r.last_seen }));
  }

  async forget(beforeMs: number): Promise<number> {
    return (await this.db.query({ ...FORGET, values: [beforeMs] })).rowCount ?? 0;
  }
}
