// Named compute environments and their compute nodes: Create/Describe/Modify/DeleteComputeEnv,
// DescribeComputeEnvs, DescribeComputeEnvCreateInfo(s), DescribeComputeEnvActivities,
// Attach/DetachInstances, TerminateComputeNode(s). This service records what the user asked (nodes to
// create, nodes to delete) with activities; the scheduler's EnvPools carries it out.
//
// COMPAT: on a self-hosted service a compute node is one slot of this host that runs one task
// instance at a time. Nodes "created by Batch" get generated ids (node-…, ins-…). "Instances" for
// AttachInstances are capacity the operator declares in the config file (`attachableInstances`,
// e.g. another host's slots once a distributed executor exists); an undeclared id is refused with
// UnsupportedOperation.InstancesNotAllowToAttach.
import { apiError } from '../domain/errors.ts';
import type { Limits } from '../config/config.ts';
import { checkEnvId, checkNodeId, newId } from '../domain/ids.ts';
import type { Clock } from '../lib/clock.ts';
import { isoSeconds } from '../lib/clock.ts';
import type { HostCapacity } from '../domain/capacity.ts';
import { activity } from '../store/activity.ts';
import { envEvent, nodeEvents } from '../store/env-events.ts';
import { eventNameOf, wantsNodeEventsOf } from '../domain/events.ts';
import { ACTIVE_STATES } from '../domain/states.ts';
import type { CommandSender, SchedulerView } from '../scheduler/ports.ts';
import type { ActivityRecord, EnvRecord, NodeOrigin, NodeRecord, Store } from '../store/types.ts';
import { checkFilters, checkPage } from './filters.ts';
import type { Caller } from './types.ts';
import {
  checkClientToken, checkEnvData, checkMountDataDisks, checkNotifications, checkTopics, checkTags, checkZone, ENV_NOTIFICATION_EVENTS, maxLen,
  type ValidationContext,
} from './validate.ts';
import { maskSecrets } from './views.ts';
import { checkInputMappings, checkMappingsApart } from './validate-data.ts';
import type { AuthenticationInput, InputMappingInput } from '../api/models.ts';
import { metricsOf, type QueueEnv, type QueueEnvs } from './queue-envs.ts';
import { storedComputeEnv, storedEnvPlacement, withEnvData } from './stored.ts';
import type {
  Activity, ComputeEnvCreateInfo, ComputeEnvView, ComputeNode, ComputeNodeMetrics, EnvDataInput, RequestOf, ResponseOf,
} from '../api/models.ts';

export interface AttachableInstance {
  InstanceId: string;
  InstanceType: string;
}

export interface EnvServiceDeps {
  store: Store;
  /** The Notification topics of the server's config (others are refused). */
  topics?: ReadonlySet<string>;
  /** Where commands for the scheduler go. */
  commands: CommandSender;
  /** What the scheduler runs now (whether a node is busy). */
  view: SchedulerView;
  clock: Clock;
  limits: Limits;
  localRoot: string;
  /** vCPUs and memory (GiB) of an instance type; undefined for a type the catalogue does not know. */
  capacityOf: (instanceType: string) => { cpu: number; memGiB: number } | undefined;
  attachable: AttachableInstance[];
  /** What the host may still promise to new compute nodes (absent: no limit, e.g. unit tests). */
  capacity?: HostCapacity;
  /** THPC_QUEUE environments (the configured engine queues), when there are any. */
  queues?: QueueEnvs;
}

const MAX_NODES = 2000;
const MAX_ENV_NAME = 60;
const MAX_ENV_DESCRIPTION = 200;
const TERMINABLE = ['CREATED', 'CREATION_FAILED', 'RUNNING', 'ABNORMAL'];
export const ENV_FILTERS = ['zone', 'env-id', 'env-name', 'resource-type', 'tag-key', 'tag-value'];
const CREATE_INFO_FILTERS = ['zone', 'env-id', 'env-name'];

export class EnvService {
  /** Changes that add compute nodes run one at a time: each sees what the previous one reserved. */
  private adding: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: EnvServiceDeps) {}

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.adding.then(fn, fn);
    this.adding = run.catch(() => undefined);
    return run;
  }

  /** LimitExceeded.CpuQuota unless the host can still promise what `nodes` need. */
  private checkCapacity(nodes: NodeRecord[], action: string): void {
    if (!this.d.capacity || nodes.length === 0) return;
    const need = { cpus: nodes.reduce((n, x) => n + x.cpu, 0), memGiB: nodes.reduce((n, x) => n + x.mem, 0) };
    const types = [...new Set(nodes.map((n) => n.instanceType))].join(', ');
    const why = this.d.capacity.refuseNodes(need, `${action}: the ${nodes.length} new compute node${nodes.length > 1 ? 's' : ''} (${types})`);
    if (why) throw apiError('LimitExceeded.CpuQuota', { detail: why });
  }

  private ctx(c: Caller): ValidationContext {
    return { region: c.region, limits: this.d.limits, localRoot: this.d.localRoot, knownInstanceType: (t) => this.d.capacityOf(t) !== undefined };
  }

  /** A stored env of the caller; `change` names what is asked of it, refused for a queue env. */
  private async mustEnv(c: Caller, envId: string, change?: string): Promise<EnvRecord> {
    checkEnvId(envId);
    const q = this.d.queues?.get(envId, c.region);
    if (q) this.d.queues!.managed(q, change ?? 'this');
    const env = await this.d.store.getEnv(c.account, c.region, envId);
    if (!env) throw apiError('ResourceNotFound.ComputeEnv', { envId });
    return env;
  }

  /** Used by SubmitJob and templates: an env the caller owns that is not being deleted. */
  async usable(c: Caller, envId: string): Promise<boolean> {
    if (this.d.queues?.get(envId, c.region)) return true; // the operator's cluster: every account may use it
    const env = await this.d.store.getEnv(c.account, c.region, envId);
    return env !== undefined && env.nextAction !== 'DELETING';
  }

  /** What every task on the environment gets from object storage (copied into a task as it is
   *  submitted): its InputMappings and COS Authentications; undefined when it has none. */
  async dataOf(c: Caller, envId: string): Promise<{ InputMappings: InputMappingInput[]; Authentications: AuthenticationInput[] } | undefined> {
    const env = await this.d.store.getEnv(c.account, c.region, envId);
    if (!env) return undefined;
    const ce = storedComputeEnv(env);
    const inputs = ce.InputMappings ?? [];
    const auths = (ce.Authentications ?? []).filter((a) => a.Scene === 'COS');
    return inputs.length === 0 && auths.length === 0 ? undefined : { InputMappings: inputs, Authentications: auths };
  }

  /** The owner's jobs that have not ended, run tasks on the env and asked for its nodes' events
   *  (they are named in the node events); read only when a node's new state has a Tencent event. */
  private async watchers(env: EnvRecord, nodes: readonly NodeRecord[]): Promise<string[]> {
    const out: string[] = [];
    if (!nodes.some((n) => eventNameOf('node', n.state) !== null)) return out;
    const filters = [{ name: 'job-state', values: [...ACTIVE_STATES] }];
    const page = 100;
    for (let offset = 0; ; offset += page) {
      const { jobs } = await this.d.store.listJobs(env.account, env.region, { filters, offset, limit: page });
      for (const j of jobs) if (wantsNodeEventsOf(j.spec.job, env.id)) out.push(j.id);
      if (jobs.length < page) return out;
    }
  }

  private typeOf(env: EnvRecord): string {
    const ed = storedComputeEnv(env).EnvData;
    return ed?.InstanceType ?? ed?.InstanceTypes?.[0] ?? 'LOCAL.SLOT';
  }

  private checkInstanceType(t: string, param: string): void {
    if (!this.d.capacityOf(t)) {
      throw apiError('InvalidParameterValue.InstanceType', { param: param, problem: `"${t}" is not an instance type of the catalogue (see DescribeAvailableCvmInstanceTypes)` });
    }
  }

  private newNode(envId: string, instanceType: string, origin: NodeOrigin, now: number, instanceId?: string): NodeRecord {
    const cap = this.d.capacityOf(instanceType) ?? { cpu: 1, memGiB: 1 };
    return {
      id: newId('node'), envId, instanceId: instanceId ?? newId('ins'), instanceType, state: 'CREATING',
      cpu: cap.cpu, mem: cap.memGiB, origin, createdTime: now,
    };
  }

  // ------------------------------------------------------------------ create

  create(c: Caller, req: RequestOf<'CreateComputeEnv'>): Promise<ResponseOf<'CreateComputeEnv'>> {
    return this.serially(() => this.createNow(c, req));
  }

  private async createNow(c: Caller, req: RequestOf<'CreateComputeEnv'>): Promise<ResponseOf<'CreateComputeEnv'>> {
    const ce = req.ComputeEnv;
    const placement = req.Placement;
    checkZone(placement.Zone, c.region);
    if (placement.ProjectId !== undefined && placement.ProjectId < 0) {
      throw apiError('InvalidParameterValue.Negative', { param: 'Placement.ProjectId', problem: `must not be negative; got ${placement.ProjectId}` });
    }
    if (ce.EnvName.trim() === '') throw apiError('InvalidParameterValue.ComputeEnv', { param: 'ComputeEnv.EnvName', problem: 'must not be empty' });
    maxLen(ce.EnvName, MAX_ENV_NAME, 'InvalidParameter.EnvNameTooLong', 'ComputeEnv.EnvName');
    maxLen(ce.EnvDescription, MAX_ENV_DESCRIPTION, 'InvalidParameter.EnvDescriptionTooLong', 'ComputeEnv.EnvDescription');
    checkDesired(ce.DesiredComputeNodeCount, 'ComputeEnv.DesiredComputeNodeCount');
    if (ce.EnvType !== undefined && ce.EnvType !== 'MANAGED') {
      if (ce.EnvType === 'THPC_QUEUE') throw apiError('UnsupportedOperation', { detail: 'ComputeEnv.EnvType THPC_QUEUE cannot be created through the API: THPC_QUEUE environments are the Slurm partitions the operator names in the config file (slurm.queues), managed by the Slurm cluster; create a MANAGED one, or use a THPC_QUEUE environment DescribeComputeEnvs lists.' });
      throw apiError('InvalidParameterValue.ComputeEnv', { param: 'ComputeEnv.EnvType', problem: `must be MANAGED; got "${ce.EnvType}"` });
    }
    checkEnvData(ce.EnvData, this.ctx(c), 'ComputeEnv.EnvData', true);
    const ed = ce.EnvData;
    if (ed?.InstanceTypeOptions !== undefined) {
      throw apiError('UnsupportedOperation', { detail: 'ComputeEnv.EnvData.InstanceTypeOptions is not supported for named environments yet; give InstanceType or InstanceTypes.' });
    }
    if (ed?.InstanceType !== undefined) this.checkInstanceType(ed.InstanceType, 'ComputeEnv.EnvData.InstanceType');
    ed?.InstanceTypes?.forEach((t, i) => this.checkInstanceType(t, `ComputeEnv.EnvData.InstanceTypes.${i}`));
    checkMountDataDisks(ce.MountDataDisks, this.ctx(c), 'ComputeEnv.MountDataDisks');
    checkMappingsApart(checkInputMappings(ce.InputMappings, 'ComputeEnv.InputMappings'));
    if (ce.AgentRunningMode !== undefined) {
      throw apiError('UnsupportedOperation', { detail: 'ComputeEnv.AgentRunningMode (Windows agents) is not supported by OpenBatch.' });
    }
    ce.Authentications?.forEach((a, i) => {
      if (a.Scene !== 'COS') throw apiError('InvalidParameterValue', { param: `ComputeEnv.Authentications.${i}.Scene`, problem: `must be COS; got "${a.Scene}"` });
    });
    checkNotifications(ce.Notifications, ENV_NOTIFICATION_EVENTS, 'ComputeEnv.Notifications');
    checkTopics(ce.Notifications, this.d.topics ?? new Set(), 'ComputeEnv.Notifications');
    if (ce.NotificationTarget !== undefined && !['CMQ', 'TDMQ_CMQ'].includes(ce.NotificationTarget)) {
      throw apiError('InvalidParameterValue', { param: 'ComputeEnv.NotificationTarget', problem: `must be CMQ or TDMQ_CMQ; got "${ce.NotificationTarget}"` });
    }
    if (ce.ActionIfComputeNodeInactive !== undefined && ce.ActionIfComputeNodeInactive !== 'RECREATE') {
      throw apiError('InvalidParameterValue', { param: 'ComputeEnv.ActionIfComputeNodeInactive', problem: `must be RECREATE; got "${ce.ActionIfComputeNodeInactive}"` });
    }
    if (ce.ResourceMaxRetryCount !== undefined && ce.ResourceMaxRetryCount > 100) {
      throw apiError('InvalidParameterValue', { param: 'ComputeEnv.ResourceMaxRetryCount', problem: `must be between 0 and 100; got ${ce.ResourceMaxRetryCount}` });
    }
    checkTags(ce.Tags, this.d.limits, 'ComputeEnv.Tags');
    checkClientToken(req.ClientToken);
    if (req.ClientToken !== undefined) {
      // a retry is answered before the capacity check (the env exists already); the insert below
      // settles a concurrent create with the same token
      const same = await this.d.store.getEnvByClientToken(c.account, c.region, req.ClientToken);
      if (same) return { EnvId: same.id };
    }
    const now = this.d.clock.now();
    const env: EnvRecord = {
      id: newId('env'),
      account: c.account,
      region: c.region,
      name: ce.EnvName,
      description: ce.EnvDescription ?? '',
      zone: placement.Zone,
      info: {
        ComputeEnv: {
          ...ce, EnvType: 'MANAGED', ActionIfComputeNodeInactive: ce.ActionIfComputeNodeInactive ?? 'RECREATE',
          ResourceMaxRetryCount: ce.ResourceMaxRetryCount ?? 7, ...(req.ClientToken !== undefined ? { ClientToken: req.ClientToken } : {}),
        },
        Placement: { ProjectId: 0, ...placement },
      },
      desired: ce.DesiredComputeNodeCount,
      nextAction: '',
      createTime: now,
      tags: ce.Tags ?? [],
      clientToken: req.ClientToken ?? null,
    };
    const nodes = Array.from({ length: env.desired }, () => this.newNode(env.id, this.typeOf(env), 'BATCH_CREATED', now));
    this.checkCapacity(nodes, 'CreateComputeEnv');
    const cause = `CreateComputeEnv: the capacity is ${env.desired}`;
    const activities = nodes.map((n) => activity(env.id, n, 'CREATE_COMPUTE_NODE', cause, now));
    const events = [envEvent(env, 'CREATED', now), ...nodeEvents(env, nodes, now, [])]; // a new env: no job runs on it yet
    const r = await this.d.store.insertEnvWithNodes(env, nodes, activities, this.d.limits.maxComputeEnvs, events);
    if (r === 'quota') {
      throw apiError('LimitExceeded.ComputeEnvQuota', { max: this.d.limits.maxComputeEnvs, region: c.region });
    }
    if (!r.created) return { EnvId: r.envId };
    await this.d.commands.send({ kind: 'env-changed', envId: env.id });
    return { EnvId: env.id };
  }

  // ------------------------------------------------------------------ describe

  async describe(c: Caller, req: RequestOf<'DescribeComputeEnv'>): Promise<ResponseOf<'DescribeComputeEnv'>> {
    checkEnvId(req.EnvId);
    const q = this.d.queues?.get(req.EnvId, c.region);
    if (q) return this.describeQueue(q);
    const env = await this.mustEnv(c, req.EnvId);
    const nodes = await this.d.store.nodesOf(env.id);
    const busy = nodes.some((n) => n.state === 'RUNNING') ? await this.d.view.busyNodes() : new Set<string>();
    return {
      EnvId: env.id,
      EnvName: env.name,
      Placement: storedEnvPlacement(env),
      CreateTime: isoSeconds(env.createTime),
      ComputeNodeSet: nodes.map((n) => this.nodeView(n, busy)),
      ComputeNodeMetrics: nodeMetrics(nodes),
      DesiredComputeNodeCount: env.desired,
      EnvType: 'MANAGED',
      ResourceType: 'CVM',
      NextAction: env.nextAction,
      AttachedComputeNodeCount: nodes.filter((n) => n.origin === 'USER_ATTACHED').length,
      Tags: env.tags,
    };
  }

  private async describeQueue(q: QueueEnv): Promise<ResponseOf<'DescribeComputeEnv'>> {
    const nodes = await this.d.queues!.nodes(q);
    return {
      ...this.queueView(q, nodes),
      ComputeNodeSet: nodes,
    };
  }

  /** COMPAT: a queue env's nodes are the partition's Slurm nodes, all "attached" (the operator's),
   *  and DesiredComputeNodeCount is their number: the cluster decides it. */
  private queueView(q: QueueEnv, nodes: ComputeNode[]): ComputeEnvView {
    return {
      EnvId: q.id,
      EnvName: q.name,
      Placement: { Zone: q.zone },
      CreateTime: this.d.queues!.createTime(),
      ComputeNodeMetrics: metricsOf(nodes.map((n) => n.ComputeNodeState)),
      EnvType: 'THPC_QUEUE',
      DesiredComputeNodeCount: nodes.length,
      ResourceType: 'CVM',
      NextAction: '',
      AttachedComputeNodeCount: nodes.length,
      Tags: [],
    };
  }

  private nodeView(n: NodeRecord, busy: ReadonlySet<string>): ComputeNode {
    return {
      ComputeNodeId: n.id,
      ComputeNodeInstanceId: n.instanceId,
      ComputeNodeState: n.state,
      Cpu: n.cpu,
      Mem: n.mem,
      ResourceCreatedTime: isoSeconds(n.createdTime),
      TaskInstanceNumAvailable: n.state === 'RUNNING' && !busy.has(n.instanceId) ? 1 : 0,
      AgentVersion: 'openbatch-local-1',
      PrivateIpAddresses: ['127.0.0.1'],
      PublicIpAddresses: [],
      ResourceType: 'CVM',
      ResourceOrigin: n.origin,
    };
  }

  private async list(c: Caller, req: RequestOf<'DescribeComputeEnvs' | 'DescribeComputeEnvCreateInfos'>, idsParam: 'EnvIds', known: string[]) {
    const { offset, limit } = checkPage(req.Offset, req.Limit, 20, 100);
    if (req[idsParam] !== undefined && req.Filters !== undefined) {
      throw apiError('InvalidParameter.InvalidParameterCombination', { detail: `${idsParam} and Filters cannot be given together.` });
    }
    const ids = req[idsParam];
    if (ids) {
      if (ids.length > 100) throw apiError('InvalidParameterValue.LimitExceeded', { param: idsParam, problem: `has ${ids.length} entries; at most 100 are allowed` });
      ids.forEach((id, i) => checkEnvId(id, `${idsParam}.${i}`));
    }
    const filters = checkFilters(req.Filters, (n) => known.includes(n) || (known.includes('tag-key') && n.startsWith('tag:')), this.d.limits);
    for (const f of filters) {
      if (f.name === 'resource-type') {
        for (const v of f.values) if (v !== 'CVM' && v !== 'CPM') throw apiError('InvalidParameterValue.ResourceType', { param: 'Filter resource-type', value: v });
      }
      if (f.name === 'zone') for (const z of f.values) checkZone(z, c.region, 'Filter zone');
    }
    // the region's queue envs come first (in config order), then the stored ones
    const queues = (this.d.queues?.list(c.region) ?? []).filter((q) => (!ids || ids.includes(q.id)) && filters.every((f) => {
      const v = { zone: q.zone, 'env-id': q.id, 'env-name': q.name, 'resource-type': 'CVM' }[f.name];
      return v !== undefined && f.values.includes(v); // a queue env has no tags
    }));
    const shown = queues.slice(offset, offset + limit);
    const stored = await this.d.store.listEnvs(c.account, c.region, {
      ids, filters, offset: Math.max(0, offset - queues.length), limit: limit - shown.length,
    });
    return { total: stored.total + queues.length, queues: shown, envs: limit - shown.length > 0 ? stored.envs : [] };
  }

  async describeEnvs(c: Caller, req: RequestOf<'DescribeComputeEnvs'>): Promise<ResponseOf<'DescribeComputeEnvs'>> {
    const { total, queues, envs } = await this.list(c, req, 'EnvIds', ENV_FILTERS);
    const set: ComputeEnvView[] = [];
    for (const q of queues) set.push(this.queueView(q, await this.d.queues!.nodes(q)));
    for (const env of envs) {
      const nodes = await this.d.store.nodesOf(env.id);
      set.push({
        EnvId: env.id,
        EnvName: env.name,
        Placement: storedEnvPlacement(env),
        CreateTime: isoSeconds(env.createTime),
        ComputeNodeMetrics: nodeMetrics(nodes),
        EnvType: 'MANAGED',
        DesiredComputeNodeCount: env.desired,
        ResourceType: 'CVM',
        NextAction: env.nextAction,
        AttachedComputeNodeCount: nodes.filter((n) => n.origin === 'USER_ATTACHED').length,
        Tags: env.tags,
      });
    }
    return { ComputeEnvSet: set, TotalCount: total };
  }

  private createInfo(env: EnvRecord): ComputeEnvCreateInfo {
    const ce = maskSecrets(storedComputeEnv(env));
    return {
      EnvId: env.id,
      EnvName: env.name,
      EnvDescription: env.description,
      EnvType: 'MANAGED',
      EnvData: ce.EnvData ?? {},
      MountDataDisks: ce.MountDataDisks ?? [],
      InputMappings: ce.InputMappings ?? [],
      Authentications: ce.Authentications ?? [],
      Notifications: ce.Notifications ?? [],
      DesiredComputeNodeCount: env.desired,
      Tags: env.tags,
    };
  }

  /** COMPAT: a queue env was not created through CreateComputeEnv: its create info names the Slurm
   *  partition it is bound to in EnvDescription. */
  private queueCreateInfo(q: QueueEnv): ComputeEnvCreateInfo {
    return {
      EnvId: q.id, EnvName: q.name, EnvDescription: `Slurm partition ${q.partition}`, EnvType: 'THPC_QUEUE',
      EnvData: {}, MountDataDisks: [], InputMappings: [], Authentications: [], Notifications: [], DesiredComputeNodeCount: 0, Tags: [],
    };
  }

  async describeCreateInfo(c: Caller, req: RequestOf<'DescribeComputeEnvCreateInfo'>): Promise<ResponseOf<'DescribeComputeEnvCreateInfo'>> {
    checkEnvId(req.EnvId);
    const q = this.d.queues?.get(req.EnvId, c.region);
    if (q) return this.queueCreateInfo(q);
    return this.createInfo(await this.mustEnv(c, req.EnvId));
  }

  async describeCreateInfos(c: Caller, req: RequestOf<'DescribeComputeEnvCreateInfos'>): Promise<ResponseOf<'DescribeComputeEnvCreateInfos'>> {
    const { total, queues, envs } = await this.list(c, req, 'EnvIds', CREATE_INFO_FILTERS);
    return { TotalCount: total, ComputeEnvCreateInfoSet: [...queues.map((q) => this.queueCreateInfo(q)), ...envs.map((e) => this.createInfo(e))] };
  }

  async describeActivities(c: Caller, req: RequestOf<'DescribeComputeEnvActivities'>): Promise<ResponseOf<'DescribeComputeEnvActivities'>> {
    checkEnvId(req.EnvId);
    // a queue env's nodes come and go in the cluster, not through OpenBatch: it has no activities
    if (this.d.queues?.get(req.EnvId, c.region)) return { ActivitySet: [], TotalCount: 0 };
    const env = await this.mustEnv(c, req.EnvId);
    const { offset, limit } = checkPage(req.Offset, req.Limit, 20, 100);
    let nodeIds: string[] | undefined;
    if (req.Filters !== undefined) {
      const f = req.Filters;
      if (f.Name !== 'compute-node-id') throw apiError('InvalidParameterValue', { param: 'Filters.Name', problem: `"${f.Name}" is not supported here; use compute-node-id` });
      if (f.Values.length === 0) throw apiError('InvalidParameterValue', { param: 'Filters.Values', problem: 'must not be empty' });
      f.Values.forEach((v, i) => checkNodeId(v, `Filters.Values.${i}`));
      nodeIds = f.Values;
    }
    const { total, activities } = await this.d.store.activitiesOf(env.id, nodeIds, offset, limit);
    return { ActivitySet: activities.map(activityView), TotalCount: total };
  }

  // ------------------------------------------------------------------ change

  private notDeleting(env: EnvRecord): void {
    if (env.nextAction === 'DELETING') {
      throw apiError('UnsupportedOperation.ComputeEnvAcceptOtherRequest', { envId: env.id });
    }
  }

  modify(c: Caller, req: RequestOf<'ModifyComputeEnv'>): Promise<ResponseOf<'ModifyComputeEnv'>> {
    return this.serially(() => this.modifyNow(c, req));
  }

  private async modifyNow(c: Caller, req: RequestOf<'ModifyComputeEnv'>): Promise<ResponseOf<'ModifyComputeEnv'>> {
    const env = await this.mustEnv(c, req.EnvId, 'ModifyComputeEnv');
    this.notDeleting(env);
    if (req.EnvName !== undefined) {
      if (req.EnvName.trim() === '') throw apiError('InvalidParameterValue', { param: 'EnvName', problem: 'must not be empty' });
      maxLen(req.EnvName, MAX_ENV_NAME, 'InvalidParameter.EnvNameTooLong', 'EnvName');
    }
    maxLen(req.EnvDescription, MAX_ENV_DESCRIPTION, 'InvalidParameter.EnvDescriptionTooLong', 'EnvDescription');
    if (req.DesiredComputeNodeCount !== undefined) checkDesired(req.DesiredComputeNodeCount, 'DesiredComputeNodeCount');
    let info = env.info;
    if (req.EnvData !== undefined) {
      const types = req.EnvData.InstanceTypes;
      if (types.length === 0) throw apiError('InvalidParameterValue.InstanceTypesEmpty', { param: 'EnvData.InstanceTypes' });
      if (types.length > 10) throw apiError('InvalidParameterValue.LimitExceeded', { param: 'EnvData.InstanceTypes', problem: `has ${types.length} entries; at most 10 are allowed` });
      types.forEach((t, i) => {
        if (types.indexOf(t) !== i) throw apiError('InvalidParameterValue.InstanceTypeDuplicate', { param: 'EnvData.InstanceTypes', type: t });
        this.checkInstanceType(t, `EnvData.InstanceTypes.${i}`);
      });
      const ed: EnvDataInput = { ...storedComputeEnv(env).EnvData };
      delete ed.InstanceType;
      ed.InstanceTypes = types;
      info = withEnvData(info, ed);
    }
    const now = this.d.clock.now();
    const updated: EnvRecord = { ...env, info, name: req.EnvName ?? env.name, description: req.EnvDescription ?? env.description };
    const nodes: NodeRecord[] = [];
    const activities: ActivityRecord[] = [];
    if (req.DesiredComputeNodeCount !== undefined && req.DesiredComputeNodeCount !== env.desired) {
      const from = env.desired, to = req.DesiredComputeNodeCount;
      updated.desired = to;
      if (to > from) {
        const cause = `ModifyComputeEnv: increase the capacity from ${from} to ${to}`;
        for (let i = from; i < to; i++) {
          const n = this.newNode(env.id, this.typeOf(updated), 'BATCH_CREATED', now);
          nodes.push(n);
          activities.push(activity(env.id, n, 'CREATE_COMPUTE_NODE', cause, now));
        }
      } else {
        // scale in: idle nodes go first; busy ones finish their instance before they go (never killed)
        const cause = `ModifyComputeEnv: decrease the capacity from ${from} to ${to}`;
        const candidates = (await this.d.store.nodesOf(env.id)).filter((n) => n.origin === 'BATCH_CREATED' && n.state !== 'DELETING');
        if (candidates.length < from - to) {
          throw apiError('UnsupportedOperation.NotEnoughComputeNodesToTerminate', { envId: env.id, available: candidates.length, asked: from - to });
        }
        const busy = await this.d.view.busyNodes();
        candidates.sort((a, b) => Number(busy.has(a.instanceId)) - Number(busy.has(b.instanceId)));
        for (const n of candidates.slice(0, from - to)) {
          nodes.push({ ...n, state: 'DELETING' });
          activities.push(activity(env.id, n, 'TERMINATE_COMPUTE_NODE', cause, now));
        }
      }
    }
    this.checkCapacity(nodes.filter((n) => n.state === 'CREATING'), 'ModifyComputeEnv');
    await this.d.store.applyEnvBatch({ envs: [updated], nodes, activities, events: nodeEvents(updated, nodes, now, await this.watchers(env, nodes)) });
    await this.d.commands.send({ kind: 'env-changed', envId: env.id });
    return {};
  }

  async delete(c: Caller, req: RequestOf<'DeleteComputeEnv'>): Promise<ResponseOf<'DeleteComputeEnv'>> {
    const env = await this.mustEnv(c, req.EnvId, 'DeleteComputeEnv');
    if (env.nextAction === 'DELETING') {
      throw apiError('UnsupportedOperation.AcceptOtherRequest', { envId: env.id });
    }
    const nodes = await this.d.store.nodesOf(env.id);
    const attached = nodes.filter((n) => n.origin === 'USER_ATTACHED');
    if (attached.length > 0) {
      throw apiError('UnsupportedOperation.ComputeEnvOperation', { envId: env.id, instanceIds: attached.map((n) => n.instanceId).join(', ') });
    }
    const now = this.d.clock.now();
    const deleting = nodes.filter((n) => n.state !== 'DELETING').map((n) => ({ ...n, state: 'DELETING' }));
    await this.d.store.applyEnvBatch({
      envs: [{ ...env, nextAction: 'DELETING' }],
      nodes: deleting,
      activities: deleting.map((n) => activity(env.id, n, 'TERMINATE_COMPUTE_NODE', 'DeleteComputeEnv', now)),
      events: [envEvent(env, 'DELETING', now), ...nodeEvents(env, deleting, now, await this.watchers(env, deleting))],
    });
    await this.d.commands.send({ kind: 'env-changed', envId: env.id });
    return {};
  }

  attach(c: Caller, req: RequestOf<'AttachInstances'>): Promise<ResponseOf<'AttachInstances'>> {
    return this.serially(() => this.attachNow(c, req));
  }

  private async attachNow(c: Caller, req: RequestOf<'AttachInstances'>): Promise<ResponseOf<'AttachInstances'>> {
    const env = await this.mustEnv(c, req.EnvId, 'AttachInstances');
    this.notDeleting(env);
    const list = req.Instances;
    if (list.length === 0) throw apiError('InvalidParameterValue', { param: 'Instances', problem: 'must name at least one instance' });
    if (list.length > 100) throw apiError('InvalidParameterValue.LimitExceeded', { param: 'Instances', problem: `has ${list.length} entries; at most 100 are allowed` });
    const ids = list.map((i) => i.InstanceId);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) throw apiError('InvalidParameterValue.InstanceIdDuplicated', { param: 'Instances', id });
    });
    const now = this.d.clock.now();
    const nodes: NodeRecord[] = [];
    for (const [i, id] of ids.entries()) {
      const declared = this.d.attachable.find((a) => a.InstanceId === id);
      if (!declared) {
        throw apiError('UnsupportedOperation.InstancesNotAllowToAttach', { param: `Instances.${i}.InstanceId`, instanceId: id, problem: 'is not an instance this OpenBatch server can attach (the operator declares them as attachableInstances in the config file)' });
      }
      const existing = await this.d.store.nodeByInstanceId(id);
      if (existing) {
        throw apiError('UnsupportedOperation.InstancesNotAllowToAttach', { param: `Instances.${i}.InstanceId`, instanceId: id, problem: `is already a compute node of ${existing.envId}` });
      }
      nodes.push(this.newNode(env.id, declared.InstanceType, 'USER_ATTACHED', now, id));
    }
    // COMPAT: attached instances run on this host too, so they count against its capacity
    this.checkCapacity(nodes, 'AttachInstances');
    await this.d.store.applyEnvBatch({
      nodes, activities: nodes.map((n) => activity(env.id, n, 'CREATE_COMPUTE_NODE', 'AttachInstances', now)), events: nodeEvents(env, nodes, now, await this.watchers(env, nodes)),
    });
    await this.d.commands.send({ kind: 'env-changed', envId: env.id });
    return {};
  }

  async detach(c: Caller, req: RequestOf<'DetachInstances'>): Promise<ResponseOf<'DetachInstances'>> {
    const env = await this.mustEnv(c, req.EnvId, 'DetachInstances');
    const ids = req.InstanceIds;
    if (ids.length === 0) throw apiError('InvalidParameterValue', { param: 'InstanceIds', problem: 'must name at least one instance' });
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) throw apiError('InvalidParameterValue.InstanceIdDuplicated', { param: 'InstanceIds', id });
    });
    const nodes = await this.d.store.nodesOf(env.id);
    const chosen = ids.map((id, i) => {
      const n = nodes.find((x) => x.instanceId === id);
      if (!n) throw apiError('UnsupportedOperation', { detail: `InstanceIds.${i} ${id} is not attached to ${env.id}.` });
      if (n.origin !== 'USER_ATTACHED') throw apiError('UnsupportedOperation', { detail: `InstanceIds.${i} ${id} was created by Batch and cannot be detached; use TerminateComputeNode or ModifyComputeEnv.` });
      return n;
    });
    const now = this.d.clock.now();
    const going = chosen.filter((n) => n.state !== 'DELETING').map((n) => ({ ...n, state: 'DELETING' }));
    await this.d.store.applyEnvBatch({
      nodes: going,
      activities: going.map((n) => activity(env.id, n, 'TERMINATE_COMPUTE_NODE', 'DetachInstances', now)),
      events: nodeEvents(env, going, now, await this.watchers(env, going)),
    });
    await this.d.commands.send({ kind: 'env-changed', envId: env.id });
    return {};
  }

  terminateNode(c: Caller, req: RequestOf<'TerminateComputeNode'>): Promise<ResponseOf<'TerminateComputeNode'>> {
    return this.terminate(c, req.EnvId, [req.ComputeNodeId], 'ComputeNodeId', 'TerminateComputeNode');
  }

  terminateNodes(c: Caller, req: RequestOf<'TerminateComputeNodes'>): Promise<ResponseOf<'TerminateComputeNodes'>> {
    return this.terminate(c, req.EnvId, req.ComputeNodeIds, 'ComputeNodeIds', 'TerminateComputeNodes');
  }

  /** TerminateComputeNode(s): `param` names the ids in messages, `cause` starts each activity's Cause. */
  private async terminate(c: Caller, envId: string, nodeIds: string[], param: string, cause: string): Promise<ResponseOf<'TerminateComputeNodes'>> {
    nodeIds.forEach((id, i) => checkNodeId(id, nodeIds.length > 1 || param.endsWith('s') ? `${param}.${i}` : param));
    const env = await this.mustEnv(c, envId, cause);
    this.notDeleting(env);
    if (nodeIds.length > 100) throw apiError('InvalidParameterValue.LimitExceeded', { param: param, problem: `has ${nodeIds.length} entries; at most 100 are allowed` });
    nodeIds.forEach((id, i) => {
      if (nodeIds.indexOf(id) !== i) throw apiError('UnsupportedOperation', { detail: `${param} lists ${id} twice.` });
    });
    const nodes = await this.d.store.nodesOf(env.id);
    const chosen = nodeIds.map((id) => {
      const n = nodes.find((x) => x.id === id);
      if (!n) throw apiError('ResourceNotFound.ComputeNode', { nodeId: id, envId: env.id });
      if (n.state === 'DELETING') throw apiError('UnsupportedOperation.ComputeNodeIsTerminating', { nodeId: id });
      if (n.origin === 'USER_ATTACHED') throw apiError('UnsupportedOperation.ComputeNodeForbidTerminate', { nodeId: id, problem: 'is an attached instance; use DetachInstances' });
      if (!TERMINABLE.includes(n.state)) throw apiError('UnsupportedOperation.ComputeNodeForbidTerminate', { nodeId: id, problem: `is ${n.state}; only ${TERMINABLE.join(', ')} nodes can be terminated` });
      return n;
    });
    const now = this.d.clock.now();
    // the terminated nodes are not re-created: the desired count goes down with them
    const going = chosen.map((n) => ({ ...n, state: 'DELETING' }));
    await this.d.store.applyEnvBatch({
      envs: [{ ...env, desired: Math.max(0, env.desired - chosen.length) }],
      nodes: going,
      activities: going.map((n) => activity(env.id, n, 'TERMINATE_COMPUTE_NODE', `${cause} ${n.id}`, now)),
      events: nodeEvents(env, going, now, await this.watchers(env, going)),
    });
    for (const n of chosen) await this.d.commands.send({ kind: 'terminate-node', envId: env.id, instanceId: n.instanceId });
    await this.d.commands.send({ kind: 'env-changed', envId: env.id });
    return {};
  }
}

function checkDesired(n: number, param: string): void {
  if (n < 0) throw apiError('InvalidParameterValue.Negative', { param: param, problem: `must not be negative; got ${n}` });
  if (n > MAX_NODES) throw apiError('InvalidParameterValue.LimitExceeded', { param: param, problem: `must be at most ${MAX_NODES}; got ${n}` });
}

function nodeMetrics(nodes: NodeRecord[]): ComputeNodeMetrics {
  return metricsOf(nodes.map((n) => n.state));
}

function activityView(a: ActivityRecord): Activity {
  return {
    ActivityId: a.id,
    ComputeNodeId: a.nodeId,
    ComputeNodeActivityType: a.type,
    EnvId: a.envId,
    Cause: a.cause,
    ActivityState: a.state,
    StateReason: a.reason,
    StartTime: isoSeconds(a.startTime),
    EndTime: a.endTime === null ? null : isoSeconds(a.endTime),
    InstanceId: a.instanceId,
  };
}
