// `npx openbatch serve` and `npm start` stop cleanly when a signal goes to the npx/npm process alone
// (as `kill <pid>` or systemd with KillMode=process sends it; Ctrl-C in a terminal signals the whole
// process group instead): npm passes it on only to the `sh -c` it runs the command with, and unless
// that sh execs the server, the server must notice by itself, not stay behind as an orphan holding
// the port and the data dir. Running attempts survive the stop and are re-adopted, as when the
// server itself gets SIGTERM. And a server merely re-parented without npm (nohup from a shell that
// exits) keeps running.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { healthz, makeClient, ROOT, SECRET_ID, SECRET_KEY, sharedDir, simpleJob, startServer, storeArgs, tempDir, waitFor, waitJobDone } from '../helpers/server.ts';

/** Every process this file starts itself, with a string its command line holds (its data dir), so
 *  that afterAll kills only these, by PID, and never a process that reused the PID. */
const mine: { pid: number; marker: string }[] = [];
/** Data dirs of the servers started here: a server whose pid a test did not get to read is found
 *  through the server.pid it wrote. */
const dataDirs: string[] = [];
/** Files whose creation lets the attempts of this file end (they wait for them). */
const goFiles: string[] = [];

afterAll(() => {
  for (const f of goFiles) fs.writeFileSync(f, '');
  for (const d of dataDirs) {
    const pid = Number.parseInt(fs.existsSync(path.join(d, 'server.pid')) ? fs.readFileSync(path.join(d, 'server.pid'), 'utf8') : '', 10);
    if (Number.isFinite(pid)) mine.push({ pid, marker: d });
  }
  for (const { pid, marker } of mine) {
    if (alive(pid) && cmdline(pid).includes(marker)) process.kill(pid, 'SIGKILL');
  }
});

const SERVE_ARGS = (dataDir: string) => ['--port', '0', '--data-dir', dataDir, '--rate-limits', 'off', '--log-level', 'warn'];

const npx = (d: string) => ({ cmd: 'npx', args: ['openbatch', 'serve', ...SERVE_ARGS(d)] });
// npm passes what follows `--` on to the script's command line
const npmStart = (d: string) => ({ cmd: 'npm', args: ['start', '--', ...SERVE_ARGS(d)] });

describe('signals sent to the npx / npm process', () => {
  // Not here: SIGINT to the npx process alone. npm passes it to its `sh -c 'openbatch' serve ...`,
  // and dash (a `-c` shell waiting for its foreground child) holds SIGINT until that child exits:
  // npx, the sh and the server all keep running, no orphan is made, and the server is never told.
  // Ctrl-C in a terminal signals the whole foreground group, the server included.
  for (const [how, signal, launch] of [
    ['npx openbatch serve', 'SIGTERM', npx],
    ['npm start', 'SIGTERM', npmStart],
    ['npm start', 'SIGINT', npmStart],
  ] as const) {
    it(`${how}: ${signal} to the ${launch('').cmd} process stops the server cleanly; its attempt survives and is re-adopted`, async () => {
      const dataDir = tempDir();
      dataDirs.push(dataDir);
      const { cmd, args } = launch(dataDir);
      const npm = spawn(cmd, [...args, ...(await storeArgs(dataDir))], { cwd: ROOT, env: testEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      mine.push({ pid: npm.pid!, marker: dataDir });
      let npmExit: string | undefined;
      npm.on('exit', (code, sig) => (npmExit = String(code ?? sig)));
      const port = await listening(npm);
      // the server's own pid: it writes it when it takes the data dir's lock, before it listens
      const serverPid = Number.parseInt(fs.readFileSync(path.join(dataDir, 'server.pid'), 'utf8'), 10);
      mine.push({ pid: serverPid, marker: dataDir });
      expect(serverPid).not.toBe(npm.pid);
      expect(alive(serverPid)).toBe(true);

      const c = makeClient(port);
      const go = path.join(sharedDir('openbatch-go-'), 'go');
      goFiles.push(go);
      const { JobId } = await c.SubmitJob!(simpleJob(waitFile(go)));
      await waitFor(async () => (await c.DescribeJob!({ JobId })).TaskInstanceMetrics.RunningCount === 1, 'the attempt to run');

      process.kill(npm.pid!, signal);
      await waitFor(async () => !alive(serverPid), `the server (pid ${serverPid}) to exit after ${signal} to ${cmd}`, 20_000, 100);
      await waitFor(async () => npmExit !== undefined, `${cmd} to exit`, 20_000, 100);
      expect(await accepts(port)).toBe(false);
      // the graceful path released the lock (a crash or kill -9 would leave server.pid behind)
      expect(fs.existsSync(path.join(dataDir, 'server.pid'))).toBe(false);

      // the data dir is free: a second server starts on it, finds the attempt still running, and
      // sees it to the end
      const again = await startServer({ dataDir });
      const ac = again.client();
      const during = await ac.DescribeJob!({ JobId });
      expect([during.JobState, during.TaskInstanceMetrics.RunningCount]).toEqual(['RUNNING', 1]);
      fs.writeFileSync(go, '');
      expect((await waitJobDone(ac, JobId)).JobState).toBe('SUCCEED');
      const logs = await ac.DescribeTaskLogs!({ JobId, TaskName: 'A' });
      expect(Buffer.from(logs.TaskInstanceLogSet[0].StdoutLog.split(',')[1], 'base64').toString()).toBe('survived\n');
      expect(await again.stop()).toBe(0);
    }, 180_000);
  }
});

describe('a server started without npm', () => {
  it('keeps running when the shell that started it in the background exits (nohup style)', async () => {
    const dataDir = tempDir();
    dataDirs.push(dataDir);
    const log = path.join(tempDir('openbatch-log-'), 'server.log');
    // The sh starts the server in the background and exits once the server has taken the data dir's
    // lock (so is up and would be watching its parent): exiting before the server starts would give
    // it ppid 1 from the outset, and there would be no re-parenting to ignore.
    const script =
      `"$0" bin/openbatch.mjs serve ${SERVE_ARGS('"$1"').join(' ')} > "$2" 2>&1 &\n` +
      'echo $! > "$2.pid"\n' +
      'i=0; while [ ! -s "$1/server.pid" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done';
    const sh = spawn('/bin/sh', ['-c', script, process.execPath, dataDir, log], { cwd: ROOT, env: testEnv(), stdio: 'ignore' });
    const shCode = await new Promise<number | null>((r) => sh.on('exit', (code) => r(code)));
    const serverPid = Number.parseInt(fs.readFileSync(`${log}.pid`, 'utf8'), 10);
    mine.push({ pid: serverPid, marker: dataDir });
    expect(shCode).toBe(0);
    const port = await waitFor(async () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(fs.readFileSync(log, 'utf8'));
      return m ? Number(m[1]) : undefined;
    }, `the server to listen (its output is in ${log})`, 60_000, 100);
    expect(Number.parseInt(fs.readFileSync(path.join(dataDir, 'server.pid'), 'utf8'), 10)).toBe(serverPid);
    // it was re-parented: its parent is no longer the sh
    expect(ppidOf(serverPid)).not.toBe(sh.pid);

    // for ten of the parent watch's polling periods (500 ms) it keeps answering
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      expect(await healthz(port)).toBe(200);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(alive(serverPid)).toBe(true);

    process.kill(serverPid, 'SIGTERM');
    await waitFor(async () => !alive(serverPid), `the server (pid ${serverPid}) to exit after SIGTERM`, 20_000, 100);
    expect(await accepts(port)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'server.pid'))).toBe(false);
  }, 120_000);
});

/** The environment of a server the tests start, without what npm sets for its children (when the
 *  tests themselves run under `npm test`), and without http proxies. */
function testEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^npm_/i.test(k) && !/^https?_proxy$/i.test(k)) env[k] = v;
  }
  return { ...env, OPENBATCH_SECRET_ID: SECRET_ID, OPENBATCH_SECRET_KEY: SECRET_KEY };
}

/** A command that waits (at most about a minute) for `file` to exist, then says so. */
function waitFile(file: string): string {
  return `i=0; while [ ! -f ${file} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo survived`;
}

/** The port of the "listening on" line the process prints (through npm) once the server is up. */
function listening(proc: ChildProcess): Promise<number> {
  let out = '';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in time:\n${out}`)), 90_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? sig}) before the server listened:\n${out}`));
    });
  });
}

function procStat(pid: number): string[] | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (in parentheses) may hold spaces: the fields after it are state, ppid, ...
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Whether the process still runs (a zombie, exited and not yet reaped, does not). */
function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st[0] !== 'Z';
}

function ppidOf(pid: number): number | undefined {
  const st = procStat(pid);
  return st ? Number(st[1]) : undefined;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
