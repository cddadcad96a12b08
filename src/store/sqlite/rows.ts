// Rows of the SQLite store ↔ the Store's records: column names, JSON columns, NULLs. Instance rows are
// also read as arrays (INSTANCE_COLUMNS, raw mode), cheaper than objects for pages of 1000.
import type { Counts, State } from '../../domain/states.ts';
import type {
  ActivityRecord, AttemptRecord, EnvRecord, InstanceRecord, JobRecord, NewJobRecord, NodeRecord, SampleRecord,
  TaskRecord, TemplateRecord,
} from '../types.ts';
import type { Row } from './connection.ts';

export function toEnv(r: Row): EnvRecord {
  return {
    id: r.id as string, account: r.account as string, region: r.region as string, name: r.name as string,
    description: r.description as string, zone: r.zone as string, info: JSON.parse(r.info as string),
    desired: r.desired as number, nextAction: r.next_action as string, createTime: r.create_time as number,
    tags: JSON.parse(r.tags as string), clientToken: (r.client_token as string | undefined) || null,
  };
}

export function toNode(r: Row): NodeRecord {
  return {
    id: r.id as string, envId: r.env_id as string, instanceId: r.instance_id as string, instanceType: r.instance_type as string,
    state: r.state as string, cpu: r.cpu as number, mem: r.mem as number, origin: r.origin as NodeRecord['origin'],
    createdTime: r.created_time as number,
  };
}

export function toActivity(r: Row): ActivityRecord {
  return {
    id: r.id as string, envId: r.env_id as string, nodeId: r.node_id as string, type: r.type as ActivityRecord['type'],
    cause: r.cause as string, state: r.state as ActivityRecord['state'], reason: r.reason as string,
    startTime: r.start_time as number, endTime: (r.end_time as number | null) ?? null, instanceId: (r.instance_id as string | null) ?? null,
  };
}

export function toTemplate(r: Row): TemplateRecord {
  return {
    id: r.id as string,
    account: r.account as string,
    region: r.region as string,
    name: r.name as string,
    description: r.description as string,
    info: JSON.parse(r.info as string),
    createTime: r.create_time as number,
    tags: JSON.parse(r.tags as string),
  };
}

export function jobParams(j: NewJobRecord, seq: number): Row {
  return {
    ...j,
    seq,
    tags: JSON.stringify(j.tags),
    spec: JSON.stringify(j.spec),
  };
}

export function taskParams(t: TaskRecord): Row {
  return { ...taskProgressParams(t), ord: t.ord, spec: JSON.stringify(t.spec), instanceNum: t.instanceNum, createTime: t.createTime };
}

/** The columns the scheduler changes (updateTask); taskParams adds those written once, with the job. */
export function taskProgressParams(t: TaskRecord): Row {
  return {
    jobId: t.jobId,
    name: t.name,
    state: t.state,
    endTime: t.endTime,
    counts: JSON.stringify(t.counts),
    cursor: t.cursor,
    waitState: t.wait.state,
    waitReason: t.wait.reason,
    waitDetail: t.wait.detail,
    waitEndTime: t.wait.endTime,
  };
}

export function instanceParams(i: InstanceRecord): Row {
  return { ...i, handle: i.handle === null ? null : JSON.stringify(i.handle) };
}

export function toJob(r: Row): JobRecord {
  return {
    id: r.id as string,
    seq: r.seq as number,
    account: r.account as string,
    region: r.region as string,
    name: r.name as string,
    description: r.description as string,
    priority: r.priority as number,
    zone: r.zone as string,
    state: r.state as State,
    stateReason: r.state_reason as string,
    nextAction: r.next_action as string,
    createTime: r.create_time as number,
    endTime: (r.end_time as number | null) ?? null,
    clientToken: (r.client_token as string | null) ?? null,
    tags: JSON.parse(r.tags as string),
    spec: JSON.parse(r.spec as string),
  };
}

export function toTask(r: Row): TaskRecord {
  return {
    jobId: r.job_id as string,
    name: r.name as string,
    ord: r.ord as number,
    spec: JSON.parse(r.spec as string),
    instanceNum: r.instance_num as number,
    state: r.state as State,
    createTime: r.create_time as number,
    endTime: (r.end_time as number | null) ?? null,
    counts: JSON.parse(r.counts as string) as Counts,
    cursor: r.cursor as number,
    wait: {
      state: r.wait_state as State,
      reason: r.wait_reason as string,
      detail: r.wait_detail as string,
      endTime: (r.wait_end_time as number | null) ?? null,
    },
  };
}

export const INSTANCE_COLUMN_NAMES = [
  'job_id', 'task_name', 'idx', 'state', 'attempt', 'retry_base', 'exit_code', 'state_reason', 'state_detail',
  'node_id', 'create_time', 'launch_time', 'running_time', 'end_time', 'handle',
] as const;
export const INSTANCE_COLUMNS = INSTANCE_COLUMN_NAMES.join(', ');

/** An instance row read as an array of INSTANCE_COLUMNS (cheaper than objects for pages of 1000). */
export function instanceFromRaw(r: unknown[]): InstanceRecord {
  return {
    jobId: r[0] as string,
    taskName: r[1] as string,
    index: r[2] as number,
    state: r[3] as State,
    attempt: r[4] as number,
    retryBase: r[5] as number,
    exitCode: (r[6] as number | null) ?? null,
    stateReason: r[7] as string,
    stateDetail: r[8] as string,
    nodeId: (r[9] as string | null) ?? null,
    createTime: r[10] as number,
    launchTime: (r[11] as number | null) ?? null,
    runningTime: (r[12] as number | null) ?? null,
    endTime: (r[13] as number | null) ?? null,
    handle: r[14] === null || r[14] === undefined ? null : JSON.parse(r[14] as string),
  };
}

export function toInstance(r: Row): InstanceRecord {
  return instanceFromRaw(INSTANCE_COLUMN_NAMES.map((c) => r[c]));
}

export function toAttempt(r: Row): AttemptRecord {
  return {
    jobId: r.job_id as string,
    taskName: r.task_name as string,
    index: r.idx as number,
    attempt: r.attempt as number,
    launchTime: r.launch_time as number,
    runningTime: (r.running_time as number | null) ?? null,
    endTime: (r.end_time as number | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    signal: (r.signal as string | null) ?? null,
    reason: r.reason as string,
    nodeId: (r.node_id as string | null) ?? null,
  };
}

export function toSample(r: Row): SampleRecord {
  return {
    jobId: r.job_id as string, taskName: r.task_name as string, index: r.idx as number, attempt: r.attempt as number,
    ts: r.ts as number, cpu: r.cpu as number, mem: r.mem as number, disk: r.disk as number,
  };
}

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
