// Webhooks of the Notifications of SubmitJob against a real server and a local receiver: the events a
// job asked for arrive in order, Tencent-shaped with its EventVars, signed with the topic's secret;
// a receiver that fails at first gets them again until it takes them (nothing lost, in order); an
// unknown topic is refused at SubmitJob and CreateComputeEnv; a compute environment's own events and
// its nodes' reach the topics the environment asked for, and a job that runs on it gets the node events
// it asked for while it has not ended.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorOf, simpleJob, startServer, tempDir, waitFor, waitJobDone, type TestServer } from '../helpers/spawn-server.ts';

const SECRET = 'a-webhook-secret-of-the-test';
let srv: TestServer | undefined;
let receiver: http.Server | undefined;
const others: { stop: () => Promise<unknown> }[] = [];
afterAll(async () => {
  await srv?.stop();
  receiver?.close();
  for (const o of others) await o.stop();
});

interface Got { body: string; signature: string | undefined; seq: string | undefined }
interface Message { EventName: string; EventVars: { Name: string; Value: string }[]; Region: string; Batch: Record<string, unknown> }

/** A receiver that keeps every message it takes; its URL. */
async function listen(got: Got[]): Promise<string> {
  const r = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ body, signature: req.headers['x-openbatch-signature'] as string | undefined, seq: req.headers['x-openbatch-seq'] as string | undefined });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => r.listen(0, '127.0.0.1', ok));
  others.push({ stop: () => new Promise<void>((ok) => r.close(() => ok())) });
  return `http://127.0.0.1:${(r.address() as { port: number }).port}/hook`;
}

describe('notifications', () => {
  it('delivers the events a job asked for, in order and signed, retrying a receiver that fails at first', async () => {
    const got: Got[] = [];
    let refusals = 2;
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (refusals > 0) {
          refusals--;
          res.writeHead(500).end('not now');
          return;
        }
        got.push({ body, signature: req.headers['x-openbatch-signature'] as string | undefined, seq: req.headers['x-openbatch-seq'] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    const dir = tempDir();
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ notifications: { topics: { jobs: { url: `http://127.0.0.1:${port}/hook`, secret: SECRET } } } }));
    srv = await startServer({ args: ['--config', config] });
    const c = srv.client();

    expect(await errorOf(c.SubmitJob!(simpleJob('true', {}, { Notifications: [{ TopicName: 'nosuch', EventConfigs: [{ EventName: 'JOB_SUCCEED', EventVars: [] }] }] }))))
      .toMatchObject({ code: 'InvalidParameter.NotificationTopicName' });

    const { JobId } = await c.SubmitJob!(simpleJob('[ $BATCH_TASK_INSTANCE_INDEX -ne 1 ]', { TaskInstanceNum: 2 }, {
      Notifications: [{
        TopicName: 'jobs',
        EventConfigs: [
          { EventName: 'JOB_RUNNING', EventVars: [{ Name: 'who', Value: 'test' }] },
          { EventName: 'TASK_INSTANCE_FAILED', EventVars: [] },
          { EventName: 'JOB_FAILED', EventVars: [{ Name: 'severity', Value: 'high' }] },
        ],
      }],
    }));
    await waitJobDone(c, JobId);
    await waitFor(async () => got.some((g) => g.body.includes('JOB_FAILED')), 'the JOB_FAILED message', 30_000);
    for (const g of got) expect(g.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(g.body).digest('hex')}`);
    const events = got.map((g) => (JSON.parse(g.body) as { Events: { EventName: string; EventVars: unknown[]; Region: string; Batch: Record<string, unknown> }[] }).Events[0]!);
    // at least once: a retried message may come twice, never out of order
    const names = events.map((e) => e.EventName).filter((n, i, a) => i === 0 || a[i - 1] !== n);
    expect(names).toEqual(['JOB_RUNNING', 'TASK_INSTANCE_FAILED', 'JOB_FAILED']);
    const seqs = got.map((g) => Number(g.seq));
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    const first = events.find((e) => e.EventName === 'JOB_RUNNING')!;
    expect(first).toMatchObject({ Region: 'ap-guangzhou', EventVars: [{ Name: 'who', Value: 'test' }], Batch: { JobId, JobState: 'RUNNING' } });
    expect(events.find((e) => e.EventName === 'TASK_INSTANCE_FAILED')!.Batch).toMatchObject({ JobId, TaskInstanceIndex: 1, TaskInstanceState: 'FAILED', ExitCode: 1 });
    expect(events.find((e) => e.EventName === 'JOB_FAILED')!.EventVars).toEqual([{ Name: 'severity', Value: 'high' }]);
    expect(refusals).toBe(0);
    // the tries show in /metrics: the two refusals as failed, every message taken as delivered
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    const value = (outcome: string) => Number(new RegExp(`^openbatch_event_deliveries_total\\{topic="jobs",outcome="${outcome}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('failed')).toBe(2);
    expect(value('delivered')).toBe(got.length);
  }, 90_000);

  it('delivers the events of a compute environment and its nodes, and node events to the jobs on it', async () => {
    const got: Got[] = [];
    const url = await listen(got);
    const dir = tempDir();
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ notifications: { topics: { infra: { url, secret: SECRET } } } }));
    const s = await startServer({ args: ['--config', config] });
    others.push(s);
    const c = s.client();
    const envReq = (notifications: unknown[]) => ({
      ComputeEnv: {
        EnvName: 'pool', EnvType: 'MANAGED', DesiredComputeNodeCount: 1, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' },
        Notifications: notifications,
      },
      Placement: { Zone: 'ap-guangzhou-3' },
    });
    expect(await errorOf(c.CreateComputeEnv!(envReq([{ TopicName: 'nosuch', EventConfigs: [{ EventName: 'COMPUTE_ENV_CREATED', EventVars: [] }] }]))))
      .toMatchObject({ code: 'InvalidParameter.NotificationTopicName' });
    const { EnvId } = await c.CreateComputeEnv!(envReq([{
      TopicName: 'infra',
      EventConfigs: [
        { EventName: 'COMPUTE_ENV_CREATED', EventVars: [{ Name: 'pool', Value: 'main' }] },
        { EventName: 'COMPUTE_NODE_RUNNING', EventVars: [] },
        { EventName: 'COMPUTE_NODE_DELETING', EventVars: [] },
        { EventName: 'COMPUTE_ENV_DELETED', EventVars: [] },
      ],
    }]));
    const running = (n: number) => waitFor(async () => {
      const nodes = (await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet as { ComputeNodeState: string }[];
      return nodes.length === n && nodes.every((x) => x.ComputeNodeState === 'RUNNING');
    }, `${n} running nodes`, 20_000);
    await running(1);
    // a job on the env that asks for node events: it hears of the node that comes while it runs
    const job = simpleJob('sleep 30', { TaskInstanceNum: 1, ComputeEnv: undefined, EnvId }, {
      Notifications: [{ TopicName: 'infra', EventConfigs: [{ EventName: 'COMPUTE_NODE_RUNNING', EventVars: [{ Name: 'for', Value: 'job' }] }] }],
    });
    const { JobId } = await c.SubmitJob!(job);
    await waitFor(async () => (await c.DescribeJob!({ JobId })).JobState === 'RUNNING', 'the job running', 20_000);
    await c.ModifyComputeEnv!({ EnvId, DesiredComputeNodeCount: 2 });
    await running(2);
    const nodes = ((await c.DescribeComputeEnv!({ EnvId })).ComputeNodeSet as { ComputeNodeId: string; ComputeNodeInstanceId: string }[]);
    await c.TerminateJob!({ JobId });
    await waitJobDone(c, JobId);
    await c.DeleteComputeEnv!({ EnvId });
    await waitFor(async () => got.some((g) => g.body.includes('COMPUTE_ENV_DELETED')), 'the COMPUTE_ENV_DELETED message', 30_000);

    for (const g of got) expect(g.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(g.body).digest('hex')}`);
    const msgs = got.map((g) => (JSON.parse(g.body) as { Events: Message[] }).Events[0]!);
    const envMsgs = msgs.filter((m) => m.Batch.JobId === undefined);
    expect(envMsgs.map((m) => m.EventName)).toEqual([
      'COMPUTE_ENV_CREATED', 'COMPUTE_NODE_RUNNING', 'COMPUTE_NODE_RUNNING', 'COMPUTE_NODE_DELETING', 'COMPUTE_NODE_DELETING', 'COMPUTE_ENV_DELETED',
    ]);
    expect(envMsgs[0]).toMatchObject({ Region: 'ap-guangzhou', EventVars: [{ Name: 'pool', Value: 'main' }], Batch: { EnvId, EnvName: 'pool' } });
    const second = nodes.find((n) => n.ComputeNodeId !== (envMsgs[1]!.Batch.ComputeNodeId as string))!;
    expect(envMsgs[2]!.Batch).toMatchObject({
      EnvId, EnvName: 'pool', ComputeNodeId: second.ComputeNodeId, ComputeNodeInstanceId: second.ComputeNodeInstanceId, ComputeNodeState: 'RUNNING', Cpu: 1, Mem: 1,
    });
    expect(envMsgs[2]!.Batch.ResourceCreatedTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // the job: the second node's RUNNING only (the first came up before it was submitted; it ended before the deletes)
    const jobMsgs = msgs.filter((m) => m.Batch.JobId === JobId);
    expect(jobMsgs.map((m) => [m.EventName, m.Batch.ComputeNodeId, m.EventVars])).toEqual([['COMPUTE_NODE_RUNNING', second.ComputeNodeId, [{ Name: 'for', Value: 'job' }]]]);
    const seqs = got.map((g) => Number(g.seq));
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
  }, 90_000);
});
