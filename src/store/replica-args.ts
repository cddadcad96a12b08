// What both backends check of a replica's registry row before writing it (Store.registerReplica):
// a programming error, never a user's input (the config checked --replica-id and --advertise-url).
import type { ReplicaRecord } from './coordination.ts';

export function checkReplica(r: ReplicaRecord): void {
  if (r.id === '') throw new RangeError('a replica id must not be empty');
  if (r.url === '') throw new RangeError(`the URL of replica ${r.id} must not be empty`);
  if (!Number.isSafeInteger(r.lastSeen)) throw new RangeError(`lastSeen of replica ${r.id} must be an integer number of ms, got ${r.lastSeen}`);
}
