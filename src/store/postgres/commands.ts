// The command queue on PostgreSQL: services insert (NOTIFY in the inserting transaction), the leader
// reads what is pending and deletes what it carried out (fenced by its epoch), and senders on any
// replica read how their commands went (pending, done, refused with its reason). The wake-up is
// LISTEN on a dedicated connection (not from the pool), started by the first onCommand: notifications
// that arrive close together make one call of each listener; when that connection drops it is made
// again with backoff, and the listeners are called once after it is back (notifications sent while
// it was down are lost).
import pg from 'pg';
import type { Logger } from '../../lib/logger.ts';
import { COMMAND_KINDS, REFUSALS_KEPT_MS, type CommandRecord, type CommandResult, type NewCommand, type RefusedCommand } from '../coordination.ts';
import { clientConfig, type Queryable, type Row } from './db.ts';
import { redact } from './errors.ts';
import { fence } from './lease.ts';

/** The one channel of the command queue. */
export const CHANNEL = 'openbatch_commands';

/** Notifications closer together than this make one call; a steady stream still makes one call at least this often. */
const QUIET_MS = 15;
const MAX_DELAY_MS = 100;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

const INSERT = {
  name: 'ob_cmd_insert',
  text: `WITH c AS (INSERT INTO commands (kind, payload, created_at) VALUES ($1, $2, $3) RETURNING id)
    SELECT c.id, pg_notify('${CHANNEL}', '') FROM c`,
};

/** A command's row values, checked. */
export function commandValues(cmd: NewCommand): unknown[] {
  const { kind, createdAt, ...fields } = cmd;
  if (!COMMAND_KINDS.includes(kind)) throw new TypeError(`unknown command kind ${JSON.stringify(kind)}`);
  return [kind, JSON.stringify(fields), createdAt];
}

export class PgCommands {
  private readonly listeners = new Set<() => void>();
  private listener: CommandListener | undefined;
  private closed = false;

  constructor(private readonly db: Queryable, private readonly url: string, private readonly logger: Logger, private readonly secrets: string[]) {}

  /** One statement (its own transaction): the insert and its NOTIFY commit together. */
  async insert(cmd: NewCommand): Promise<CommandRecord> {
    const values = commandValues(cmd);
    await this.listening();
    const id = (await this.db.query<{ id: number }>({ ...INSERT, values })).rows[0]!.id;
    return { ...cmd, id };
  }

  /** Inside the caller's transaction (insertJob): the insert and its NOTIFY, delivered at its commit. */
  async insertIn(c: Queryable, cmd: NewCommand): Promise<number> {
    return (await c.query<{ id: number }>({ ...INSERT, values: commandValues(cmd) })).rows[0]!.id;
  }

  async pending(afterId: number, limit: number): Promise<CommandRecord[]> {
    if (limit <= 0) return [];
    const rows = (await this.db.query({ name: 'ob_cmd_pending', text: 'SELECT id, kind, payload, created_at FROM commands WHERE id > $1 ORDER BY id LIMIT $2', values: [afterId, limit] })).rows;
    return rows.map(toCommand);
  }

  async complete(c: Queryable, ids: number[], epoch: number): Promise<void> {
    await fence(c, epoch, 'completeCommands');
    await deleteIn(c, ids);
  }

  /** One statement, so one snapshot: pending ids, and the kept reasons of refused ones. */
  async results(ids: number[]): Promise<Map<number, CommandResult>> {
    const m = new Map<number, CommandResult>();
    if (ids.length === 0) return m;
    const rows = (await this.db.query<{ id: number; pending: boolean; reason: string | null }>({
      name: 'ob_cmd_results',
      text: `SELECT x.id, c.id IS NOT NULL AS pending, r.reason FROM unnest($1::int8[]) AS x(id)
        LEFT JOIN commands c ON c.id = x.id LEFT JOIN command_refusals r ON r.id = x.id`,
      values: [ids],
    })).rows;
    for (const r of rows) {
      if (r.pending) continue;
      m.set(r.id, r.reason === null ? { done: true } : { done: false, reason: r.reason });
    }
    return m;
  }

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.listener === undefined && !this.closed) {
      this.listener = new CommandListener(this.url, () => this.call(), this.logger, this.secrets);
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Resolves once the LISTEN connection listens (at once when there is none, or it is being made again). */
  listening(): Promise<void> {
    return this.listener?.firstListen ?? Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    const l = this.listener;
    this.listener = undefined;
    await l?.stop();
  }

  private call(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** Inside the caller's transaction: delete completed commands (unknown ids are ignored). */
export async function deleteIn(c: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await c.query({ name: 'ob_cmd_delete', text: 'DELETE FROM commands WHERE id = ANY($1::int8[])', values: [ids] });
}

/** Inside the caller's transaction: keep the reasons of refused commands, dropping the ones older than REFUSALS_KEPT_MS. */
export async function refuseIn(c: Queryable, refused: RefusedCommand[]): Promise<void> {
  if (refused.length === 0) return;
  const last = new Map(refused.map((r) => [r.id, r]));
  const rs = [...last.values()];
  const latest = Math.max(...rs.map((r) => r.at));
  await c.query({
    name: 'ob_cmd_refuse',
    text: `INSERT INTO command_refusals (id, reason, at) SELECT * FROM unnest($1::int8[], $2::text[], $3::int8[])
      ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, at = excluded.at`,
    values: [rs.map((r) => r.id), rs.map((r) => r.reason), rs.map((r) => r.at)],
  });
  await c.query({ name: 'ob_cmd_refusals_prune', text: 'DELETE FROM command_refusals WHERE at < $1', values: [latest - REFUSALS_KEPT_MS] });
}

function toCommand(r: Row): CommandRecord {
  const fields = JSON.parse(r.payload as string) as Record<string, unknown>;
  return { ...fields, kind: r.kind, id: r.id as number, createdAt: r.created_at as number } as CommandRecord;
}

/** The dedicated LISTEN connection: made at once, made again with backoff whenever it drops. */
class CommandListener {
  /** Resolves when the first LISTEN took effect, or when that first attempt failed (inserts do not wait longer). */
  readonly firstListen: Promise<void>;
  private client: pg.Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private quiet: NodeJS.Timeout | undefined;
  private firstPending = 0;
  private backoff = BACKOFF_MIN_MS;

  constructor(private readonly url: string, private readonly fire: () => void, private readonly logger: Logger, private readonly secrets: string[]) {
    this.firstListen = this.connect(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.quiet) clearTimeout(this.quiet);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(again: boolean): Promise<void> {
    if (this.stopped) return;
    const c = new pg.Client(clientConfig(this.url));
    let lost = false;
    const drop = (e?: Error): void => {
      if (lost) return;
      lost = true;
      if (this.client === c) this.client = undefined;
      c.end().catch(() => undefined);
      if (this.stopped) return;
      if (e) this.logger.warn({ err: { message: redact(e.message, this.secrets) } }, 'the PostgreSQL LISTEN connection for commands dropped; making it again');
      this.scheduleReconnect();
    };
    c.on('error', (e) => drop(e));
    c.on('end', () => drop());
    c.on('notification', () => this.notified());
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      drop(e as Error);
      return;
    }
    if (this.stopped) {
      await c.end().catch(() => undefined);
      return;
    }
    this.client = c;
    this.backoff = BACKOFF_MIN_MS;
    // what was inserted while no connection listened was not heard: one call makes up for it
    if (again) this.notified();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    const wait = this.backoff;
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect(true);
    }, wait);
    this.retry.unref();
  }

  /** One call for notifications close together: after QUIET_MS without another, or MAX_DELAY_MS after the first. */
  private notified(): void {
    if (this.stopped) return;
    const now = Date.now();
    if (this.quiet === undefined) this.firstPending = now;
    else clearTimeout(this.quiet);
    const wait = Math.max(0, Math.min(QUIET_MS, this.firstPending + MAX_DELAY_MS - now));
    this.quiet = setTimeout(() => {
      this.quiet = undefined;
      if (!this.stopped) this.fire();
    }, wait);
  }
}
