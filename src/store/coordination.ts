// What the server replicas sharing one store use to agree on a single scheduler: the leadership lease
// (its epoch fences the writes of a former leader), the commands that services leave in the store
// for the leader to carry out (instead of calling an in-process scheduler), and the registry of
// replicas (where each is reached, when it was last seen).
// Backend-neutral types: SQLite and PostgreSQL implement them behind the Store interface.

/** The scheduler's right to write job progress. `epoch` grows by one at every change of holder. */
export interface Lease {
  holder: string;
  epoch: number;
  /** Time (ms) from which another holder may take the lease over. */
  expiresAt: number;
  /** When this holder took the lease (ms): kept across its renewals (/healthz says since when it leads). */
  since: number;
}

/** What a service asks the scheduler to do; each kind carries its own typed fields (stored as JSON). */
export type Command =
  | { kind: 'submitted'; jobId: string }
  | { kind: 'terminate-job'; jobId: string }
  | { kind: 'terminate-instance'; jobId: string; taskName: string; index: number }
  | { kind: 'retry-job'; jobId: string }
  | { kind: 'delete-job'; jobId: string }
  | { kind: 'env-changed'; envId: string }
  | { kind: 'terminate-node'; envId: string; instanceId: string };

export type CommandKind = Command['kind'];

export const COMMAND_KINDS: readonly CommandKind[] = [
  'submitted', 'terminate-job', 'terminate-instance', 'retry-job', 'delete-job', 'env-changed', 'terminate-node',
];

/** A command as a service inserts it; `createdAt` is the service's clock (ms). */
export type NewCommand = Command & { createdAt: number };

/** A command as stored: `id` comes from the database and grows with every insert (never reused). */
export type CommandRecord = NewCommand & { id: number };

/** How a command went, as a sender on any replica reads it back (Store.commandResults). */
export type CommandResult = { done: true } | { done: false; reason: string };

/** A command the leader refused (or failed to carry out): completed with its reason, which is kept
 *  for REFUSALS_KEPT_MS so that a sender on another replica can read it. */
export interface RefusedCommand {
  id: number;
  reason: string;
  /** When it was refused (ms, the leader's clock). */
  at: number;
}

/** How long the reasons of refused commands are kept (senders wait far less than this). */
export const REFUSALS_KEPT_MS = 3_600_000;

/** A replica as the registry has it (Store.registerReplica): where the other replicas reach its API
 *  server, and when it last said it was up. */
export interface ReplicaRecord {
  /** Its --replica-id. */
  id: string;
  /** Its --advertise-url: scheme, host and port. */
  url: string;
  /** Its last heartbeat (ms, its own clock). */
  lastSeen: number;
}
