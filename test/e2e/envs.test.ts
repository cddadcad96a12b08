// Named compute environments through the official SDK: nodes, activities, capacity-aware scheduling
// (an env of N nodes never runs more than N instances), scaling, terminating busy nodes, attach and
// detach of operator-declared instances, deletion, every error path.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, sharedDir, simpleJob, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;
const scratch = sharedDir('openbatch-envs-');
const ATTACHABLE = ['ins-attach01', 'ins-attach02'];

beforeAll(async () => {
  const dataDir = tempDir();
  const cfg = path.join(dataDir, 'config.json');
  fs.writeFileSync(cfg, JSON.stringify({ attachableInstances: ATTACHABLE.map((InstanceId) => ({ InstanceId, InstanceType: 'S5.LARGE8' })) }));
  srv = await startServer({ dataDir, args: ['--config', cfg] });
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});

const code = async (p: Promise<unknown>) => (await errorOf(p)).code;

function envReq(count: number, over: Record<string, unknown> = {}) {
  return {
    ComputeEnv: {
      EnvName: 'pool', EnvType: 'MANAGED', DesiredComputeNodeCount: count,
      EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' },
      Authentications: [{ Scene: 'COS', SecretId: 'AKIDsecretvalue12345678', SecretKey: 'secretkeysecretkey1234' }],
      Tags: [{ Key: 'team', Value: 'hpc' }],
      ...over,
    },
    Placement: { Zone: 'ap-guangzhou-3' },
  };
}

function envJob(envId: string, command: string, num: number) {
  const j = simpleJob(command, { TaskInstanceNum: num, ComputeEnv: undefined, EnvId: envId });
  return j;
}

/** Max number of overlapping runs recorded as start/end lines in a file. */
function maxOverlap(file: string): number {
  let cur = 0, max = 0;
  for (const line of fs.readFileSync(file, 'utf8').trim().split('\n')) {
    cur += line.startsWith('start') ? 1 : -1;
    max = Math.max(max, cur);
  }
  return max;
}

describe('compute environments', () => {
  it('creates an env of N running nodes with activities, and describes it every way', async () => {
    const { EnvId } = await c.CreateComputeEnv!(envReq(2));
    expect(EnvId).toMatch(/^env-[a-z0-9]{8}$/);
    const d = await waitFor(async () => {
      const r = await c.DescribeComputeEnv!({ EnvId });
      return r.ComputeNodeMetrics.RunningCount === 2 ? r : undefined;
    }, 'nodes running');
    expect(d).toMatchObject({
      EnvId, EnvName: 'pool', EnvType: 'MANAGED', ResourceType: 'CVM', NextAction: '', DesiredComputeNodeCount: 2,
      AttachedComputeNodeCount: 0, Tags: [{ Key: 'team', Value: 'hpc' }], Placement: { Zone: 'ap-guangzhou-3', ProjectId: 0 },
      ComputeNodeMetrics: { SubmittedCount: 0, CreatingCount: 0, CreationFailedCount: 0, CreatedCount: 0, RunningCount: 2, DeletingCount: 0, AbnormalCount: 0 },
    });
    expect(d.ComputeNodeSet).toHaveLength(2);
    for (const n of d.ComputeNodeSet) {
      expect(n.ComputeNodeId).toMatch(/^node-[a-z0-9]{8}$/);
      expect(n.ComputeNodeInstanceId).toMatch(/^ins-[a-z0-9]{8}$/);
      expect(n).toMatchObject({ ComputeNodeState: 'RUNNING', Cpu: 1, Mem: 1, TaskInstanceNumAvailable: 1, ResourceType: 'CVM', ResourceOrigin: 'BATCH_CREATED' });
      expect(Object.keys(n).sort()).toEqual(['AgentVersion', 'ComputeNodeId', 'ComputeNodeInstanceId', 'ComputeNodeState', 'Cpu', 'Mem', 'PrivateIpAddresses', 'PublicIpAddresses', 'ResourceCreatedTime', 'ResourceOrigin', 'ResourceType', 'TaskInstanceNumAvailable']);
    }
    const acts = await c.DescribeComputeEnvActivities!({ EnvId });
    expect(acts.TotalCount).toBe(2);
    for (const a of acts.ActivitySet) {
      expect(a).toMatchObject({ EnvId, ComputeNodeActivityType: 'CREATE_COMPUTE_NODE', ActivityState: 'SUCCEED', Cause: 'CreateComputeEnv: the capacity is 2' });
      expect(a.EndTime).toMatch(/Z$/);
    }
    const one = await c.DescribeComputeEnvActivities!({ EnvId, Filters: { Name: 'compute-node-id', Values: [d.ComputeNodeSet[0].ComputeNodeId] } });
    expect(one.TotalCount).toBe(1);
    const list = await c.DescribeComputeEnvs!({ EnvIds: [EnvId] });
    expect(list.TotalCount).toBe(1);
    expect(list.ComputeEnvSet[0]).toMatchObject({ EnvId, EnvName: 'pool', DesiredComputeNodeCount: 2, ResourceType: 'CVM', EnvType: 'MANAGED' });
    const byTag = await c.DescribeComputeEnvs!({ Filters: [{ Name: 'tag:team', Values: ['hpc'] }, { Name: 'env-id', Values: [EnvId] }] });
    expect(byTag.TotalCount).toBe(1);
    expect((await c.DescribeComputeEnvs!({ Filters: [{ Name: 'resource-type', Values: ['CPM'] }] })).TotalCount).toBe(0);
    const info = await c.DescribeComputeEnvCreateInfo!({ EnvId });
    expect(info).toMatchObject({ EnvId, EnvName: 'pool', EnvType: 'MANAGED', DesiredComputeNodeCount: 2, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } });
    expect(info.Authentications[0].SecretKey).toMatch(/\*/);
    expect(info.Authentications[0].SecretKey).not.toContain('secretkeysecret');
    const infos = await c.DescribeComputeEnvCreateInfos!({ Filters: [{ Name: 'env-name', Values: ['pool'] }] });
    expect(infos.ComputeEnvCreateInfoSet.map((x: { EnvId: string }) => x.EnvId)).toContain(EnvId);
  });

  it('never runs more instances than the env has nodes, names the node, and scaling changes throughput', async () => {
    const { EnvId } = await c.CreateComputeEnv!(envReq(2));
    const log = path.join(scratch, 'cap.log');
    const go = path.join(scratch, 'cap.go');
    const cmd = `echo start >> ${log}; while [ ! -f ${go} ]; do sleep 0.05; done; echo end >> ${log}`;
    const { JobId } = await c.SubmitJob!(envJob(EnvId, cmd, 6));
    const waiting = await waitFor(async () => {
      const t = await c.DescribeTask!({ JobId, TaskName: 'A' });
      return t.TaskInstanceMetrics.RunningCount === 2 ? t : undefined;
    }, 'two running on two nodes');
    const runnable = waiting.TaskInstanceSet.find((i: { TaskInstanceState: string }) => i.TaskInstanceState === 'RUNNABLE');
    expect(runnable.StateReason).toBe('WaitingForComputeNode');
    expect(runnable.StateDetailedReason).toContain('busy');
    const running = waiting.TaskInstanceSet.filter((i: { TaskInstanceState: string }) => i.TaskInstanceState === 'RUNNING');
    const env = await c.DescribeComputeEnv!({ EnvId });
    const nodeIds = env.ComputeNodeSet.map((n: { ComputeNodeInstanceId: string }) => n.ComputeNodeInstanceId);
    expect(running.map((i: { ComputeNodeInstanceId: string }) => i.ComputeNodeInstanceId).sort()).toEqual([...nodeIds].sort());
    expect(env.ComputeNodeSet.every((n: { TaskInstanceNumAvailable: number }) => n.TaskInstanceNumAvailable === 0)).toBe(true);
    // scale out: the third node takes a third instance
    await c.ModifyComputeEnv!({ EnvId, DesiredComputeNodeCount: 3 });
    await waitFor(async () => (await c.DescribeTask!({ JobId, TaskName: 'A' })).TaskInstanceMetrics.RunningCount === 3, 'three running after scale-out');
    const acts = await c.DescribeComputeEnvActivities!({ EnvId });
    expect(acts.ActivitySet.some((a: { Cause: string }) => a.Cause === 'ModifyComputeEnv: increase the capacity from 2 to 3')).toBe(true);
    fs.writeFileSync(go, '');
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('SUCCEED');
    expect(maxOverlap(log)).toBe(3);
    const done = await c.DescribeTask!({ JobId, TaskName: 'A' });
    for (const i of done.TaskInstanceSet) expect(nodeIds.concat((await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet.map((n: { ComputeNodeInstanceId: string }) => n.ComputeNodeInstanceId))).toContain(i.ComputeNodeInstanceId);
  });

  it('scales in without killing busy nodes: they go once their instance ends', async () => {
    const { EnvId } = await c.CreateComputeEnv!(envReq(2));
    const go = path.join(scratch, 'scalein.go');
    const { JobId } = await c.SubmitJob!(envJob(EnvId, `while [ ! -f ${go} ]; do sleep 0.05; done`, 1));
    await waitFor(async () => (await c.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 1, 'running');
    await c.ModifyComputeEnv!({ EnvId, DesiredComputeNodeCount: 0 });
    const d = await waitFor(async () => {
      const r = await c.DescribeComputeEnv!({ EnvId });
      return r.ComputeNodeSet.length === 1 ? r : undefined;
    }, 'the idle node to go');
    expect(d.DesiredComputeNodeCount).toBe(0);
    expect(d.ComputeNodeSet[0].ComputeNodeState).toBe('DELETING');
    expect(d.ComputeNodeMetrics.DeletingCount).toBe(1);
    expect((await c.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount).toBe(1); // still running
    fs.writeFileSync(go, '');
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
    await waitFor(async () => (await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet.length === 0, 'the busy node to go after its instance');
    const acts = await c.DescribeComputeEnvActivities!({ EnvId });
    expect(acts.ActivitySet.filter((a: { ComputeNodeActivityType: string; ActivityState: string }) => a.ComputeNodeActivityType === 'TERMINATE_COMPUTE_NODE' && a.ActivityState === 'SUCCEED')).toHaveLength(2);
  });

  it('terminating a busy node re-runs its instance on another node', async () => {
    const { EnvId } = await c.CreateComputeEnv!(envReq(2));
    const marks = path.join(scratch, 'term.runs');
    const go = path.join(scratch, 'term.go');
    const { JobId } = await c.SubmitJob!(envJob(EnvId, `echo run >> ${marks}; while [ ! -f ${go} ]; do sleep 0.05; done`, 1));
    const t = await waitFor(async () => {
      const r = await c.DescribeTask!({ JobId, TaskName: 'A' });
      return r.TaskInstanceMetrics.RunningCount === 1 ? r : undefined;
    }, 'running');
    const insId = t.TaskInstanceSet[0].ComputeNodeInstanceId;
    const node = (await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet.find((n: { ComputeNodeInstanceId: string }) => n.ComputeNodeInstanceId === insId);
    await c.TerminateComputeNode!({ EnvId, ComputeNodeId: node.ComputeNodeId });
    const again = await waitFor(async () => {
      const r = await c.DescribeTask!({ JobId, TaskName: 'A' });
      const i = r.TaskInstanceSet[0];
      return i.TaskInstanceState === 'RUNNING' && i.ComputeNodeInstanceId !== insId ? i : undefined;
    }, 'the instance to run on the other node');
    expect(again.ComputeNodeInstanceId).not.toBe(insId);
    fs.writeFileSync(go, '');
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
    expect(fs.readFileSync(marks, 'utf8').trim().split('\n')).toHaveLength(2);
    const env = await c.DescribeComputeEnv!({ EnvId });
    expect(env.DesiredComputeNodeCount).toBe(1);
    expect(env.ComputeNodeSet.map((n: { ComputeNodeId: string }) => n.ComputeNodeId)).not.toContain(node.ComputeNodeId);
  });

  it('attaches and detaches operator-declared instances', async () => {
    const { EnvId } = await c.CreateComputeEnv!(envReq(0));
    await c.AttachInstances!({ EnvId, Instances: [{ InstanceId: ATTACHABLE[0] }] });
    const d = await waitFor(async () => {
      const r = await c.DescribeComputeEnv!({ EnvId });
      return r.ComputeNodeMetrics.RunningCount === 1 ? r : undefined;
    }, 'attached node running');
    expect(d.AttachedComputeNodeCount).toBe(1);
    expect(d.ComputeNodeSet[0]).toMatchObject({ ComputeNodeInstanceId: ATTACHABLE[0], ResourceOrigin: 'USER_ATTACHED', Cpu: 4, Mem: 8 });
    // it runs tasks like any node
    const { JobId } = await c.SubmitJob!(envJob(EnvId, 'echo on attached', 1));
    const t = await c.DescribeTask!({ JobId, TaskName: 'A' }).then(async () => {
      await waitJobDone(c, JobId);
      return c.DescribeTask!({ JobId, TaskName: 'A' });
    });
    expect(t.TaskInstanceSet[0].ComputeNodeInstanceId).toBe(ATTACHABLE[0]);
    expect(await code(c.AttachInstances!({ EnvId, Instances: [{ InstanceId: ATTACHABLE[0] }] }))).toBe('UnsupportedOperation.InstancesNotAllowToAttach');
    expect(await code(c.AttachInstances!({ EnvId, Instances: [{ InstanceId: 'ins-unknown1' }] }))).toBe('UnsupportedOperation.InstancesNotAllowToAttach');
    expect(await code(c.AttachInstances!({ EnvId, Instances: [{ InstanceId: ATTACHABLE[1] }, { InstanceId: ATTACHABLE[1] }] }))).toBe('InvalidParameterValue.InstanceIdDuplicated');
    expect(await code(c.TerminateComputeNode!({ EnvId, ComputeNodeId: d.ComputeNodeSet[0].ComputeNodeId }))).toBe('UnsupportedOperation.ComputeNodeForbidTerminate');
    expect(await code(c.DeleteComputeEnv!({ EnvId }))).toBe('UnsupportedOperation.ComputeEnvOperation');
    await c.DetachInstances!({ EnvId, InstanceIds: [ATTACHABLE[0]] });
    await waitFor(async () => (await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet.length === 0, 'detached');
    await c.DeleteComputeEnv!({ EnvId });
  });

  it('deletes an env: waiting instances fail, then the env is gone', async () => {
    const { EnvId } = await c.CreateComputeEnv!(envReq(0));
    const { JobId } = await c.SubmitJob!(envJob(EnvId, 'true', 2));
    await waitFor(async () => (await c.DescribeJob!({ JobId })).JobState === 'RUNNABLE', 'waiting for a node');
    await c.DeleteComputeEnv!({ EnvId });
    const job = await waitJobDone(c, JobId);
    expect(job.JobState).toBe('FAILED');
    const t = await c.DescribeTask!({ JobId, TaskName: 'A' });
    expect(t.TaskInstanceSet[0].StateReason).toBe('ComputeEnvDeleted');
    expect(await code(c.DescribeComputeEnv!({ EnvId }))).toBe('ResourceNotFound.ComputeEnv');
    expect(await code(c.SubmitJob!(envJob(EnvId, 'true', 1)))).toBe('ResourceNotFound.ComputeEnv');
  });

  it('answers the error codes of the env actions', async () => {
    const { EnvId } = await c.CreateComputeEnv!(envReq(1));
    await waitFor(async () => (await c.DescribeComputeEnv!({ EnvId })).ComputeNodeMetrics.RunningCount === 1, 'up');
    const nodeId = (await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet[0].ComputeNodeId;
    expect(await code(c.DescribeComputeEnv!({ EnvId: 'env_1' }))).toBe('InvalidParameter.EnvIdMalformed');
    expect(await code(c.DescribeComputeEnv!({ EnvId: 'env-zzzzzzzz' }))).toBe('ResourceNotFound.ComputeEnv');
    expect(await code(c.CreateComputeEnv!(envReq(2001)))).toBe('InvalidParameterValue.LimitExceeded');
    expect(await code(c.CreateComputeEnv!(envReq(1, { EnvName: 'x'.repeat(61) })))).toBe('InvalidParameter.EnvNameTooLong');
    expect(await code(c.CreateComputeEnv!(envReq(1, { EnvDescription: 'x'.repeat(201) })))).toBe('InvalidParameter.EnvDescriptionTooLong');
    expect(await code(c.CreateComputeEnv!(envReq(1, { EnvData: { InstanceType: 'NOPE.HUGE' } })))).toBe('InvalidParameterValue.InstanceType');
    expect(await code(c.CreateComputeEnv!(envReq(1, { EnvData: { ImageId: 'img-bd78fy2t' } })))).toBe('InvalidParameterValue.ComputeEnv');
    expect(await code(c.CreateComputeEnv!(envReq(1, { EnvType: 'THPC_QUEUE' })))).toBe('UnsupportedOperation');
    expect(await code(c.CreateComputeEnv!({ ...envReq(1), Placement: { Zone: 'ap-beijing-1' } }))).toBe('InvalidParameterValue.InvalidZoneMismatchRegion');
    expect(await code(c.ModifyComputeEnv!({ EnvId, EnvData: { InstanceTypes: [] } }))).toBe('InvalidParameterValue.InstanceTypesEmpty');
    expect(await code(c.ModifyComputeEnv!({ EnvId, EnvData: { InstanceTypes: ['S1.SMALL1', 'S1.SMALL1'] } }))).toBe('InvalidParameterValue.InstanceTypeDuplicate');
    expect(await code(c.ModifyComputeEnv!({ EnvId, DesiredComputeNodeCount: 2001 }))).toBe('InvalidParameterValue.LimitExceeded');
    expect(await code(c.TerminateComputeNode!({ EnvId, ComputeNodeId: 'node_1' }))).toBe('InvalidParameter.ComputeNodeIdMalformed');
    expect(await code(c.TerminateComputeNode!({ EnvId, ComputeNodeId: 'node-zzzzzzzz' }))).toBe('ResourceNotFound.ComputeNode');
    expect(await code(c.TerminateComputeNodes!({ EnvId, ComputeNodeIds: [nodeId, nodeId] }))).toBe('UnsupportedOperation');
    expect(await code(c.DetachInstances!({ EnvId, InstanceIds: ['ins-zzzzzzzz'] }))).toBe('UnsupportedOperation');
    expect(await code(c.DescribeComputeEnvActivities!({ EnvId, Filters: { Name: 'compute-node-id', Values: ['bad'] } }))).toBe('InvalidParameter.ComputeNodeIdMalformed');
    expect(await code(c.DescribeComputeEnvs!({ EnvIds: [EnvId], Filters: [{ Name: 'zone', Values: ['ap-guangzhou-3'] }] }))).toBe('InvalidParameter.InvalidParameterCombination');
    expect(await code(c.DescribeComputeEnvs!({ Filters: [{ Name: 'resource-type', Values: ['GPU'] }] }))).toBe('InvalidParameterValue.ResourceType');
    expect(await code(c.DescribeComputeEnvs!({ Filters: [{ Name: 'color', Values: ['x'] }] }))).toBe('InvalidFilter');
    await c.TerminateComputeNodes!({ EnvId, ComputeNodeIds: [nodeId] });
    await c.DeleteComputeEnv!({ EnvId });
    expect(await code(c.DeleteComputeEnv!({ EnvId }).catch((e) => { throw e; }))).toMatch(/ResourceNotFound.ComputeEnv|UnsupportedOperation.AcceptOtherRequest/);
    // envs belong to an account and region
    expect(await code(srv.client({ region: 'ap-shanghai' }).DescribeComputeEnv!({ EnvId: (await c.CreateComputeEnv!(envReq(0))).EnvId }))).toBe('ResourceNotFound.ComputeEnv');
  });

  it('keeps envs, nodes and node assignments across a restart', async () => {
    const dataDir = tempDir();
    let s1 = await startServer({ dataDir });
    let c1 = s1.client();
    const { EnvId } = await c1.CreateComputeEnv!(envReq(1));
    const go = path.join(scratch, 'restart.go');
    const { JobId } = await c1.SubmitJob!(envJob(EnvId, `while [ ! -f ${go} ]; do sleep 0.05; done`, 2));
    await waitFor(async () => (await c1.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 1, 'one running');
    await s1.kill9();
    s1 = await startServer({ dataDir });
    c1 = s1.client();
    // which node is busy is the leading scheduler's to say: on a shared store the restarted server
    // leads once the lease of its former self ran out (docs/deploy.md)
    const s = s1;
    await waitFor(async () => ((await (await fetch(`${s.url}/healthz`)).json()) as { leading: boolean }).leading, 'the restarted server to lead');
    const d = await c1.DescribeComputeEnv!({ EnvId });
    expect(d.ComputeNodeSet).toHaveLength(1);
    expect(d.ComputeNodeSet[0].TaskInstanceNumAvailable).toBe(0); // still busy with the re-adopted attempt
    const t = await c1.DescribeTask!({ JobId, TaskName: 'A' });
    expect(t.TaskInstanceMetrics).toMatchObject({ RunningCount: 1, RunnableCount: 1 });
    fs.writeFileSync(go, '');
    expect((await waitJobDone(c1, JobId)).JobState).toBe('SUCCEED');
    await s1.stop();
  });
});
