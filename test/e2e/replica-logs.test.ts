// Two real server processes on one fresh PostgreSQL database: DescribeTaskLogs answers the same on
// the replica that does not lead as on the leader, whose host runs the attempt (while it runs, and
// after it ended); the internal log path refuses requests without the deployment's signature; when
// the replica that ran an attempt is down its logs read as null (one warning, not one per request),
// and they are back once it is. /healthz lists the replicas. A compute node busy with an attempt is
// busy on both (TaskInstanceNumAvailable). Skips, saying why, without PostgreSQL.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalKey, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/lib/internal-auth.ts';
import { attemptLogPath } from '../../src/services/remote-logs.ts';
import { freshDatabase, pgSkipReason } from '../support/pg.ts';
import { SECRET_ID, SECRET_KEY, sharedDir, simpleJob, startServer, waitFor, waitJobDone, type TestServer } from '../helpers/server.ts';

const skip = await pgSkipReason();

interface Health {
  status: string;
  replica: string;
  leading: boolean;
  replicas?: { id: string; url: string; lastSeen: string }[];
}

async function health(port: number): Promise<Health> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return (await res.json()) as Health;
}

const decode = (s: string | null) => (s === null ? null : Buffer.from(s.replace(/^data:[^,]*,/, ''), 'base64').toString());

describe.skipIf(skip !== undefined)('logs of local attempts on every replica of a shared store', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let r1: TestServer, r2: TestServer;
  /** The replica that leads (its host runs the attempts) and the one that does not. */
  let leader: TestServer, follower: TestServer;
  const env = { OPENBATCH_SECRET_ID: SECRET_ID, OPENBATCH_SECRET_KEY: SECRET_KEY };
  const go = path.join(sharedDir('openbatch-replica-logs-'), 'go');
  let jobId = '';

  const replicaArgs = (id: string) => ['--store', db.url, '--replica-id', id];
  const logsVia = async (s: TestServer) => (await s.client().DescribeTaskLogs!({ JobId: jobId, TaskName: 'A' })).TaskInstanceLogSet;

  beforeAll(async () => {
    db = await freshDatabase();
    r1 = await startServer({ args: replicaArgs('r1'), env });
    r2 = await startServer({ args: replicaArgs('r2'), env });
    const leading = await waitFor(async () => {
      const [h1, h2] = await Promise.all([health(r1.port), health(r2.port)]);
      return h1.leading ? r1 : h2.leading ? r2 : undefined;
    }, 'a replica to lead');
    leader = leading;
    follower = leading === r1 ? r2 : r1;
  }, 90_000);

  afterAll(async () => {
    // a test that failed half-way leaves no attempt waiting (attempts outlive their server)
    fs.writeFileSync(go, '');
    await Promise.all([r1?.stop(), r2?.stop()]);
    await db?.drop();
  });

  it('lists both replicas in /healthz, each at the URL the other reaches it, keeping the leadership fields', async () => {
    const h = await waitFor(async () => {
      const x = await health(follower.port);
      return x.replicas?.length === 2 ? x : undefined;
    }, 'both replicas registered');
    expect(h.status).toBe('ok');
    expect(h.replica).toBe(follower === r1 ? 'r1' : 'r2');
    expect(h.leading).toBe(false);
    expect(h.replicas!.map((r) => [r.id, r.url])).toEqual([['r1', `http://127.0.0.1:${r1.port}`], ['r2', `http://127.0.0.1:${r2.port}`]]);
    for (const r of h.replicas!) expect(Number.isNaN(Date.parse(r.lastSeen))).toBe(false);
  });

  it('answers DescribeTaskLogs on the follower as on the leader, while the attempt runs and after it ended', async () => {
    const cmd = `echo out-line; echo err-line >&2; while [ ! -e ${go} ]; do sleep 0.1; done; echo out-after; echo err-after >&2`;
    ({ JobId: jobId } = await follower.client().SubmitJob!(simpleJob(cmd)));
    const running = await waitFor(async () => {
      const l = (await logsVia(leader))[0];
      return decode(l.StdoutLog) === 'out-line\n' && decode(l.StderrLog) === 'err-line\n' ? l : undefined;
    }, 'the leader to show the running attempt\'s output');
    // the attempt runs on the leader's host: the follower has no file of it, it fetches it
    expect(fs.existsSync(path.join(follower.dataDir, 'logs', jobId))).toBe(false);
    // (it cannot end before the go file exists)
    await waitFor(async () => (await follower.client().DescribeJob!({ JobId: jobId })).JobState === 'RUNNING', 'the job to be RUNNING');
    expect(await logsVia(follower)).toEqual([running]);

    fs.writeFileSync(go, '');
    await waitJobDone(follower.client(), jobId);
    const ended = (await logsVia(leader))[0];
    expect(decode(ended.StdoutLog)).toBe('out-line\nout-after\n');
    expect(decode(ended.StderrLog)).toBe('err-line\nerr-after\n');
    expect(await logsVia(follower)).toEqual([ended]);
  });

  it('answers TaskInstanceNumAvailable on the follower as on the leader: 0 while a node runs an attempt, 1 after', async () => {
    const { EnvId } = await follower.client().CreateComputeEnv!({
      ComputeEnv: { EnvName: 'pool', EnvType: 'MANAGED', DesiredComputeNodeCount: 1, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
      Placement: { Zone: 'ap-guangzhou-3' },
    });
    const available = async (s: TestServer) => {
      const nodes = (await s.client().DescribeComputeEnv!({ EnvId })).ComputeNodeSet;
      return nodes.length === 1 && nodes[0].ComputeNodeState === 'RUNNING' ? nodes[0].TaskInstanceNumAvailable : undefined;
    };
    expect(await waitFor(async () => (await available(follower)) === 1 || undefined, 'the node to run')).toBe(true);
    const hold = path.join(path.dirname(go), 'hold');
    const { JobId } = await follower.client().SubmitJob!(simpleJob(`while [ ! -e ${hold} ]; do sleep 0.1; done`, { ComputeEnv: undefined, EnvId }));
    try {
      await waitFor(async () => (await follower.client().DescribeJob!({ JobId })).JobState === 'RUNNING' || undefined, 'the job to run on the node');
      expect([await available(leader), await available(follower)]).toEqual([0, 0]);
    } finally {
      fs.writeFileSync(hold, '');
    }
    await waitJobDone(follower.client(), JobId);
    await waitFor(async () => (await available(follower)) === 1 || undefined, 'the follower to see the node free');
    expect(await available(leader)).toBe(1);
    await follower.client().DeleteComputeEnv!({ EnvId });
  });

  it('refuses the internal log path without the deployment\'s signature, and answers it with one', async () => {
    const p = attemptLogPath({ id: { jobId, taskName: 'A', index: 0, attempt: 1 }, stream: 'stdout', range: { tail: 100 } });
    const at = (s: TestServer, q = p) => `http://127.0.0.1:${s.port}${q}`;
    const refused = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message).not.toContain(SECRET_KEY);
    };
    await refused(await fetch(at(leader)), 401, 'Unauthenticated');
    await refused(await fetch(at(leader), { headers: { [TIMESTAMP_HEADER]: String(Math.floor(Date.now() / 1000)) } }), 401, 'Unauthenticated');
    // another key pair, a signature of garbage, a timestamp out of the window, another query than signed
    const other = new InternalKey('AKIDsomeoneElse', 'notTheDeploymentsKey');
    await refused(await fetch(at(leader), { headers: other.headers('GET', p, Date.now()) }), 403, 'Forbidden');
    const key = new InternalKey(SECRET_ID, SECRET_KEY);
    const good = key.headers('GET', p, Date.now());
    await refused(await fetch(at(leader), { headers: { ...good, [SIGNATURE_HEADER]: 'x'.repeat(64) } }), 403, 'Forbidden');
    await refused(await fetch(at(leader), { headers: key.headers('GET', p, Date.now() - 600_000) }), 403, 'Forbidden');
    await refused(await fetch(at(leader, p.replace('index=0', 'index=1')), { headers: good }), 403, 'Forbidden');
    // signed: the bytes of the leader's own file; the follower has no such file of its own
    const ok = await fetch(at(leader), { headers: good });
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).toString()).toBe(fs.readFileSync(path.join(leader.dataDir, 'logs', jobId, 'A', '0.1.stdout'), 'utf8'));
    await refused(await fetch(at(follower), { headers: key.headers('GET', p, Date.now()) }), 404, 'NotFound');
    // a signed but malformed query (a path in the job id) is refused as such
    const bad = p.replace(`job=${jobId}`, 'job=..%2F..%2Fetc');
    await refused(await fetch(at(leader, bad), { headers: key.headers('GET', bad, Date.now()) }), 400, 'InvalidRequest');
  });

  it('reads the logs of an attempt whose replica is down as null (warned once), and again once it is back', async () => {
    const before = await logsVia(follower);
    const ranOn = leader;
    await ranOn.kill9();
    const warning = /cannot be fetched/g;
    for (let i = 0; i < 3; i++) {
      const l = (await logsVia(follower))[0];
      expect(l.StdoutLog).toBeNull();
      expect(l.StderrLog).toBeNull();
    }
    expect(follower.output().match(warning)).toHaveLength(1);
    // it comes back (its data dir, its id; another port): its attempts' logs are there again
    const back = await startServer({ dataDir: ranOn.dataDir, args: replicaArgs(ranOn === r1 ? 'r1' : 'r2'), env });
    if (ranOn === r1) r1 = back;
    else r2 = back;
    await waitFor(async () => JSON.stringify(await logsVia(follower)) === JSON.stringify(before), 'the logs to be fetched from the replica that came back');
    expect(await logsVia(follower)).toEqual(before);
  }, 60_000);
});
