// The capacity the scheduler fills: the executor's declared capacity for anonymous tasks (local slots
// or a queue), next to the host's vCPUs and memory (domain/capacity.ts).
import type { Capacity } from '../executors/types.ts';

/** What the executor offers anonymous tasks: a number of slots (local processes), or a queue that
 *  takes every instance (a batch system queues what it cannot run yet). */
export class AnonSlots {
  /** Attempts of anonymous tasks that are starting or running. */
  running = 0;
  /** The last dispatch could not start every anonymous task that waits (no slot, or its resources). */
  blocked = false;

  constructor(readonly capacity: Capacity) {}

  get total(): number {
    return this.capacity.kind === 'slots' ? this.capacity.slots : Infinity;
  }

  free(): number {
    return this.total - this.running;
  }

  /** Why an anonymous instance cannot start now when every slot is taken. */
  describeFull(): string {
    return this.capacity.kind === 'slots'
      ? `no free capacity: all ${this.capacity.slots} local slots are busy`
      : `no free capacity in queue ${this.capacity.name}`;
  }
}
