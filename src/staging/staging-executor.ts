// The staging executor: an Executor in front of the engines that gives attempts their data. A group
// whose task has InputMappings, OutputMappings or a PACKAGE is accepted at once as waiting (the
// instances show STARTING, StateReason Staging, StateDetailedReason what is being staged: staging
// does not count against Timeout), staged (stager.ts), then launched in the engine with its mounts and
// seed directory — its `running` event names the engine's handle. When such an attempt ends, its
// outputs are uploaded before its end is told; one whose uploads failed ends with a cause (it fails,
// whatever its exit code). Everything else passes straight through.
import type {
  AttemptId, AttemptLogs, Capacity, Executor, Handle, LaunchGroup, LaunchResult, Observation, StopReason, Stream, Usage,
} from '../executors/types.ts';
import { StagingFailed, type Stager } from './stager.ts';

const NAME = 'staging';
const STAGING = 'Staging';

type Phase = { kind: 'staging' } | { kind: 'launching'; stop?: { why: StopReason; graceMs: number } };

export class StagingExecutor implements Executor {
  readonly name = NAME;
  readonly logs: AttemptLogs;
  private listener: (events: Observation[]) => void = () => {};
  /** Attempts not yet started in the engine, by key. */
  private readonly phase = new Map<string, Phase>();
  /** Attempts whose outputs go up when they end. */
  private readonly outputs = new Set<string>();
  /** Attempts staged here (their directories go at release), by key: their job. */
  private readonly staged = new Map<string, string>();
  /** Stopped by TerminateJob / TerminateTaskInstance: their outputs are not uploaded. */
  private readonly terminated = new Set<string>();
  private readonly abort = new AbortController();

  constructor(private readonly inner: Executor, private readonly stager: Stager, private readonly warn: (obj: object, msg: string) => void) {
    inner.onEvents((evs) => this.fromInner(evs));
    this.logs = new StagedLogs(inner.logs, stager);
  }

  capacity(): Capacity {
    return this.inner.capacity();
  }

  privateMounts(queue?: string): string | undefined {
    return this.inner.privateMounts(queue);
  }

  onEvents(listener: (events: Observation[]) => void): void {
    this.listener = listener;
  }

  async launch(g: LaunchGroup, started: (r: LaunchResult) => void): Promise<void> {
    if (!g.data) return this.inner.launch(g, started);
    const first = `staging the data of task ${g.taskName}`;
    for (const i of g.instances) {
      this.phase.set(i.key, { kind: 'staging' });
      this.staged.set(i.key, g.jobId);
      started({ key: i.key, ok: true, handle: { executor: NAME, key: i.key }, waiting: { reason: STAGING, detail: first } });
    }
    const active = () => g.instances.filter((i) => this.phase.get(i.key)?.kind === 'staging');
    let prepared;
    try {
      prepared = await this.stager.prepare(g, (detail) => {
        this.emit(active().map((i) => ({ key: i.key, state: 'waiting', wait: { reason: STAGING, detail } })));
      }, this.abort.signal);
    } catch (e) {
      const cause = e instanceof StagingFailed ? e.failure : { reason: 'StagingFailed', detail: `staging failed: ${e instanceof Error ? e.message : String(e)}` };
      const ending = active();
      for (const i of ending) this.phase.delete(i.key);
      this.emit(ending.map((i) => ({ key: i.key, state: 'exited', exit: { exitCode: null, signal: null, cause } })));
      return;
    }
    const go = active();
    for (const i of go) {
      this.phase.set(i.key, { kind: 'launching' });
      if (prepared.withOutputs.has(i.key)) this.outputs.add(i.key);
    }
    if (go.length === 0) return;
    const inner: LaunchGroup = {
      ...g, data: undefined, ...(prepared.seedDir ? { seedDir: prepared.seedDir } : {}),
      instances: go.map((i) => ({ ...i, mounts: prepared.mounts.get(i.key) ?? [] })),
    };
    await this.inner.launch(inner, (r) => {
      const ph = this.phase.get(r.key);
      this.phase.delete(r.key);
      if (!r.ok) {
        this.outputs.delete(r.key);
        this.emit([{ key: r.key, state: 'exited', exit: { exitCode: null, signal: null, cause: { reason: 'LaunchFailed', detail: `the attempt could not be started: ${r.error}` } } }]);
        return;
      }
      this.emit([r.waiting ? { key: r.key, state: 'waiting', wait: r.waiting, handle: r.handle } : { key: r.key, state: 'running', handle: r.handle }]);
      // stopped while the engine started it: stopped there now
      if (ph?.kind === 'launching' && ph.stop) this.inner.stop(r.key, r.handle, ph.stop.why, ph.stop.graceMs);
    });
  }

  async observe(attempts: readonly { key: string; handle: Handle | null }[]): Promise<Observation[]> {
    const mine = new Set(attempts.filter((a) => a.handle?.executor === NAME).map((a) => a.key));
    // one cut short in staging may have reached the engine: looked for there by its key
    const found = await this.inner.observe(attempts.map((a) => (mine.has(a.key) ? { key: a.key, handle: null } : a)));
    return found.map((ob) => {
      const jobId = ob.key.slice(0, ob.key.indexOf('.'));
      const staged = this.stager.found(jobId, ob.key);
      if (staged) this.staged.set(ob.key, jobId);
      if (ob.state === 'lost' && mine.has(ob.key)) {
        return { key: ob.key, state: 'lost', reason: 'its staging was cut short by a restart of the server', infrastructure: true };
      }
      if (!staged?.outputs) return ob;
      if (ob.state === 'exited') {
        // ended while no server watched: its outputs go up now, and then its end is told
        this.outputs.add(ob.key);
        setImmediate(() => this.fromInner([ob]));
        return { key: ob.key, state: 'running', ...(ob.handle ? { handle: ob.handle } : {}) };
      }
      if (ob.state !== 'lost') this.outputs.add(ob.key);
      return ob;
    });
  }

  stop(key: string, handle: Handle, why: StopReason, graceMs: number): void {
    if (why === 'terminate') this.terminated.add(key);
    if (handle.executor !== NAME) {
      this.inner.stop(key, handle, why, graceMs);
      return;
    }
    const ph = this.phase.get(key);
    if (!ph) return; // ended already
    if (ph.kind === 'launching') {
      ph.stop = { why, graceMs };
      return;
    }
    // still staging: it never runs
    this.phase.delete(key);
    this.outputs.delete(key);
    this.emit([{ key, state: 'exited', exit: { exitCode: null, signal: null } }]);
  }

  release(key: string, handle: Handle): void {
    if (handle.executor !== NAME) this.inner.release(key, handle);
    this.terminated.delete(key);
    const jobId = this.staged.get(key);
    if (jobId === undefined) return;
    this.staged.delete(key);
    void this.stager.cleanup(jobId, key).catch((e: unknown) => this.warn({ err: e, key }, 'removing the staging directory of an attempt failed'));
  }

  async usage(attempts: readonly { key: string; handle: Handle }[]): Promise<Map<string, Usage>> {
    if (!this.inner.usage) return new Map();
    return this.inner.usage(attempts.filter((a) => a.handle.executor !== NAME));
  }

  async abandonAll(): Promise<number> {
    return (await this.inner.abandonAll?.()) ?? 0;
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('the server is shutting down'));
    await this.inner.close();
  }

  private fromInner(events: Observation[]): void {
    const now: Observation[] = [];
    for (const ev of events) {
      if (ev.state !== 'exited' || !this.outputs.has(ev.key)) {
        now.push(ev);
        continue;
      }
      this.outputs.delete(ev.key);
      if (this.terminated.has(ev.key)) {
        now.push(ev); // COMPAT: a terminated attempt's outputs are not uploaded (docs/compat.md)
        continue;
      }
      void this.stager.collect(ev.key, this.abort.signal).then(
        (failed) => this.emit([failed ? { ...ev, exit: { ...ev.exit, cause: failed } } : ev]),
        (e: unknown) => {
          if (this.abort.signal.aborted) return; // the next server uploads them
          this.emit([{ ...ev, exit: { ...ev.exit, cause: { reason: 'OutputMappingFailed', detail: `the outputs could not be uploaded: ${e instanceof Error ? e.message : String(e)}` } } }]);
        },
      );
    }
    if (now.length > 0) this.emit(now);
  }

  private emit(events: Observation[]): void {
    if (events.length === 0 || this.abort.signal.aborted) return;
    try {
      this.listener(events);
    } catch (e) {
      this.warn({ err: e }, 'event listener failed');
    }
  }
}

/** The engines' logs; DeleteJob also removes what staging left of the job. */
class StagedLogs implements AttemptLogs {
  constructor(private readonly inner: AttemptLogs, private readonly stager: Stager) {}
  tail(id: AttemptId, stream: Stream, maxBytes: number): Promise<Buffer | undefined> {
    return this.inner.tail(id, stream, maxBytes);
  }
  read(id: AttemptId, stream: Stream, start: number, end?: number): Promise<Buffer | undefined> {
    return this.inner.read(id, stream, start, end);
  }
  settledFile(id: AttemptId, stream: Stream): Promise<string> {
    return this.inner.settledFile(id, stream);
  }
  async removeJob(jobId: string): Promise<void> {
    await Promise.all([this.inner.removeJob(jobId), this.stager.removeJob(jobId)]);
  }
}
