// The `openbatch` user commands (src/cli/user) as a user runs them: bin/openbatch.mjs as a subprocess
// against a real server, with the endpoint and key from the environment (or a profile file), HOME a
// temp dir. Exit codes: 0 ok, 1 API/network failure, 2 usage, 3 the watched/waited job failed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SECRET_ID, SECRET_KEY, sharedDir, simpleJob, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;
const home = tempDir('openbatch-cli-home-');
const work = tempDir('openbatch-cli-work-');

beforeAll(async () => {
  srv = await startServer({ slots: 4 });
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a CLI run: none of the test process's OpenBatch/Tencent variables. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('OPENBATCH_') || k.startsWith('TENCENTCLOUD_')) continue;
    env[k] = v;
  }
  return { ...env, HOME: home };
}

function keyEnv(s: TestServer = srv): Record<string, string> {
  return { OPENBATCH_ENDPOINT: s.url, TENCENTCLOUD_SECRET_ID: SECRET_ID, TENCENTCLOUD_SECRET_KEY: SECRET_KEY };
}

/** Runs `openbatch ARGS` (or, with `argv0`, another command line) and collects its output. */
function run(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, cwd: work, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) p.stdin!.end(input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    p.stderr!.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

const BIN = path.join(ROOT, 'bin/openbatch.mjs');

function cli(args: string[], o: { env?: Record<string, string>; keys?: boolean; server?: TestServer; input?: string } = {}): Promise<Run> {
  return run(process.execPath, [BIN, ...args], { ...baseEnv(), ...(o.keys === false ? {} : keyEnv(o.server)), ...o.env }, o.input);
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const hasScript = spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).status === 0;

/** `openbatch ARGS` under a pseudo-terminal (util-linux script), its exit code passed through (-e). */
function cliTty(args: string[]): Promise<Run> {
  const line = [process.execPath, BIN, ...args].map(shq).join(' ');
  return run('script', ['-qfec', line, '/dev/null'], { ...baseEnv(), ...keyEnv(), TERM: 'xterm', COLUMNS: '120', LINES: '40' });
}

function file(name: string, text: string): string {
  const f = path.join(work, name);
  fs.writeFileSync(f, text);
  return f;
}

const task = (name: string, command: string, extra = '') => `
  - TaskName: ${name}
    TaskInstanceNum: 1
    Application: {DeliveryForm: LOCAL, Command: ${JSON.stringify(command)}}
    ComputeEnv: {EnvType: MANAGED, EnvData: {InstanceType: S1.SMALL1, ImageId: img-bd78fy2t}}${extra}`;

async function submit(command: string, over: Record<string, unknown> = {}): Promise<string> {
  return (await c.SubmitJob!(simpleJob(command, over))).JobId;
}

async function instanceState(jobId: string, taskName = 'A', index = 0): Promise<string | undefined> {
  const r = await c.DescribeTask!({ JobId: jobId, TaskName: taskName, Limit: 1, Offset: index });
  return r.TaskInstanceSet[0]?.TaskInstanceState;
}

describe('submit', () => {
  it('submits a two-task DAG from YAML and waits for it (exit 0); describe shows it SUCCEED', async () => {
    const f = file('dag.yaml', `JobName: cli-dag\nTasks:${task('A', 'echo a')}${task('B', 'echo b')}\nDependences:\n  - {StartTask: A, EndTask: B}\n`);
    const r = await cli(['submit', f, '--wait', '-o', 'json']);
    expect(r.stderr).toMatch(/submitted job-/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.JobState).toBe('SUCCEED');
    const d = await cli(['describe', out.JobId, '-o', 'json']);
    expect(d.code).toBe(0);
    const j = JSON.parse(d.stdout);
    expect(j.JobState).toBe('SUCCEED');
    expect(j.TaskSet.map((t: { TaskName: string }) => t.TaskName).sort()).toEqual(['A', 'B']);
    expect(j.DependenceSet).toEqual([{ StartTask: 'A', EndTask: 'B' }]);
    // the region's first zone filled in
    expect(j.Zone).toMatch(/^ap-guangzhou-\d+$/);
  });

  it('submit --wait exits 3 when the job fails', async () => {
    const f = file('fail.yaml', `JobName: cli-fail\nTasks:${task('A', 'exit 1')}\n`);
    const r = await cli(['submit', f, '--wait', '-o', 'json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).JobState).toBe('FAILED');
  });

  it('refuses a YAML file that is not a mapping (exit 2)', async () => {
    const f = file('list.yaml', '- a\n- b\n');
    const r = await cli(['submit', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must hold a Job/);
    const s = await cli(['submit', file('scalar.yaml', 'just text\n')]);
    expect(s.code).toBe(2);
  });
});

describe('submit, more ways', () => {
  it('reads a whole SubmitJob request in JSON from stdin; --zone and --name apply', async () => {
    const req = simpleJob('echo from-stdin');
    const r = await cli(['submit', '-', '--zone', 'ap-guangzhou-3', '--name', 'stdin-job', '-o', 'json'], { input: JSON.stringify(req) });
    expect(r.code).toBe(0);
    const { JobId } = JSON.parse(r.stdout);
    const j = await waitJobDone(c, JobId);
    expect(j.JobState).toBe('SUCCEED');
    expect(j.JobName).toBe('stdin-job');
    expect(j.Zone).toBe('ap-guangzhou-3');
  });

  it('builds the job from a task template (--template, --instances) and submit --watch exits with the job', async () => {
    const { TaskTemplateId } = await c.CreateTaskTemplate!({
      TaskTemplateName: 'cli-greet',
      TaskTemplateInfo: { TaskName: 'greet', TaskInstanceNum: 1, Application: { DeliveryForm: 'LOCAL', Command: 'echo hi $BATCH_TASK_INSTANCE_INDEX' },
        ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } } },
    });
    const r = await cli(['submit', '--template', TaskTemplateId, '--instances', '2', '--watch']);
    expect(r.code).toBe(0);
    const JobId = /submitted (job-\w+)/.exec(r.stderr)![1]!;
    expect(r.stdout).toContain(`job ${JobId} ended SUCCEED`);
    expect((await cli(['logs', JobId, 'greet', '1'])).stdout).toBe('hi 1\n');
    const t = await cli(['templates', '-o', 'json']);
    expect(JSON.parse(t.stdout).TaskTemplateSet.map((x: { TaskTemplateId: string }) => x.TaskTemplateId)).toContain(TaskTemplateId);
  });
});

describe('watch', () => {
  it('prints a line per task change and an "ended" line; exit 0 when the job succeeds', async () => {
    const JobId = await submit('sleep 1; echo ok');
    const r = await cli(['watch', JobId]);
    expect(r.code).toBe(0);
    // each task's final line, even when the job ended before watch first looked
    expect(r.stdout).toMatch(/^\S+ {3}A: SUCCEED 1\/1 \(succeed 1, failed 0, running 0, waiting 0\)$/m);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`job ${JobId} ended SUCCEED`);
  });

  it('exits 3 when the watched job fails', async () => {
    const JobId = await submit('sleep 0.5; exit 7');
    const r = await cli(['watch', JobId]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^\S+ {3}A: FAILED 1\/1 \(succeed 0, failed 1, running 0, waiting 0\)$/m);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^job ${JobId} ended FAILED`));
  });

  it.skipIf(!hasScript)('draws progress bars under a pseudo-terminal and passes the exit code through (needs util-linux script)', async () => {
    const ok = await submit('sleep 1; echo ok');
    const r = await cliTty(['watch', ok]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('█');
    expect(r.stdout).toContain(`job ${ok} ended SUCCEED`);
    const bad = await submit('sleep 1; exit 1');
    const f = await cliTty(['watch', bad]);
    expect(f.code).toBe(3);
    expect(f.stdout).toContain(`job ${bad} ended FAILED`);
  });
});

describe('logs and attempts', () => {
  it('reads the log of attempt 1 of a retried instance, and lists both attempts', async () => {
    const m = path.join(sharedDir('openbatch-cli-marks-'), 'M');
    const JobId = await submit(`if [ -f ${m} ]; then echo second; else touch ${m}; echo first-err >&2; exit 1; fi`, { MaxRetryCount: 1 });
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
    const first = await cli(['logs', JobId, 'A', '0', '--attempt', '1', '--stderr']);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('first-err\n');
    const latest = await cli(['logs', JobId, 'A', '0']);
    expect(latest.code).toBe(0);
    expect(latest.stdout).toBe('second\n');
    const a = await cli(['attempts', JobId, 'A', '0', '-o', 'json']);
    expect(a.code).toBe(0);
    const set = JSON.parse(a.stdout).AttemptSet as { Attempt: number; ExitCode: number }[];
    expect(set).toHaveLength(2);
    expect(set.map((x) => x.ExitCode)).toEqual([1, 0]);
    expect(set.map((x) => x.Attempt)).toEqual([1, 2]);
  });

  it('prints a log larger than one page exactly', async () => {
    const JobId = await submit('seq 1 500000');
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
    const want = Array.from({ length: 500000 }, (_, i) => `${i + 1}\n`).join('');
    const r = await cli(['logs', JobId, 'A', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(want.length);
    expect(r.stdout === want).toBe(true);
  });

  it('logs -f follows a running attempt and exits by itself when it ends', async () => {
    const JobId = await submit('for i in 1 2 3 4 5; do echo line $i; sleep 0.5; done');
    await waitFor(async () => (await instanceState(JobId)) === 'RUNNING', 'the instance to run');
    const r = await cli(['logs', JobId, 'A', '0', '-f']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
  });
});

describe('more on logs', () => {
  it('ends quietly when the reader stops early (logs | head)', async () => {
    const JobId = await submit('seq 1 500000');
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
    const line = [process.execPath, BIN, 'logs', JobId, 'A', '0'].map(shq).join(' ');
    const r = await run('bash', ['-c', `set -o pipefail; ${line} | head -n 2`], { ...baseEnv(), ...keyEnv() });
    expect(r.stdout).toBe('1\n2\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('rate limits', () => {
  it('pages through 30,000 instances, waiting out RequestLimitExceeded (the server\'s default limits)', async () => {
    const limited = await startServer({ slots: 1, rateLimits: 'intl' });
    try {
      const { JobId } = await limited.client().SubmitJob!(simpleJob('true', { TaskInstanceNum: 30000 }));
      const r = await cli(['instances', JobId, 'A', '-o', 'json', '-v'], { server: limited });
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.TaskInstanceSet).toHaveLength(30000);
      expect(out.TaskInstanceTotalCount).toBe(30000);
      expect(new Set(out.TaskInstanceSet.map((i: { TaskInstanceIndex: number }) => i.TaskInstanceIndex)).size).toBe(30000);
      expect(r.stderr).toMatch(/DescribeTask: rate limited, retrying in \d+ ms/);
    } finally {
      await limited.stop();
    }
  }, 180_000);
});

describe('connection', () => {
  it('reads the endpoint and key from the default profile of ~/.openbatch/config, with no variables', async () => {
    const h = tempDir('openbatch-cli-profile-');
    fs.mkdirSync(path.join(h, '.openbatch'));
    fs.writeFileSync(path.join(h, '.openbatch', 'config'), `default:\n  endpoint: ${srv.url}\n  secretId: ${SECRET_ID}\n  secretKey: ${SECRET_KEY}\n`);
    const r = await cli(['jobs', '-o', 'json'], { keys: false, env: { HOME: h } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).TotalCount).toBeGreaterThan(0);
    // a named profile by OPENBATCH_PROFILE, the file by OPENBATCH_CONFIG
    const other = path.join(h, 'elsewhere.yaml');
    fs.writeFileSync(other, `lab:\n  endpoint: ${srv.url}\n  secretId: ${SECRET_ID}\n  secretKey: ${SECRET_KEY}\n`);
    const named = await cli(['jobs', '-o', 'json'], { keys: false, env: { OPENBATCH_CONFIG: other, OPENBATCH_PROFILE: 'lab' } });
    expect(named.code).toBe(0);
    const missing = await cli(['jobs'], { keys: false, env: { OPENBATCH_CONFIG: other, OPENBATCH_PROFILE: 'nope' } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no profile "nope"/);
    // a wrong key from the profile is an API failure
    fs.writeFileSync(other, `lab:\n  endpoint: ${srv.url}\n  secretId: ${SECRET_ID}\n  secretKey: wrong\n`);
    const wrong = await cli(['jobs'], { keys: false, env: { OPENBATCH_CONFIG: other, OPENBATCH_PROFILE: 'lab' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/AuthFailure/);
  });

  it('uses the key in a data dir\'s credentials.json (--data-dir)', async () => {
    const dir = tempDir('openbatch-cli-dd-');
    fs.writeFileSync(path.join(dir, 'credentials.json'), JSON.stringify({ secretId: SECRET_ID, secretKey: SECRET_KEY }));
    const r = await cli(['jobs', '-o', 'json', '--endpoint', srv.url, '--data-dir', dir], { keys: false });
    expect(r.code).toBe(0);
  });

  it('says when there is no key (exit 2)', async () => {
    const r = await cli(['jobs'], { keys: false, env: { OPENBATCH_ENDPOINT: srv.url } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no API key/);
  });

  it('refuses half a key pair rather than taking the other half from a data dir (exit 2)', async () => {
    const dir = tempDir('openbatch-cli-half-');
    fs.writeFileSync(path.join(dir, 'credentials.json'), JSON.stringify({ secretId: SECRET_ID, secretKey: SECRET_KEY }));
    const r = await cli(['jobs', '--endpoint', srv.url, '--data-dir', dir, '--secret-id', SECRET_ID], { keys: false });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a SecretId was given \(--secret-id\) but no SecretKey/);
  });
});

describe('errors', () => {
  it('an unknown job is an API failure (exit 1) with its code', async () => {
    const r = await cli(['describe', 'job-aaaaaaaa']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ResourceNotFound.Job');
  });

  it('an unknown output format is a usage error (exit 2)', async () => {
    const r = await cli(['jobs', '-o', 'xml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/xml/);
  });

  it('an unreachable endpoint is exit 1', async () => {
    const r = await cli(['jobs'], { env: { OPENBATCH_ENDPOINT: 'http://127.0.0.1:1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach/);
  });
});

describe('terminate one instance, retry', () => {
  it('terminates one instance (terminate JOB TASK INDEX) and refuses TASK without INDEX (exit 2)', async () => {
    const JobId = await submit('sleep 60', { TaskInstanceNum: 2 });
    await waitFor(async () => (await instanceState(JobId, 'A', 1)) === 'RUNNING', 'instance 1 to run');
    expect((await cli(['terminate', JobId, 'A'])).code).toBe(2);
    const t = await cli(['terminate', JobId, 'A', '1']);
    expect(t.code).toBe(0);
    await waitFor(async () => (await instanceState(JobId, 'A', 1)) === 'FAILED', 'instance 1 to be terminated');
    expect(await instanceState(JobId, 'A', 0)).toBe('RUNNING');
    const i = await cli(['instances', JobId, 'A', '--state', 'FAILED', '-o', 'json']);
    expect(JSON.parse(i.stdout).TaskInstanceSet.map((x: { TaskInstanceIndex: number }) => x.TaskInstanceIndex)).toEqual([1]);
    expect((await cli(['terminate', JobId])).code).toBe(0);
    await waitJobDone(c, JobId);
  });

  it('retries a failed job (retry JOB): its failed instance runs again', async () => {
    const m = path.join(sharedDir('openbatch-cli-retry-'), 'M');
    const JobId = await submit(`if [ -f ${m} ]; then echo again; else touch ${m}; exit 1; fi`);
    expect((await waitJobDone(c, JobId)).JobState).toBe('FAILED');
    const r = await cli(['retry', JobId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`retrying ${JobId}`);
    expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
    expect((await cli(['logs', JobId, 'A', '0'])).stdout).toBe('again\n');
    // a job that did not fail cannot be retried: an API error
    const again = await cli(['retry', JobId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('UnsupportedOperation');
  });
});

describe('terminate and delete', () => {
  it('terminates a running job, deletes it, and jobs no longer lists it', async () => {
    const JobId = await submit('sleep 60');
    await waitFor(async () => (await instanceState(JobId)) === 'RUNNING', 'the instance to run');
    const t = await cli(['terminate', JobId]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain(`terminating job ${JobId}`);
    const done = await waitJobDone(c, JobId);
    expect(done.JobState).toMatch(/^FAILED/);
    const d = await cli(['delete', JobId]);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain(`deleted ${JobId}`);
    await waitFor(async () => {
      const j = await cli(['jobs', '-o', 'json', '--limit', '1000']);
      expect(j.code).toBe(0);
      return !JSON.parse(j.stdout).JobSet.some((x: { JobId: string }) => x.JobId === JobId);
    }, 'the job to be gone from jobs');
    const gone = await cli(['describe', JobId]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('ResourceNotFound.Job');
  });
});
