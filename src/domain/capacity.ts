// What this host may promise: its CPUs and memory times the overcommit factor. Compute nodes of
// named environments hold their instance type's vCPUs and memory for as long as they exist; an
// instance on an anonymous environment holds its type's while it runs. Their sum never exceeds the
// host's: CreateComputeEnv / ModifyComputeEnv / AttachInstances that would exceed it are refused
// (LimitExceeded.CpuQuota, saying what is free), and anonymous instances start only when theirs fit.
import { gib, vcpus } from './units.ts';
export interface Resources {
  cpus: number;
  memGiB: number;
}

export class HostCapacity {
  /** What may be promised: the host's CPUs and memory × overcommit. */
  readonly total: Resources;
  private reserved: Resources = { cpus: 0, memGiB: 0 };
  private anonymous: Resources = { cpus: 0, memGiB: 0 };

  constructor(
    readonly host: Resources,
    readonly overcommit: number,
  ) {
    this.total = { cpus: host.cpus * overcommit, memGiB: host.memGiB * overcommit };
  }

  /** The compute nodes of every named environment (recomputed when environments change). */
  setReserved(r: Resources): void {
    this.reserved = { ...r };
  }

  free(): Resources {
    return {
      cpus: this.total.cpus - this.reserved.cpus - this.anonymous.cpus,
      memGiB: this.total.memGiB - this.reserved.memGiB - this.anonymous.memGiB,
    };
  }

  /** Can an anonymous instance of these resources start now? */
  fits(r: Resources): boolean {
    const f = this.free();
    return r.cpus <= f.cpus + EPS && r.memGiB <= f.memGiB + EPS;
  }

  /** Could it ever start here (with no node reserved and nothing else running)? */
  everFits(r: Resources): boolean {
    return r.cpus <= this.total.cpus + EPS && r.memGiB <= this.total.memGiB + EPS;
  }

  take(r: Resources): void {
    this.anonymous.cpus += r.cpus;
    this.anonymous.memGiB += r.memGiB;
  }

  /** Nothing of the anonymous environments runs (a new scheduler starts and takes what it re-adopts). */
  releaseAll(): void {
    this.anonymous.cpus = 0;
    this.anonymous.memGiB = 0;
  }

  release(r: Resources): void {
    this.anonymous.cpus = Math.max(0, this.anonymous.cpus - r.cpus);
    this.anonymous.memGiB = Math.max(0, this.anonymous.memGiB - r.memGiB);
  }

  /** Why compute nodes needing `extra` cannot be added (undefined: they can). */
  refuseNodes(extra: Resources, what: string): string | undefined {
    const f = this.free();
    if (extra.cpus <= f.cpus + EPS && extra.memGiB <= f.memGiB + EPS) return undefined;
    return `${what} need ${vcpus(extra.cpus)} and ${gib(extra.memGiB)}; this host can promise ${this.describeTotal()}, of which ${vcpus(Math.max(0, f.cpus))} and ${gib(Math.max(0, f.memGiB))} are free (${vcpus(this.reserved.cpus)} and ${gib(this.reserved.memGiB)} are held by compute nodes, ${vcpus(this.anonymous.cpus)} and ${gib(this.anonymous.memGiB)} by running instances of anonymous compute environments); raise --overcommit to promise more`;
  }

  describeTotal(): string {
    return `${vcpus(this.total.cpus)} and ${gib(this.total.memGiB)} (its ${this.host.cpus} CPUs and ${gib(this.host.memGiB)} × overcommit ${this.overcommit})`;
  }
}

const EPS = 1e-9;
