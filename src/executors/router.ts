// One executor made of several: the local one (anonymous slots and compute nodes of this host) and
// the engine of queues (Slurm), when one is configured. A group goes to the queue engine when it names
// a queue, else to the local executor; a handle names the executor that made it, so stops, releases
// and usage go back there; after a restart an attempt whose launch was never recorded is looked for
// in every engine. Logs are read from whichever engine holds them.
import type {
  AttemptId, AttemptLogs, Capacity, Executor, Handle, LaunchGroup, LaunchResult, Observation, Stream, Usage,
} from './types.ts';

export class ExecutorRouter implements Executor {
  readonly name = 'router';
  readonly logs: AttemptLogs;
  private readonly all: Executor[];

  constructor(private readonly local: Executor, private readonly queues?: Executor) {
    this.all = queues ? [local, queues] : [local];
    this.logs = new RoutedLogs(this.all.map((e) => e.logs));
  }

  /** The local executor's capacity: what anonymous tasks without a queue share. */
  capacity(): Capacity {
    return this.local.capacity();
  }

  privateMounts(queue?: string): string | undefined {
    if (queue === undefined) return this.local.privateMounts();
    return this.queues ? this.queues.privateMounts(queue) : `no engine of queues is configured for queue ${queue}`;
  }

  launch(group: LaunchGroup, started: (r: LaunchResult) => void): Promise<void> {
    if (group.queue === undefined) return this.local.launch(group, started);
    if (!this.queues) {
      for (const i of group.instances) started({ key: i.key, ok: false, error: `no engine of queues is configured for queue ${group.queue}` });
      return Promise.resolve();
    }
    return this.queues.launch(group, started);
  }

  onEvents(listener: (events: Observation[]) => void): void {
    for (const e of this.all) e.onEvents(listener);
  }

  async observe(attempts: readonly { key: string; handle: Handle | null }[]): Promise<Observation[]> {
    const known = new Map<Executor, { key: string; handle: Handle | null }[]>();
    const unknown: { key: string; handle: null }[] = [];
    for (const a of attempts) {
      if (a.handle === null) {
        unknown.push({ key: a.key, handle: null });
        continue;
      }
      const ex = this.owner(a.handle);
      if (!ex) continue; // answered as lost below
      known.set(ex, [...(known.get(ex) ?? []), a]);
    }
    const out = new Map<string, Observation>();
    for (const [ex, list] of known) for (const ob of await ex.observe(list)) out.set(ob.key, ob);
    if (unknown.length > 0) {
      // never recorded: each engine looks for it by its key; one that found it wins over "lost"
      for (const ex of this.all) {
        for (const ob of await ex.observe(unknown)) {
          const had = out.get(ob.key);
          if (!had || (had.state === 'lost' && ob.state !== 'lost')) out.set(ob.key, ob);
        }
      }
    }
    return attempts.map((a) => out.get(a.key) ?? {
      key: a.key, state: 'lost' as const, reason: `no engine of this server made it (${a.handle?.executor ?? 'unknown'})`,
    });
  }

  stop(key: string, handle: Handle, why: 'terminate' | 'timeout' | 'node-gone', graceMs: number): void {
    this.owner(handle)?.stop(key, handle, why, graceMs);
  }

  release(key: string, handle: Handle): void {
    this.owner(handle)?.release(key, handle);
  }

  get usage(): Executor['usage'] {
    if (!this.all.some((e) => e.usage)) return undefined;
    return async (attempts) => {
      const out = new Map<string, Usage>();
      const by = new Map<Executor, { key: string; handle: Handle }[]>();
      for (const a of attempts) {
        const ex = this.owner(a.handle);
        if (ex?.usage) by.set(ex, [...(by.get(ex) ?? []), a]);
      }
      for (const [ex, list] of by) for (const [k, u] of await ex.usage!(list)) out.set(k, u);
      return out;
    };
  }

  async abandonAll(): Promise<number> {
    let n = 0;
    for (const e of this.all) n += (await e.abandonAll?.()) ?? 0;
    return n;
  }

  async close(): Promise<void> {
    for (const e of this.all) await e.close();
  }

  private owner(handle: Handle): Executor | undefined {
    return this.all.find((e) => e.name === handle.executor);
  }
}

/** Logs of several engines: an attempt's logs are where its engine put them. */
class RoutedLogs implements AttemptLogs {
  constructor(private readonly parts: AttemptLogs[]) {}

  async tail(id: AttemptId, stream: Stream, maxBytes: number): Promise<Buffer | undefined> {
    for (const p of this.parts) {
      const b = await p.tail(id, stream, maxBytes);
      if (b !== undefined) return b;
    }
    return undefined;
  }

  async read(id: AttemptId, stream: Stream, start: number, end?: number): Promise<Buffer | undefined> {
    for (const p of this.parts) {
      const b = await p.read(id, stream, start, end);
      if (b !== undefined) return b;
    }
    return undefined;
  }

  async settledFile(id: AttemptId, stream: Stream): Promise<string> {
    for (const p of this.parts) if ((await p.tail(id, stream, 0)) !== undefined) return p.settledFile(id, stream);
    return this.parts[0]!.settledFile(id, stream);
  }

  async removeJob(jobId: string): Promise<void> {
    await Promise.all(this.parts.map((p) => p.removeJob(jobId)));
  }
}
