// THPC_QUEUE compute environments: the engine queues the operator configured (`slurm.queues`, each a
// Slurm partition). They are the operator's cluster, not stored: every account of their region sees
// and may use them, their EnvId is derived from the queue's name (the same config gives the same
// EnvId after every restart), and their compute nodes are the partition's nodes as the engine reports
// them (asked at most every few seconds). The user cannot create, change or delete them.
import { createHash } from 'node:crypto';
import { apiError } from '../domain/errors.ts';
import { REGION_ZONES, zonesOf } from '../domain/regions.ts';
import { isoSeconds } from '../lib/clock.ts';
import type { ComputeNode, ComputeNodeMetrics } from '../api/models.ts';

/** A node of an engine's partition, as the engine reports it. */
export interface QueueNodeInfo {
  name: string;
  /** The partitions it belongs to. */
  partitions: string[];
  cpus: number;
  memoryMiB: number;
  /** Mapped to a ComputeNodeState (RUNNING, ABNORMAL, …). */
  state: string;
  /** CPUs allocated to jobs now, when known. */
  allocCpus?: number;
  /** Its address, when known. */
  address?: string;
}

/** The engine's view of its nodes (the Slurm cluster): one call for every partition. */
export interface QueueCluster {
  readonly kind: string;
  nodes(partitions: string[]): Promise<QueueNodeInfo[]>;
}

export interface QueueEnvConfig {
  name: string;
  partition: string;
  zone?: string;
}

export interface QueueEnv {
  id: string;
  name: string;
  partition: string;
  zone: string;
  region: string;
}

const NODES_FRESH_MS = 3000;
const NODE_STATES = ['SUBMITTED', 'CREATING', 'CREATION_FAILED', 'CREATED', 'RUNNING', 'DELETING', 'ABNORMAL'] as const;

/** A stable id of the given prefix for a name (8 characters of the id alphabet from its hash). */
function stableId(prefix: 'env' | 'node', name: string): string {
  const h = createHash('sha256').update(`openbatch:${prefix}:${name}`).digest();
  let s = '';
  for (let i = 0; i < 8; i++) s += 'abcdefghijklmnopqrstuvwxyz0123456789'[h[i]! % 36];
  return `${prefix}-${s}`;
}

export class QueueEnvs {
  private readonly byId = new Map<string, QueueEnv>();
  private readonly byName = new Map<string, QueueEnv>();
  private cached: { at: number; nodes: QueueNodeInfo[] } | null = null;
  private asking: Promise<QueueNodeInfo[]> | null = null;

  constructor(
    queues: QueueEnvConfig[],
    defaultRegion: string,
    private readonly cluster: QueueCluster | undefined,
    /** When the queues appeared (their CreateTime): the server's start. */
    private readonly since: number,
  ) {
    for (const q of queues) {
      // COMPAT: a queue env lives in its zone's region, with an EnvId hashed from its name (docs/compat.md)
      const zone = q.zone ?? zonesOf(defaultRegion)[0];
      if (zone === undefined) throw new Error(`queue ${q.name}: region ${defaultRegion} has no zones; give the queue a zone`);
      const region = Object.entries(REGION_ZONES).find(([, zs]) => zs.includes(zone))?.[0];
      if (region === undefined) throw new Error(`queue ${q.name}: zone ${zone} is not a zone of any known region`);
      const env: QueueEnv = { id: stableId('env', q.name), name: q.name, partition: q.partition, zone, region };
      if (this.byId.has(env.id)) throw new Error(`queues ${this.byId.get(env.id)!.name} and ${q.name} would share EnvId ${env.id}; rename one`);
      this.byId.set(env.id, env);
      this.byName.set(q.name, env);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  /** The queue env of an EnvId the caller's region sees. */
  get(id: string, region: string): QueueEnv | undefined {
    const e = this.byId.get(id);
    return e && e.region === region ? e : undefined;
  }

  /** The queue (its name) a task with this EnvId runs on, in any region. */
  queueOfEnv(id: string): string | undefined {
    return this.byId.get(id)?.name;
  }

  byQueueName(name: string): QueueEnv | undefined {
    return this.byName.get(name);
  }

  /** The queue envs of a region, in config order. */
  list(region: string): QueueEnv[] {
    return [...this.byId.values()].filter((e) => e.region === region);
  }

  createTime(): string {
    return isoSeconds(this.since);
  }

  /** The refusal for a change of a queue env: it belongs to the cluster. */
  managed(env: QueueEnv, what: string): never {
    throw apiError('UnsupportedOperation', {
      detail: `Compute environment ${env.id} (${env.name}) is a THPC_QUEUE environment bound to ${this.cluster?.kind ?? 'the engine'} partition ${env.partition}: it is managed by the Slurm cluster, and ${what} cannot be done through OpenBatch.`,
    });
  }

  /** The nodes of a queue env's partition, as ComputeNodeSet entries. */
  async nodes(env: QueueEnv): Promise<ComputeNode[]> {
    const all = await this.clusterNodes();
    return all.filter((n) => n.partitions.includes(env.partition)).map((n) => ({
      ComputeNodeId: stableId('node', `${env.name}/${n.name}`),
      ComputeNodeInstanceId: n.name,
      ComputeNodeState: n.state,
      Cpu: n.cpus,
      Mem: Math.round((n.memoryMiB / 1024) * 10) / 10,
      ResourceCreatedTime: isoSeconds(this.since),
      TaskInstanceNumAvailable: n.state === 'RUNNING' ? Math.max(0, n.cpus - (n.allocCpus ?? 0)) : 0,
      AgentVersion: 'slurmd',
      PrivateIpAddresses: n.address ? [n.address] : [],
      PublicIpAddresses: [],
      ResourceType: 'CVM',
      ResourceOrigin: 'USER_ATTACHED',
    }));
  }

  private async clusterNodes(): Promise<QueueNodeInfo[]> {
    if (!this.cluster) return [];
    const now = Date.now();
    if (this.cached && now - this.cached.at < NODES_FRESH_MS) return this.cached.nodes;
    this.asking ??= this.cluster.nodes([...new Set([...this.byId.values()].map((e) => e.partition))]).then(
      (nodes) => {
        this.cached = { at: Date.now(), nodes };
        return nodes;
      },
    ).finally(() => {
      this.asking = null;
    });
    try {
      return await this.asking;
    } catch (e) {
      // the cluster does not answer: what it said last, else a clear error (not an empty cluster)
      if (this.cached) return this.cached.nodes;
      throw apiError('ResourceUnavailable', { id: `the Slurm cluster (asked for its nodes: ${e instanceof Error ? e.message : String(e)})` });
    }
  }
}

/** ComputeNodeMetrics of a node list (counts by state). */
export function metricsOf(states: string[]): ComputeNodeMetrics {
  const c: Record<string, number> = {};
  for (const s of NODE_STATES) c[s] = 0;
  for (const s of states) c[s] = (c[s] ?? 0) + 1;
  return {
    SubmittedCount: c.SUBMITTED!,
    CreatingCount: c.CREATING!,
    CreationFailedCount: c.CREATION_FAILED!,
    CreatedCount: c.CREATED!,
    RunningCount: c.RUNNING!,
    DeletingCount: c.DELETING!,
    AbnormalCount: c.ABNORMAL!,
  };
}
