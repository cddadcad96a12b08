// Safe execution through the official SDK, as a user would meet it on a server run as root:
// a task cannot read the store, the credentials, the config file, another account's (or another
// attempt's) logs and working directories, the supervisor's status files, or the server's
// environment; tasks of two accounts run as two users and cannot reach each other's processes; and
// the environment of a task is built, not inherited. Parts that need root skip, saying why.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClient, SECRET_ID, SECRET_KEY, sharedDir, simpleJob, startServer, tempDir, TEST_STORE, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

const ROOT = process.getuid?.() === 0;
const WHY = ROOT ? '' : 'needs a server running as root (tasks run as users of their own only then)';
if (WHY) console.warn(`security tests skipped: ${WHY}`);

const TEAM_B = { id: 'team-b', secretId: 'AKIDteamBsecurity000000000000', secretKey: 'team-b-security-secret-key-0000' };
const SERVER_ONLY = 'server-env-value-7c1e';
// no OPENBATCH_SECRET_*: the server generates the default account's keys into credentials.json (a
// shared store refuses to: on PostgreSQL the servers get the tests' key pair)
const KEY_ENV: Record<string, string> = TEST_STORE === 'postgres' ? {} : { OPENBATCH_SECRET_ID: '', OPENBATCH_SECRET_KEY: '' };

let srv: TestServer;
let a: BatchClient; // the default account
let b: BatchClient; // team-b
let cfgFile: string;
let keys: { secretId: string; secretKey: string };
const shared = sharedDir('openbatch-sec-');

beforeAll(async () => {
  if (WHY) return;
  const dataDir = tempDir();
  // the config file holds team-b's key; readable by everyone on purpose: the tasks' mount namespace
  // hides it all the same
  cfgFile = path.join(tempDir('openbatch-sec-cfg-'), 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify({ accounts: [TEAM_B] }), { mode: 0o644 });
  fs.chmodSync(path.dirname(cfgFile), 0o755);
  srv = await startServer({ dataDir, args: ['--config', cfgFile], env: { ...KEY_ENV, OPENBATCH_TEST_SERVER_ONLY: SERVER_ONLY } });
  keys = TEST_STORE === 'postgres' ? { secretId: SECRET_ID, secretKey: SECRET_KEY } : JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
  a = makeClient(srv.port, keys);
  b = makeClient(srv.port, TEAM_B);
}, 120_000);
afterAll(async () => {
  if (shared) fs.writeFileSync(path.join(shared, 'go'), '');
  await srv?.stop();
});

/** Shell that reports, for each path, whether the task could read it (`cat`) or list it (`ls`). */
function probe(checks: [string, string][]): string {
  return checks.map(([how, p]) => `if ${how} '${p}' >/dev/null 2>&1; then echo "READ ${p}"; else echo "denied ${p}"; fi`).join('\n');
}

async function stdoutOf(c: BatchClient, JobId: string, index = 0): Promise<string> {
  const logs = await c.DescribeTaskLogs!({ JobId, TaskName: 'A', Offset: index, Limit: 1 });
  const uri = logs.TaskInstanceLogSet[0].StdoutLog as string | null;
  return uri === null ? '' : Buffer.from(uri.split(',')[1]!, 'base64').toString();
}

/** The whole stdout file of an attempt (DescribeTaskLogs keeps only the last 2048 bytes). */
function logFile(JobId: string, attempt = 1, index = 0): string {
  return fs.readFileSync(path.join(srv.dataDir, 'logs', JobId, 'A', `${index}.${attempt}.stdout`), 'utf8');
}

describe.skipIf(!!WHY)('what a task can reach', () => {
  it("cannot read the store, the keys, the config, the status files, another account's logs and files, or the server's environment", async () => {
    // account A: one attempt that finished (its logs, RedirectLocalInfo file and cos:// object exist)
    // and one still running (its working directory and process exist)
    const done = await a.SubmitJob!(simpleJob('echo a-secret-output; echo a-file > data', {
      RedirectInfo: { StdoutRedirectPath: 'cos://bucket-a-1250000000/logs/' },
      RedirectLocalInfo: { StdoutLocalPath: '/a-logs/' },
    }));
    expect((await waitJobDone(a, done.JobId)).JobState).toBe('SUCCEED');
    const go = path.join(shared, 'go');
    const running = await a.SubmitJob!(simpleJob(`echo $$ > ${shared}/a.pid; echo a-live > live; while [ ! -f ${go} ]; do sleep 0.05; done`));
    await waitFor(async () => fs.existsSync(path.join(shared, 'a.pid')) && fs.readFileSync(path.join(shared, 'a.pid'), 'utf8').endsWith('\n'), 'the running attempt to start');
    const aPid = fs.readFileSync(path.join(shared, 'a.pid'), 'utf8').trim();
    const d = srv.dataDir;
    const targets: [string, string][] = [
      // the SQLite store and the generated keys (on PostgreSQL, neither is in the data dir)
      ...(TEST_STORE === 'sqlite' ? [['cat', path.join(d, 'openbatch.db')], ['cat', path.join(d, 'credentials.json')]] as [string, string][] : []),
      ['cat', cfgFile],
      ['ls', path.join(d, 'attempts')],
      ['ls', path.join(d, 'logs')],
      ['cat', path.join(d, 'logs', done.JobId, 'A', '0.1.stdout')],
      ['cat', path.join(d, 'logs', running.JobId, 'A', '0.1.stdout')],
      ['cat', path.join(d, 'work', done.JobId, 'A', '0.1', 'data')],
      ['cat', path.join(d, 'work', running.JobId, 'A', '0.1', 'live')],
      ['ls', path.join(d, 'work', running.JobId)],
      ['cat', path.join(d, 'local', 'a-logs', `stdout.${done.JobId}.A.0.log`)],
      ['cat', path.join(d, 'objects', 'bucket-a-1250000000', 'logs', `stdout.${done.JobId}.A.0.log`)],
      ['cat', `/proc/${aPid}/environ`],
      ['ls', `/proc/${aPid}/cwd/`],
      ['cat', `/proc/${srv.proc.pid}/environ`],
    ];
    // each target exists: a refusal is the isolation's, not a wrong path's
    for (const [how, p] of targets) {
      if (p === cfgFile || p.startsWith('/proc/')) continue;
      expect(fs.existsSync(p), p).toBe(true);
      void how;
    }
    const script = [
      probe(targets),
      `kill -0 ${aPid} 2>/dev/null && echo "SIGNALLED ${aPid}" || echo "denied kill ${aPid}"`,
      `kill -0 ${srv.proc.pid} 2>/dev/null && echo "SIGNALLED server" || echo "denied kill server"`,
      // what the task may do: its own working directory and temporary directory
      'echo mine > own && cat own && echo tmp > "$TMPDIR/t" && cat "$TMPDIR/t"',
      'env | grep -c -e OPENBATCH_ -e npm_ -e "' + SERVER_ONLY + '" -e "' + keys.secretKey + '" || true',
    ].join('\n');
    for (const [who, c] of [['team-b', b], ['the same account', a]] as const) {
      const { JobId } = await c.SubmitJob!(simpleJob(script));
      expect((await waitJobDone(c, JobId)).JobState, who).toBe('SUCCEED');
      let lines = logFile(JobId).trim().split('\n');
      const want = [
        ...targets.map(([, p]) => `denied ${p}`),
        `denied kill ${aPid}`, 'denied kill server', 'mine', 'tmp', '0',
      ];
      // attempts of one account run as one user: the processes of its other running attempts are
      // its own in /proc, as a Slurm user's jobs are (docs/security.md); nothing else is
      if (who === 'the same account') {
        const own = (l: string) => l.includes(`/proc/${aPid}/`) || l === `denied kill ${aPid}` || l === `SIGNALLED ${aPid}`;
        lines = lines.filter((l) => !own(l));
        want.splice(0, want.length, ...want.filter((l) => !own(l)));
      }
      expect(lines, who).toEqual(want);
      // not a byte of a secret in what it wrote
      const all = logFile(JobId) + fs.readFileSync(path.join(srv.dataDir, 'logs', JobId, 'A', '0.1.stderr'), 'utf8');
      for (const secret of [keys.secretKey, TEAM_B.secretKey, 'a-secret-output', 'a-file', 'a-live', SERVER_ONLY]) expect(all, `${who}: ${secret}`).not.toContain(secret);
    }
    fs.writeFileSync(go, '');
    expect((await waitJobDone(a, running.JobId)).JobState).toBe('SUCCEED');
  });

  it('runs each account as a user of its own, never root, with the documented environment', async () => {
    const cmd = 'id -un; id -u; echo "$HOME"; echo "$PATH"; echo "$LANG"; echo "$TMPDIR"; pwd';
    const ja = await a.SubmitJob!(simpleJob(cmd, { EnvVars: [{ Name: 'MINE', Value: 'x' }] }));
    const jb = await b.SubmitJob!(simpleJob(cmd));
    const la = (await waitJobDone(a, ja.JobId), (await stdoutOf(a, ja.JobId)).trim().split('\n'));
    const lb = (await waitJobDone(b, jb.JobId), (await stdoutOf(b, jb.JobId)).trim().split('\n'));
    expect(la[0]).toBe('openbatch-task');
    expect(lb[0]).toMatch(/^openbatch-[0-9a-f]{8}$/);
    expect(la[1]).not.toBe(lb[1]);
    for (const [l, jobId] of [[la, ja.JobId], [lb, jb.JobId]] as const) {
      expect(l[1]).not.toBe('0');
      expect(l[2]).toBe(`/var/lib/${l[0]}`);
      expect(l.slice(3)).toEqual([
        '/usr/local/bin:/usr/bin:/bin', 'C.UTF-8', path.join(srv.dataDir, 'work', jobId, 'A', '0.1'), path.join(srv.dataDir, 'work', jobId, 'A', '0.1'),
      ]);
    }
    // the server says who runs tasks, once, when it starts
    expect(srv.output()).toMatch(/Tasks run as openbatch-task, openbatch-[0-9a-f]{8}, kept from the server's files by a private mount namespace and data dir permissions/);
  });

  it("keeps working when tasks run as their users: RedirectLocalInfo, shared output dirs, re-adoption after a restart", async () => {
    const out = sharedDir('openbatch-sec-out-');
    const go = path.join(out, 'go2');
    const { JobId } = await b.SubmitJob!(simpleJob(`echo $BATCH_TASK_INSTANCE_INDEX > ${out}/o.$BATCH_TASK_INSTANCE_INDEX; while [ ! -f ${go} ]; do sleep 0.05; done; echo survived`, {
      TaskInstanceNum: 2, RedirectLocalInfo: { StdoutLocalPath: '/b-out/' },
    }));
    await waitFor(async () => (await b.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 2, 'both instances to run');
    const dataDir = srv.dataDir;
    await srv.kill9();
    srv = await startServer({ dataDir, args: ['--config', cfgFile], env: KEY_ENV });
    a = makeClient(srv.port, keys);
    b = makeClient(srv.port, TEAM_B);
    fs.writeFileSync(go, '');
    expect((await waitJobDone(b, JobId)).JobState).toBe('SUCCEED');
    expect([0, 1].map((i) => fs.readFileSync(path.join(out, `o.${i}`), 'utf8'))).toEqual(['0\n', '1\n']);
    expect(fs.readFileSync(path.join(dataDir, 'local', 'b-out', `stdout.${JobId}.A.1.log`), 'utf8')).toBe('survived\n');
    expect(await stdoutOf(b, JobId, 1)).toBe('survived\n');
  });
});
