// Records for the Store contract: jobs, tasks, instances, envs, nodes, activities, templates, samples.
// Each call makes new ids, so tests never collide within one store.
import { zeroCounts, type State } from '../../src/domain/states.ts';
import type {
  ActivityRecord, EnvRecord, InstanceRecord, NewJobRecord, NodeRecord, SampleRecord, Store, TaskRecord, TemplateRecord,
} from '../../src/store/types.ts';

export interface StoreFactory {
  /** A fresh, empty store. */
  create(): Promise<Store>;
  /** The same store opened again (after close), when the backend can do that; else undefined. */
  reopen?(s: Store): Promise<Store>;
}

let n = 0;
const next = () => String(++n).padStart(8, '0');

export function job(over: Partial<NewJobRecord> = {}): NewJobRecord {
  const id = next();
  return {
    id: `job-${id}`, account: 'acc-a', region: 'ap-guangzhou', name: `job ${id}`, description: '',
    priority: 0, zone: 'ap-guangzhou-2', state: 'SUBMITTED', stateReason: '', nextAction: '', createTime: 1000 + n,
    endTime: null, clientToken: null, tags: [],
    spec: { placement: { Zone: 'ap-guangzhou-2' }, dependences: [], dependOn: 'PRE_TASK_SUCCEED', job: {} },
    ...over,
  };
}

export function task(jobId: string, name = 'A', num = 10, over: Partial<TaskRecord> = {}): TaskRecord {
  const counts = zeroCounts();
  counts.SUBMITTED = num;
  return {
    jobId, name, ord: 0, spec: { TaskName: name, TaskInstanceNum: num }, instanceNum: num, state: 'SUBMITTED',
    createTime: 1000, endTime: null, counts, cursor: 0,
    wait: { state: 'SUBMITTED', reason: 'Submitted', detail: '', endTime: null },
    ...over,
  };
}

export function inst(jobId: string, index: number, state: State, taskName = 'A'): InstanceRecord {
  return {
    jobId, taskName, index, state, attempt: 1, retryBase: 0, exitCode: state === 'SUCCEED' ? 0 : null, stateReason: '',
    stateDetail: '', nodeId: null, createTime: 1000, launchTime: 1001, runningTime: 1002,
    endTime: state === 'SUCCEED' ? 1003 : null, handle: state === 'RUNNING' ? { pid: 42 } : null,
  };
}

export function env(over: Partial<EnvRecord> = {}): EnvRecord {
  const id = next();
  return {
    id: `env-${id}`, account: 'acc-a', region: 'ap-guangzhou', name: `env ${id}`, description: '', zone: 'ap-guangzhou-2',
    info: { ComputeEnv: { EnvName: `env ${id}`, EnvData: { InstanceType: 'S1.SMALL1' } }, Placement: { Zone: 'ap-guangzhou-2', ProjectId: 0 } },
    desired: 0, nextAction: '', createTime: 2000 + n, tags: [], clientToken: null,
    ...over,
  };
}

export function node(envId: string, over: Partial<NodeRecord> = {}): NodeRecord {
  const id = next();
  return {
    id: `node-${id}`, envId, instanceId: `ins-${id}`, instanceType: 'S1.SMALL1', state: 'CREATING', cpu: 1, mem: 1,
    origin: 'BATCH_CREATED', createdTime: 3000 + n, ...over,
  };
}

export function activity(n: NodeRecord, over: Partial<ActivityRecord> = {}): ActivityRecord {
  return {
    id: `act-${next()}`, envId: n.envId, nodeId: n.id, type: 'CREATE_COMPUTE_NODE', cause: 'test', state: 'PROCESSING',
    reason: '', startTime: 4000 + n.createdTime, endTime: null, instanceId: n.instanceId, ...over,
  };
}

export function template(over: Partial<TemplateRecord> = {}): TemplateRecord {
  const id = next();
  return {
    id: `tpl-${id}`, account: 'acc-a', region: 'ap-guangzhou', name: `tpl ${id}`, description: '',
    info: { TaskName: 'A', Application: { DeliveryForm: 'LOCAL', Command: 'true' } }, createTime: 5000 + n, tags: [],
    ...over,
  };
}

export function sample(jobId: string, ts: number, over: Partial<SampleRecord> = {}): SampleRecord {
  return { jobId, taskName: 'A', index: 0, attempt: 1, ts, cpu: 10, mem: 20, disk: 30, ...over };
}

/** Wait until `cond` holds (a backend may deliver wake-ups asynchronously), then a little longer. */
export async function settle(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30));
}
