// The event stream (GET /openbatch/v1/events) against a real server: every state change of a job in
// order with consecutive Seqs; resumed after a kill -9 and restart of the server from the last Seq
// seen with nothing missed or doubled; one job's events only with jobId; a compute environment's and its
// nodes' changes, one environment's only with envId; refusals of unsigned requests.
import { afterAll, describe, expect, it } from 'vitest';
import { Api, resolveConnection } from '../../src/cli/user/connection.ts';
import { streamEvents, type StreamEvent } from '../../src/cli/user/events.ts';
import { SECRET_ID, SECRET_KEY, simpleJob, startServer, tempDir, waitFor, waitJobDone, type TestServer } from '../helpers/spawn-server.ts';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.kill9();
});

function apiOf(srv: TestServer): Api {
  return new Api(resolveConnection({ endpoint: srv.url, secretId: SECRET_ID, secretKey: SECRET_KEY }, {}));
}

/** Reads the stream after `after` until `until` holds for what was read (or 30 s). */
async function collect(srv: TestServer, o: { after?: number; jobId?: string; envId?: string; until: (es: StreamEvent[]) => boolean }): Promise<StreamEvent[]> {
  const got: StreamEvent[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 30_000);
  const poll = setInterval(() => {
    if (o.until(got)) ac.abort();
  }, 50);
  const end = await streamEvents(apiOf(srv), { after: o.after, jobId: o.jobId, envId: o.envId, signal: ac.signal, onEvent: (e) => got.push(e) });
  clearTimeout(timer);
  clearInterval(poll);
  expect(end).toBe('aborted');
  return got;
}

const jobEnded = (jobId: string) => (es: StreamEvent[]) => es.some((e) => e.Kind === 'job' && e.JobId === jobId && (e.State === 'SUCCEED' || e.State === 'FAILED'));

describe('event stream', () => {
  it('carries every change of a job in order, with Tencent event names, and resumes after a kill -9 with nothing missed or doubled', async () => {
    const dataDir = tempDir();
    const srv = await startServer({ dataDir });
    servers.push(srv);
    const c = srv.client();
    const { JobId: first } = await c.SubmitJob!(simpleJob('[ $BATCH_TASK_INSTANCE_INDEX -ne 2 ]', { TaskInstanceNum: 3, MaxRetryCount: 1 }));
    const a = await collect(srv, { after: 0, until: jobEnded(first) });
    expect(a.map((e) => e.Seq)).toEqual(a.map((_e, i) => i + 1));
    const names = a.filter((e) => e.JobId === first).map((e) => e.EventName).filter((n) => n !== null);
    expect(names).toContain('JOB_RUNNING');
    expect(names).toContain('TASK_RUNNING');
    expect(names.at(-1)).toBe('JOB_FAILED');
    for (const i of [0, 1]) expect(a.some((e) => e.EventName === 'TASK_INSTANCE_SUCCEED' && e.TaskInstanceIndex === i)).toBe(true);
    // index 2 failed twice: attempt 1's end (it ran again), then the instance failed with attempt 2
    const tries = a.filter((e) => e.Kind === 'attempt' && e.TaskInstanceIndex === 2);
    expect(tries.map((e) => [e.Attempt, e.ExitCode, e.State])).toEqual([[1, 1, 'FAILED']]);
    expect(a.filter((e) => e.Kind === 'attempt' && e.TaskInstanceIndex !== 2)).toEqual([]);
    const failed = a.find((e) => e.EventName === 'TASK_INSTANCE_FAILED');
    expect(failed).toMatchObject({ TaskInstanceIndex: 2, Attempt: 2, ExitCode: 1 });
    const last = a.at(-1)!.Seq;

    // a job that runs across a kill -9 of the server: read up to its start, then resume on the next server
    const { JobId: second } = await c.SubmitJob!(simpleJob('sleep 2', { TaskInstanceNum: 2 }));
    const b = await collect(srv, { after: last, until: (es) => es.some((e) => e.JobId === second && e.State === 'RUNNING' && e.Kind === 'task') });
    await srv.kill9();
    const again = await startServer({ dataDir });
    servers.push(again);
    const resumeAt = b.at(-1)!.Seq;
    const rest = await collect(again, { after: resumeAt, until: jobEnded(second) });
    const all = [...a, ...b, ...rest];
    expect(all.map((e) => e.Seq)).toEqual(all.map((_e, i) => i + 1));
    const ends = all.filter((e) => e.JobId === second && e.EventName === 'TASK_INSTANCE_SUCCEED').map((e) => e.TaskInstanceIndex).sort();
    expect(ends).toEqual([0, 1]);
    expect(all.filter((e) => e.JobId === second && e.Kind === 'job').at(-1)!.EventName).toBe('JOB_SUCCEED');
    await waitJobDone(again.client(), second);

    // jobId: that job's events only, the same ones
    const only = await collect(again, { after: 0, jobId: first, until: jobEnded(first) });
    expect(only.map((e) => e.Seq)).toEqual(a.filter((e) => e.JobId === first).map((e) => e.Seq));
  }, 120_000);

  it('carries the changes of a compute environment and its nodes; envId keeps one environment\'s', async () => {
    const srv = await startServer();
    servers.push(srv);
    const c = srv.client();
    const envReq = (name: string, count: number) => ({
      ComputeEnv: { EnvName: name, EnvType: 'MANAGED', DesiredComputeNodeCount: count, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
      Placement: { Zone: 'ap-guangzhou-3' },
    });
    const running = (envId: string, n: number) => waitFor(async () => {
      const nodes = (await c.DescribeComputeEnv!({ EnvId: envId })).ComputeNodeSet as { ComputeNodeState: string }[];
      return nodes.length === n && nodes.every((x) => x.ComputeNodeState === 'RUNNING');
    }, `${n} running nodes of ${envId}`, 20_000);
    const { EnvId } = await c.CreateComputeEnv!(envReq('pool', 1));
    await running(EnvId, 1);
    await c.ModifyComputeEnv!({ EnvId, DesiredComputeNodeCount: 2 });
    await running(EnvId, 2);
    const nodeIds = ((await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet as { ComputeNodeId: string }[]).map((n) => n.ComputeNodeId).sort();
    const { EnvId: other } = await c.CreateComputeEnv!(envReq('other', 1));
    await c.DeleteComputeEnv!({ EnvId });
    const gone = (es: StreamEvent[]) => es.some((e) => e.Kind === 'env' && e.EnvId === EnvId && e.State === 'DELETED');

    const all = await collect(srv, { after: 0, until: gone });
    expect(all.map((e) => e.Seq)).toEqual(all.map((_e, i) => i + 1));
    expect(all.some((e) => e.EnvId === other)).toBe(true);
    const mine = await collect(srv, { after: 0, envId: EnvId, until: gone });
    expect(mine.map((e) => e.Seq)).toEqual(all.filter((e) => e.EnvId === EnvId).map((e) => e.Seq));
    const env = mine.filter((e) => e.Kind === 'env');
    expect(env.map((e) => [e.State, e.EventName, e.EnvName])).toEqual([['CREATED', 'COMPUTE_ENV_CREATED', 'pool'], ['DELETING', null, 'pool'], ['DELETED', 'COMPUTE_ENV_DELETED', 'pool']]);
    const nodes = mine.filter((e) => e.Kind === 'node');
    expect([...new Set(nodes.map((e) => e.ComputeNodeId))].sort()).toEqual(nodeIds);
    for (const id of nodeIds) {
      const of = nodes.filter((e) => e.ComputeNodeId === id);
      expect(of.map((e) => e.State)).toEqual(['CREATING', 'CREATED', 'RUNNING', 'DELETING', 'DELETED']);
      expect(of.map((e) => e.EventName)).toEqual([null, 'COMPUTE_NODE_CREATED', 'COMPUTE_NODE_RUNNING', 'COMPUTE_NODE_DELETING', null]);
      expect(of[0]!.ComputeNodeInstanceId).toMatch(/^ins-/);
    }
    // the env is deleted after its last node
    expect(env.at(-1)!.Seq).toBeGreaterThan(nodes.at(-1)!.Seq);
  }, 60_000);

  it('refuses an unsigned request, a bad after and a bad jobId in the API envelope', async () => {
    const srv = await startServer();
    servers.push(srv);
    const plain = await fetch(`${srv.url}/openbatch/v1/events`);
    const body = (await plain.json()) as { Response: { Error: { Code: string } } };
    expect(body.Response.Error.Code).toMatch(/^AuthFailure/);
    const api = apiOf(srv);
    for (const [q, code] of [['after=x', 'InvalidParameterValue'], ['jobId=nope', 'InvalidParameter.JobIdMalformed'], ['envId=nope', 'InvalidParameter.EnvIdMalformed']]) {
      const p = `/openbatch/v1/events?${q}`;
      const r = await fetch(`${srv.url}${p}`, { headers: api.signedGetHeaders(p, 'StreamEvents') });
      expect(((await r.json()) as { Response: { Error: { Code: string } } }).Response.Error.Code).toBe(code);
    }
    const p = '/openbatch/v1/events';
    const wrong = await fetch(`${srv.url}${p}`, { headers: api.signedGetHeaders(p, 'DescribeJobs') });
    expect(((await wrong.json()) as { Response: { Error: { Code: string } } }).Response.Error.Code).toBe('InvalidAction');
  });
});
