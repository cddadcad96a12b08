// Webhooks of the Notifications of SubmitJob against a real server and a local receiver: the events a
// job asked for arrive in order, Tencent-shaped with its EventVars, signed with the topic's secret;
// a receiver that fails at first gets them again until it takes them (nothing lost, in order); an
// unknown topic is refused at SubmitJob; compute node events are refused as not built.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorOf, simpleJob, startServer, tempDir, waitFor, waitJobDone, type TestServer } from '../helpers/spawn-server.ts';

const SECRET = 'a-webhook-secret-of-the-test';
let srv: TestServer | undefined;
let receiver: http.Server | undefined;
afterAll(async () => {
  await srv?.stop();
  receiver?.close();
});

interface Got { body: string; signature: string | undefined; seq: string | undefined }

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
    expect(await errorOf(c.SubmitJob!(simpleJob('true', {}, { Notifications: [{ TopicName: 'jobs', EventConfigs: [{ EventName: 'COMPUTE_NODE_CREATED', EventVars: [] }] }] }))))
      .toMatchObject({ code: 'UnsupportedOperation' });

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
});
