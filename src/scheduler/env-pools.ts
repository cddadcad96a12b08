// Compute nodes of named compute environments, as the scheduler sees them: which node is free, which
// runs which attempt. On the local executor a node is one slot of this host that runs one task
// instance at a time. The env service records what the user asked (nodes CREATING, DELETING, an env
// DELETING); this module carries it out: brings new nodes up (CREATING → CREATED → RUNNING), removes
// nodes being deleted once idle, deletes an env once its last node is gone, and records activities.
import { newId } from '../domain/ids.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { activity } from '../store/activity.ts';
import { envEvent, nodeEvent } from '../store/env-events.ts';
import type { ActivityRecord, EnvBatch, EnvRecord, NodeRecord, Store } from '../store/types.ts';
import type { HostCapacity } from '../domain/capacity.ts';

export interface NodeRt {
  rec: NodeRecord;
  /** The attempt running on the node (opaque to this module), or null when the node is free. */
  busy: object | null;
}

export interface EnvPool {
  env: EnvRecord;
  nodes: Map<string, NodeRt>;
}

export class EnvPools {
  private readonly pools = new Map<string, EnvPool>();
  private readonly byInstance = new Map<string, NodeRt>();
  /** The scheduler's lease epoch: fences the node changes it writes. */
  epoch: number | undefined;
  /** The active jobs that asked for the events of an env's nodes (set by the scheduler). */
  watchers: (envId: string) => string[] = () => [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Told what the nodes of every environment hold after each change. */
    private readonly capacity?: HostCapacity,
  ) {}

  async load(): Promise<void> {
    for (const env of await this.store.allEnvs()) await this.refresh(env.id);
  }

  pool(envId: string): EnvPool | undefined {
    return this.pools.get(envId);
  }

  node(instanceId: string): NodeRt | undefined {
    return this.byInstance.get(instanceId);
  }

  /** A free running node of the env, or undefined. */
  freeNode(envId: string): NodeRt | undefined {
    const p = this.pools.get(envId);
    if (!p || p.env.nextAction === 'DELETING') return undefined;
    for (const n of p.nodes.values()) if (n.busy === null && n.rec.state === 'RUNNING') return n;
    return undefined;
  }

  /** Why tasks of this env wait (for StateDetailedReason). */
  waitReason(envId: string): string {
    const p = this.pools.get(envId);
    if (!p) return `compute environment ${envId} does not exist`;
    if (p.env.nextAction === 'DELETING') return `compute environment ${envId} is being deleted`;
    const running = [...p.nodes.values()].filter((n) => n.rec.state === 'RUNNING').length;
    if (running === 0) return `compute environment ${envId} has no running compute node`;
    return `no free compute node: all ${running} running nodes of ${envId} are busy`;
  }

  /** Reload an env and its nodes from the store and carry out pending node changes. */
  async refresh(envId: string): Promise<void> {
    const env = await this.store.getEnvById(envId);
    const old = this.pools.get(envId);
    if (!env) {
      if (old) for (const n of old.nodes.values()) this.byInstance.delete(n.rec.instanceId);
      this.pools.delete(envId);
      return;
    }
    const pool: EnvPool = { env, nodes: new Map() };
    const batch: Required<Pick<EnvBatch, 'nodes' | 'deleteNodes' | 'activities' | 'events'>> & EnvBatch = { nodes: [], deleteNodes: [], activities: [], events: [] };
    const now = this.clock.now();
    let jobs: string[] | undefined;
    const watching = () => (jobs ??= this.watchers(envId));
    for (const rec of await this.store.nodesOf(envId)) {
      // keep the same object: attempts hold it and free it when they end
      const prev = old?.nodes.get(rec.id) ?? this.byInstance.get(rec.instanceId);
      const n: NodeRt = prev ?? { rec, busy: null };
      n.rec = rec;
      if (rec.state === 'CREATING' || rec.state === 'CREATED' || rec.state === 'SUBMITTED' || rec.state === 'PENDING') {
        // COMPAT: a local node is up as soon as its slot exists: created, and running at once (docs/compat.md)
        if (rec.state !== 'CREATED') batch.events.push(nodeEvent(env, rec, now, watching(), 'CREATED'));
        rec.state = 'RUNNING';
        batch.events.push(nodeEvent(env, rec, now, watching()));
        batch.nodes.push(rec);
        batch.activities.push(...(await this.finishActivities(envId, rec.id, 'CREATE_COMPUTE_NODE', now)));
      }
      if (rec.state === 'DELETING' && n.busy === null) {
        batch.deleteNodes.push(rec.id);
        batch.events.push(nodeEvent(env, rec, now, watching(), 'DELETED'));
        batch.activities.push(...(await this.finishActivities(envId, rec.id, 'TERMINATE_COMPUTE_NODE', now)));
        this.byInstance.delete(rec.instanceId);
        continue;
      }
      pool.nodes.set(rec.id, n);
      this.byInstance.set(rec.instanceId, n);
    }
    if (old) for (const n of old.nodes.values()) if (!pool.nodes.has(n.rec.id)) this.byInstance.delete(n.rec.instanceId);
    if (env.nextAction === 'DELETING' && pool.nodes.size === 0) {
      batch.deleteEnvs = [envId];
      batch.events.push(envEvent(env, 'DELETED', now));
      this.pools.delete(envId);
    } else {
      this.pools.set(envId, pool);
    }
    if (batch.nodes.length + batch.deleteNodes.length + batch.activities.length > 0 || batch.deleteEnvs) {
      await this.store.applyEnvBatch(batch, this.epoch);
    }
    this.capacity?.setReserved(this.reserved());
  }

  /** The nodes of every environment by state, and how many run an attempt (metrics, at scrape time). */
  census(): { byState: Record<string, number>; busy: number } {
    const byState: Record<string, number> = {};
    let busy = 0;
    for (const p of this.pools.values()) {
      for (const n of p.nodes.values()) {
        byState[n.rec.state] = (byState[n.rec.state] ?? 0) + 1;
        if (n.busy !== null) busy += 1;
      }
    }
    return { byState, busy };
  }

  /** The instance ids of the nodes running an attempt now. */
  busyNodes(): Set<string> {
    const out = new Set<string>();
    for (const n of this.byInstance.values()) if (n.busy !== null) out.add(n.rec.instanceId);
    return out;
  }

  /** vCPUs and memory (GiB) held by the compute nodes of every environment. */
  reserved(): { cpus: number; memGiB: number } {
    let cpus = 0, memGiB = 0;
    for (const n of this.byInstance.values()) {
      cpus += n.rec.cpu;
      memGiB += n.rec.mem;
    }
    return { cpus, memGiB };
  }

  /** The attempt on a node ended: free the node, or finish deleting it. */
  async release(node: NodeRt): Promise<void> {
    node.busy = null;
    if (node.rec.state === 'DELETING') await this.refresh(node.rec.envId);
  }

  private async finishActivities(envId: string, nodeId: string, type: ActivityRecord['type'], now: number): Promise<ActivityRecord[]> {
    const { activities } = await this.store.activitiesOf(envId, [nodeId], 0, 100);
    const open = activities.filter((a) => a.type === type && (a.state === 'SUBMITTED' || a.state === 'PROCESSING'));
    if (open.length === 0) {
      this.logger.debug({ envId, nodeId, type }, 'no open activity to finish');
      return [];
    }
    return open.map((a) => ({ ...a, state: 'SUCCEED' as const, endTime: now }));
  }
}

/** A new activity record (SUBMITTED) for a node change the user asked for. */
