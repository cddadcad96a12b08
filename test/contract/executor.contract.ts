// The Executor contract: every engine that runs attempts (the local launchers now, Slurm next) must
// pass these tests. Only the neutral interface of src/executors/types.ts is used here; whatever is
// particular to a backend lives in its factory. Waits have generous deadlines; no duration is asserted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { endOf } from '../support/exits.ts';
import { sleep, until } from '../support/until.ts';
import {
  attemptKey, type AttemptId, type Executor, type ExitInfo, type Handle, type LaunchGroup, type LaunchResult, type Observation,
} from '../../src/executors/types.ts';

export interface ContractSetup {
  /** A fresh directory that this test and the attempts can both read and write (gate files go there);
   *  the backend may keep its state below it. Removed after the test. */
  root: string;
}

export interface ExecutorUnderTest {
  executor: Executor;
  /** A new executor on the same state, as after a restart of the service (the test has closed the
   *  previous one). May be called several times. */
  restart(): Promise<Executor>;
  /** Close every executor made and drop what the backend kept (the test has stopped its attempts). */
  cleanup(): Promise<void>;
  /** Make the directories of this job's attempts (working directory, logs) impossible to create. */
  blockJobDirs?(jobId: string): Promise<void>;
}

/** An ExecutorUnderTest whose executors come from `create` (the first, then one per restart), all
 *  closed at cleanup, then `after`; its logs and working directories live in `dataDir` (logs/ and
 *  work/, as LocalLayout places them), where blockJobDirs puts a file in the way. */
export function executorsOf(create: () => Executor, dataDir: string, after?: () => Promise<void>): ExecutorUnderTest {
  const made: Executor[] = [];
  const make = () => {
    const ex = create();
    made.push(ex);
    return ex;
  };
  return {
    executor: make(),
    restart: async () => make(),
    cleanup: async () => {
      for (const ex of made) await ex.close();
      await after?.();
    },
    blockJobDirs: async (jobId) => {
      for (const dir of ['logs', 'work']) {
        fs.mkdirSync(path.join(dataDir, dir), { recursive: true });
        fs.writeFileSync(path.join(dataDir, dir, jobId), 'a file where its directory would go');
      }
    },
  };
}

/** What a backend cannot do, declared (each says why). */
export interface ExecutorTraits {
  /** Death by signal n is reported as exit code 128 + n, signal null. */
  signalAsExitCode?: string;
  /** observe() cannot find by its key an attempt whose launch was never recorded. */
  noFindByKey?: string;
  /** The engine adds variables of its own, with these name prefixes, to every attempt's environment
   *  (why: the reason). */
  engineEnv?: { prefixes: string[]; reason: string };
}

const WAIT = 30_000;

const isEnd = (ev: Observation) => ev.state === 'exited' || ev.state === 'lost';

/** An executor with a recording listener. A queue may tell `waiting` and `running` before an end:
 *  `of` and `end` look at ends (exited, lost) only; `events` keeps everything. */
class Watch {
  readonly events = new Map<string, Observation[]>();
  readonly started = new Map<string, LaunchResult>();
  readonly launched = new Set<string>();
  /** Ends of attempts launched here that arrived before `started` was told of them. */
  readonly early: string[] = [];
  /** Events of an attempt after its end. */
  readonly late: string[] = [];
  constructor(readonly ex: Executor) {
    ex.onEvents((batch) => {
      for (const ev of batch) {
        if (this.launched.has(ev.key) && !this.started.has(ev.key)) this.early.push(ev.key);
        if (this.of(ev.key).length > 0) this.late.push(`${ev.key} ${ev.state}`);
        this.events.set(ev.key, [...(this.events.get(ev.key) ?? []), ev]);
      }
    });
  }
  /** The ends told of an attempt. */
  of(key: string): Observation[] {
    return (this.events.get(key) ?? []).filter(isEnd);
  }
  async end(key: string): Promise<ExitInfo> {
    const ev = await until(`the end of ${key}`, () => this.of(key)[0]);
    if (ev.state !== 'exited') throw new Error(`${key} ended ${ev.state}: ${JSON.stringify(ev)}`);
    // what the attempt used, when the executor measures it, is well formed; the rest is compared exactly
    if (ev.exit.usage) expect(ev.exit.usage.cpuSeconds).toBeGreaterThanOrEqual(0);
    return endOf(ev.exit);
  }
}

let seq = 0;

export function executorContract(name: string, make: (s: ContractSetup) => Promise<ExecutorUnderTest>, traits: ExecutorTraits = {}): void {
  describe(`Executor contract: ${name}`, () => {
    let root: string;
    let ut: ExecutorUnderTest;
    let w: Watch;
    /** The executor that stops leftovers after the test (the latest one). */
    let current: Executor;
    const live: { key: string; handle: Handle }[] = [];

    beforeEach(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-contract-'));
      ut = await make({ root });
      current = ut.executor;
      w = new Watch(ut.executor);
    });

    afterEach(async () => {
      for (const a of live.splice(0)) current.stop(a.key, a.handle, 'terminate', 0);
      await ut.cleanup();
      fs.rmSync(root, { recursive: true, force: true });
      expect(w.early).toEqual([]);
      expect(w.late).toEqual([]);
    });

    async function restart(): Promise<Watch> {
      const ex = await ut.restart();
      current = ex;
      return new Watch(ex);
    }

    /** A group of `n` instances of one command (a job of its own unless `jobId` is given). */
    function group(command: string, o: { n?: number; env?: Record<string, string>; jobId?: string } = {}) {
      const jobId = o.jobId ?? `job-c${process.pid}x${++seq}`;
      const ids: AttemptId[] = Array.from({ length: o.n ?? 1 }, (_, index) => ({ jobId, taskName: 'T', index, attempt: 1 }));
      const g: LaunchGroup = {
        jobId, taskName: 'T', account: 'acc', command, env: { BATCH_JOB_ID: jobId, ...o.env },
        limits: { timeoutSec: 0, maxConcurrent: 0 },
        instances: ids.map((id) => ({ key: attemptKey(id), index: id.index, attempt: id.attempt })),
      };
      return { g, ids, keys: ids.map(attemptKey) };
    }

    async function launch(g: LaunchGroup, on: Watch = w): Promise<LaunchResult[]> {
      const got: LaunchResult[] = [];
      for (const i of g.instances) on.launched.add(i.key);
      await on.ex.launch(g, (r) => {
        on.started.set(r.key, r);
        got.push(r);
        if (r.ok) live.push({ key: r.key, handle: r.handle });
      });
      expect(got.map((r) => r.key).sort()).toEqual(g.instances.map((i) => i.key).sort());
      return got;
    }

    /** Launch one attempt that must start; its key, id and handle. */
    async function run(command: string, env: Record<string, string> = {}) {
      const { g, ids, keys } = group(command, { env });
      const [r] = await launch(g);
      if (!r?.ok) throw new Error(`launch failed: ${JSON.stringify(r)}`);
      return { key: keys[0]!, id: ids[0]!, handle: r.handle, jobId: g.jobId };
    }

    const text = async (id: AttemptId, stream: 'stdout' | 'stderr' = 'stdout') => (await current.logs.read(id, stream, 0))?.toString();
    /** A gate the attempt waits for (`GATE` in its environment) and a way to open it. */
    const gate = (tag: string) => {
      const file = path.join(root, `gate-${tag}`);
      return { env: { GATE: file }, wait: 'while [ ! -f "$GATE" ]; do sleep 0.05; done', open: () => fs.writeFileSync(file, '') };
    };
    /** Wait until the attempt's stdout holds `want` (it reached that point). */
    const wrote = (id: AttemptId, want: string) => until(`output ${JSON.stringify(want)}`, async () => ((await text(id)) === want ? true : undefined));
    const dead = (sig: 'SIGTERM' | 'SIGKILL', n: number): ExitInfo =>
      traits.signalAsExitCode ? { exitCode: 128 + n, signal: null } : { exitCode: null, signal: sig };

    it('declares its capacity', () => {
      const c = ut.executor.capacity();
      if (c.kind === 'slots') expect(Number.isInteger(c.slots) && c.slots >= 1).toBe(true);
      else expect(c).toMatchObject({ kind: 'queue', name: expect.stringMatching(/./) });
      expect(ut.executor.name).toMatch(/./);
    });

    it('reports exit codes 0, 3 and 255, each once', async () => {
      const as = await Promise.all([0, 3, 255].map((c) => run(`exit ${c}`)));
      for (const [i, c] of [0, 3, 255].entries()) expect(await w.end(as[i]!.key)).toEqual({ exitCode: c, signal: null });
      expect(as[0]!.handle.executor).toBe(ut.executor.name);
      expect(JSON.parse(JSON.stringify(as[0]!.handle))).toEqual(as[0]!.handle); // JSON, as the store keeps it
      await sleep(200);
      for (const a of as) expect(w.of(a.key)).toHaveLength(1);
    });

    it(`reports death by its own signal${traits.signalAsExitCode ? ` as 128 + n (${traits.signalAsExitCode})` : ': no exit code, the signal\'s name'}`, async () => {
      const term = await run('kill -TERM $$; sleep 5');
      const kill = await run('kill -KILL $$; sleep 5');
      expect(await w.end(term.key)).toEqual(dead('SIGTERM', 15));
      expect(await w.end(kill.key)).toEqual(dead('SIGKILL', 9));
    });

    it('builds the environment from the group\'s variables, the instance index and the documented PATH, none of the server\'s', async () => {
      process.env.OPENBATCH_CONTRACT_MARKER = 'server-only';
      try {
        const a = await run('printf "%s|%s|%s|%s\\n" "$PATH" "$BATCH_TASK_INSTANCE_INDEX" "$TASK_VAR" "${OPENBATCH_CONTRACT_MARKER-absent}"',
          { TASK_VAR: 'a b "c" $d' });
        expect(await w.end(a.key)).toEqual({ exitCode: 0, signal: null });
        expect(await text(a.id)).toBe('/usr/local/bin:/usr/bin:/bin|0|a b "c" $d|absent\n');
      } finally {
        delete process.env.OPENBATCH_CONTRACT_MARKER;
      }
    });

    it(`builds nothing else into the environment${traits.engineEnv ? ` but the engine's ${traits.engineEnv.prefixes.join(', ')}* variables (${traits.engineEnv.reason})` : ''}`, async () => {
      const a = await run('env | sed -n "s/^\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\1/p" | sort', { TASK_VAR: 'x' });
      expect(await w.end(a.key)).toEqual({ exitCode: 0, signal: null });
      // what the shell running the command sets itself: PWD (dash, bash), SHLVL and _ (bash)
      const shell = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);
      const engine = traits.engineEnv?.prefixes ?? [];
      const names = ((await text(a.id)) ?? '').split('\n').filter((n) => n && !shell.has(n) && !engine.some((p) => n.startsWith(p)));
      expect(names.sort()).toEqual(['BATCH_JOB_ID', 'BATCH_TASK_INSTANCE_INDEX', 'HOME', 'LANG', 'PATH', 'TASK_VAR', 'TMPDIR']);
    });

    it('launches a group of instances in one call: each started, then ended once under its own key', async () => {
      const { g, ids, keys } = group('echo "$BATCH_TASK_INSTANCE_INDEX $SHARED"; exit $((BATCH_TASK_INSTANCE_INDEX + 10))', { n: 5, env: { SHARED: 'all' } });
      const rs = await launch(g);
      expect(rs.every((r) => r.ok)).toBe(true);
      expect(new Set(rs.map((r) => (r.ok ? JSON.stringify(r.handle) : ''))).size).toBe(5);
      for (const [i, key] of keys.entries()) {
        expect(await w.end(key)).toEqual({ exitCode: 10 + i, signal: null });
        expect(await text(ids[i]!)).toBe(`${i} all\n`);
      }
      await sleep(200);
      for (const key of keys) expect(w.of(key)).toHaveLength(1);
      expect(w.early).toEqual([]);
    });

    it('stop with graceMs 0 (timeout) kills at once', async () => {
      const a = await run('echo ready; sleep 100');
      await wrote(a.id, 'ready\n');
      current.stop(a.key, a.handle, 'timeout', 0);
      expect(await w.end(a.key)).toEqual({ exitCode: null, signal: 'SIGKILL' });
    });

    it('stop terminate with a grace: a command that traps TERM ends as it chooses', async () => {
      const a = await run('trap "exit 7" TERM; echo ready; while :; do sleep 0.05; done');
      await wrote(a.id, 'ready\n');
      current.stop(a.key, a.handle, 'terminate', WAIT);
      expect(await w.end(a.key)).toEqual({ exitCode: 7, signal: null });
    });

    it('stop terminate with a grace: a command that ignores TERM is killed after it', async () => {
      const a = await run('trap "" TERM; echo ready; while :; do sleep 0.05; done');
      await wrote(a.id, 'ready\n');
      current.stop(a.key, a.handle, 'terminate', 500);
      expect(await w.end(a.key)).toEqual({ exitCode: null, signal: 'SIGKILL' });
    });

    it('takes stop and release of an ended attempt harmlessly; release is idempotent', async () => {
      const a = await run('exit 2');
      expect(await w.end(a.key)).toEqual({ exitCode: 2, signal: null });
      current.stop(a.key, a.handle, 'terminate', 0);
      current.stop(a.key, a.handle, 'terminate', 200);
      current.stop(a.key, a.handle, 'node-gone', 200);
      await sleep(400);
      current.release(a.key, a.handle);
      current.release(a.key, a.handle);
      expect(w.of(a.key)).toHaveLength(1);
      const b = await run('exit 1'); // the executor goes on
      expect(await w.end(b.key)).toEqual({ exitCode: 1, signal: null });
    });

    it('re-adopts a running attempt after a restart: its end comes through the new executor only', async () => {
      const g = gate('readopt');
      const a = await run(`echo up; ${g.wait}; exit 4`, g.env);
      await wrote(a.id, 'up\n');
      await ut.executor.close();
      const b = await restart();
      expect(await b.ex.observe([{ key: a.key, handle: a.handle }])).toEqual([expect.objectContaining({ key: a.key, state: 'running' })]);
      g.open();
      expect(await b.end(a.key)).toEqual({ exitCode: 4, signal: null });
      await sleep(300);
      expect(b.of(a.key)).toHaveLength(1);
      expect(w.of(a.key)).toEqual([]); // the closed executor watches no more
      b.ex.release(a.key, a.handle);
    });

    it('tells after a restart how an attempt that ended while no executor watched exited', async () => {
      const g = gate('unwatched');
      const done = path.join(root, 'done');
      const a = await run(`${g.wait}; : > "${done}"; exit 5`, g.env);
      await ut.executor.close();
      g.open();
      await until('the attempt to finish', () => (fs.existsSync(done) ? true : undefined));
      // until a restarted executor finds it ended (its status may lag its last command)
      const { b, ob } = await until('an observation of its end', async () => {
        const b = await restart();
        const [ob] = await b.ex.observe([{ key: a.key, handle: a.handle }]);
        if (ob?.state === 'exited') return { b, ob };
        expect(ob?.state).toBe('running');
        await b.ex.close();
        return undefined;
      });
      expect(ob).toEqual(expect.objectContaining({ key: a.key, state: 'exited', exit: expect.objectContaining({ exitCode: 5, signal: null }) }));
      expect((await b.ex.observe([{ key: a.key, handle: a.handle }]))[0]).toEqual(ob); // asking again is harmless
      b.ex.stop(a.key, a.handle, 'terminate', 0);
      await sleep(300);
      expect(b.of(a.key)).toEqual([]); // what observe() answered is not pushed again
      b.ex.release(a.key, a.handle);
    });

    it.skipIf(traits.noFindByKey)(`finds by its key an attempt whose launch was never recorded${traits.noFindByKey ? ` (skipped: ${traits.noFindByKey})` : ''}`, async () => {
      const g = gate('bykey');
      const a = await run(`echo up; ${g.wait}; exit 6`, g.env);
      await wrote(a.id, 'up\n');
      await ut.executor.close();
      const b = await restart();
      const [ob] = await b.ex.observe([{ key: a.key, handle: null }]);
      expect(ob).toMatchObject({ key: a.key, state: 'running', handle: { executor: ut.executor.name } });
      g.open();
      expect(await b.end(a.key)).toEqual({ exitCode: 6, signal: null });
      await b.ex.close();
      const c = await restart();
      const [again] = await c.ex.observe([{ key: a.key, handle: null }]);
      expect(again).toMatchObject({ key: a.key, state: 'exited', exit: { exitCode: 6, signal: null }, handle: { executor: ut.executor.name } });
      c.ex.release(a.key, (again as { handle: Handle }).handle);
    });

    it('says lost for an attempt without a trace: its process gone and its end released, or never started', async () => {
      const a = await run('exit 0');
      await w.end(a.key);
      ut.executor.release(a.key, a.handle);
      await ut.executor.close();
      const b = await restart();
      const never = attemptKey({ jobId: a.jobId, taskName: 'T', index: 9, attempt: 1 });
      const obs = await b.ex.observe([{ key: a.key, handle: a.handle }, { key: never, handle: null }]);
      expect(obs).toEqual([
        { key: a.key, state: 'lost', reason: expect.stringMatching(/./) },
        { key: never, state: 'lost', reason: expect.stringMatching(/./) },
      ]);
      await sleep(300);
      expect(b.events.size).toBe(0);
    });

    it('reports a launch that cannot start as ok:false with a message, and never its end', async () => {
      const { g, keys } = group('true', { n: 2, env: { BROKEN: 'nul \0 inside' } }); // no process can receive it
      const rs = await launch(g);
      for (const r of rs) expect(r).toEqual({ key: r.key, ok: false, error: expect.stringMatching(/./) });
      await sleep(300);
      for (const key of keys) expect(w.of(key)).toEqual([]);
      const b = await run('exit 0');
      expect(await w.end(b.key)).toEqual({ exitCode: 0, signal: null });
    });

    it('reports ok:false when the directories of the attempts cannot be created', async (ctx) => {
      if (!ut.blockJobDirs) return ctx.skip('this backend\'s factory cannot make the directories of a job impossible to create');
      const { g, keys } = group('true', { n: 2 });
      await ut.blockJobDirs(g.jobId);
      const rs = await launch(g);
      for (const r of rs) expect(r).toEqual({ key: r.key, ok: false, error: expect.stringMatching(/./) });
      await sleep(300);
      for (const key of keys) expect(w.of(key)).toEqual([]);
    });

    it('logs: tail of a running attempt shows what it wrote so far, then all of it', async () => {
      const g = gate('tail');
      const a = await run(`printf 'first\\n'; ${g.wait}; printf 'second\\n'; printf 'oops' >&2`, g.env);
      await until('the first line', async () => ((await current.logs.tail(a.id, 'stdout', 1024))?.toString() === 'first\n' ? true : undefined));
      expect((await current.logs.tail(a.id, 'stdout', 3))?.toString()).toBe('st\n');
      g.open();
      await w.end(a.key);
      expect((await current.logs.tail(a.id, 'stdout', 1024))?.toString()).toBe('first\nsecond\n');
      expect((await current.logs.tail(a.id, 'stdout', 7))?.toString()).toBe('second\n');
      expect((await current.logs.tail(a.id, 'stderr', 1024))?.toString()).toBe('oops');
    });

    it('logs: read(start, end) has an exclusive end, clamped to the size', async () => {
      const a = await run('printf 0123456789');
      await w.end(a.key);
      const read = async (s: number, e?: number) => (await current.logs.read(a.id, 'stdout', s, e))?.toString();
      expect(await read(0)).toBe('0123456789');
      expect(await read(2, 5)).toBe('234');
      expect(await read(4, 4)).toBe('');
      expect(await read(8, 100)).toBe('89');
      expect(await read(20)).toBe('');
      expect(await read(20, 30)).toBe('');
      expect(fs.readFileSync(await current.logs.settledFile(a.id, 'stdout'), 'utf8')).toBe('0123456789');
    });

    it('logs: settledFile of an attempt that wrote nothing is an empty readable file; removeJob removes the logs', async () => {
      const a = await run('true');
      await w.end(a.key);
      const never: AttemptId = { ...a.id, index: 7 };
      expect(await current.logs.tail(never, 'stdout', 10)).toBeUndefined();
      expect((await current.logs.tail(a.id, 'stderr', 10))?.length).toBe(0);
      for (const id of [a.id, never]) {
        for (const s of ['stdout', 'stderr'] as const) expect(fs.readFileSync(await current.logs.settledFile(id, s), 'utf8')).toBe('');
      }
      await current.logs.removeJob(a.jobId);
      expect(await current.logs.tail(a.id, 'stdout', 10)).toBeUndefined();
      expect(await current.logs.read(a.id, 'stderr', 0)).toBeUndefined();
      await current.logs.removeJob(a.jobId); // nothing left: harmless
    });

    it('usage (when offered) counts the CPU seconds of a busy attempt', async (ctx) => {
      const usage = ut.executor.usage?.bind(ut.executor);
      if (!usage) return ctx.skip('this executor does not offer the usage capability');
      const a = await run('while :; do :; done');
      const u = await until('CPU seconds', async () => {
        const got = (await usage([{ key: a.key, handle: a.handle }])).get(a.key);
        return got && got.cpuSeconds > 0 ? got : undefined;
      });
      expect(u.memoryBytes).toBeGreaterThanOrEqual(0);
      current.stop(a.key, a.handle, 'timeout', 0);
      expect(await w.end(a.key)).toEqual({ exitCode: null, signal: 'SIGKILL' });
    });
  });
}
