// Logs of local attempts that ran on another replica's host (several replicas on one store): RemoteLogs
// answers from this host's engines first and, where they have no such log, fetches it from the replica
// that ran the attempt — the owner its handle names while it runs, else (ended) each replica the
// registry saw lately — through GET ATTEMPT_LOG_PATH, signed (lib/internal-auth.ts), with a short
// timeout. An owner that cannot be reached or is unknown answers nothing (the log reads as absent),
// warned once until it answers again. The query's codec is here too: the API server parses it.
import type { AttemptId, AttemptLogs, Stream } from '../executors/types.ts';
import type { Clock } from '../lib/clock.ts';
import type { InternalKey } from '../lib/internal-auth.ts';
import type { Logger } from '../lib/logger.ts';
import type { Store } from '../store/types.ts';
import type { ReplicaDirectory } from './replicas.ts';

export const ATTEMPT_LOG_PATH = '/internal/v1/attempt-log';
/** The most bytes one answer carries (a longer read takes several requests). */
export const MAX_LOG_BYTES = 4 * 1024 * 1024;
/** How long a replica may take to answer one request. */
export const REMOTE_TIMEOUT_MS = 2_000;
/** After a replica failed to answer, how long it is not asked again (its logs read as absent). */
export const DOWN_PAUSE_MS = 5_000;

export type LogRange = { tail: number } | { start: number; end: number };

export interface AttemptLogQuery {
  id: AttemptId;
  stream: Stream;
  range: LogRange;
}

/** Path and query of the request for `q` (parameters in a fixed order, as signed). */
export function attemptLogPath(q: AttemptLogQuery): string {
  const p = new URLSearchParams({
    job: q.id.jobId, task: q.id.taskName, index: String(q.id.index), attempt: String(q.id.attempt), stream: q.stream,
  });
  if ('tail' in q.range) p.set('tail', String(q.range.tail));
  else {
    p.set('start', String(q.range.start));
    p.set('end', String(q.range.end));
  }
  return `${ATTEMPT_LOG_PATH}?${p.toString()}`;
}

const JOB = /^job-[a-z0-9]{8}$/;
const TASK = /^[A-Za-z0-9_-]{1,128}$/;
const UINT = /^(0|[1-9][0-9]{0,14})$/;
const KNOWN = new Set(['job', 'task', 'index', 'attempt', 'stream', 'tail', 'start', 'end']);

/** The query of a request, or why it is malformed. Names are checked strictly: they become paths. */
export function parseAttemptLogQuery(raw: string): AttemptLogQuery | { error: string } {
  const p = new URLSearchParams(raw);
  for (const k of p.keys()) {
    if (!KNOWN.has(k)) return { error: `unknown parameter ${JSON.stringify(k)}` };
    if (p.getAll(k).length > 1) return { error: `parameter ${k} is given twice` };
  }
  const int = (k: string): number | undefined => {
    const v = p.get(k);
    return v !== null && UINT.test(v) ? Number(v) : undefined;
  };
  const jobId = p.get('job') ?? '', taskName = p.get('task') ?? '', stream = p.get('stream');
  const index = int('index'), attempt = int('attempt');
  if (!JOB.test(jobId)) return { error: 'job must be a job id (job-xxxxxxxx)' };
  if (!TASK.test(taskName)) return { error: 'task must be a task name (letters, digits, _ and -)' };
  if (index === undefined) return { error: 'index must be a non-negative integer' };
  if (attempt === undefined || attempt < 1) return { error: 'attempt must be a positive integer' };
  if (stream !== 'stdout' && stream !== 'stderr') return { error: 'stream must be stdout or stderr' };
  const id = { jobId, taskName, index, attempt };
  const tail = int('tail'), start = int('start'), end = int('end');
  if (p.has('tail')) {
    if (p.has('start') || p.has('end')) return { error: 'give tail, or start and end, not both' };
    if (tail === undefined || tail > MAX_LOG_BYTES) return { error: `tail must be an integer from 0 to ${MAX_LOG_BYTES}` };
    return { id, stream, range: { tail } };
  }
  if (start === undefined || end === undefined || end < start || end - start > MAX_LOG_BYTES) {
    return { error: `give tail, or start and end (integers, end - start from 0 to ${MAX_LOG_BYTES})` };
  }
  return { id, stream, range: { start, end } };
}

export interface RemoteLogsOptions {
  /** The engines of this host (their logs are read first). */
  inner: AttemptLogs;
  /** Where an attempt's current handle is read (its owner, while it runs). */
  store: Pick<Store, 'getInstance'>;
  directory: ReplicaDirectory;
  key: InternalKey;
  clock: Clock;
  logger: Logger;
  timeoutMs?: number;
}

/** What one replica said to one request. */
type Answer = { kind: 'bytes'; bytes: Buffer } | { kind: 'absent' } | { kind: 'failed'; why: string };

/** How many attempts remember which replica had their logs. */
const FOUND_KEPT = 1000;

export class RemoteLogs implements AttemptLogs {
  /** Replicas that failed to answer, warned of (once until they answer again). */
  private readonly warned = new Set<string>();
  /** Which replica answered the logs of an ended attempt (asked first next time). */
  private readonly found = new Map<string, string>();
  /** Replicas that failed to answer: not asked again before this time (ms), so that a request for
   *  ten instances' logs waits for one timeout at most, not one per log. */
  private readonly downUntil = new Map<string, number>();

  constructor(private readonly o: RemoteLogsOptions) {}

  async tail(id: AttemptId, stream: Stream, maxBytes: number): Promise<Buffer | undefined> {
    const local = await this.o.inner.tail(id, stream, maxBytes);
    if (local !== undefined) return local;
    return this.fetch({ id, stream, range: { tail: Math.min(Math.max(0, maxBytes), MAX_LOG_BYTES) } });
  }

  async read(id: AttemptId, stream: Stream, start: number, end?: number): Promise<Buffer | undefined> {
    const local = await this.o.inner.read(id, stream, start, end);
    if (local !== undefined) return local;
    // in requests of MAX_LOG_BYTES at most, until the range is read or the log ends
    const parts: Buffer[] = [];
    for (let at = Math.max(0, start); end === undefined || at < end;) {
      const want = Math.min(end ?? Number.MAX_SAFE_INTEGER, at + MAX_LOG_BYTES) - at;
      const b = await this.fetch({ id, stream, range: { start: at, end: at + want } });
      if (b === undefined) return parts.length === 0 ? undefined : Buffer.concat(parts);
      parts.push(b);
      at += b.length;
      if (b.length < want) break;
    }
    return Buffer.concat(parts);
  }

  settledFile(id: AttemptId, stream: Stream): Promise<string> {
    // the leader ships the logs of the attempts it ran, on its own host
    return this.o.inner.settledFile(id, stream);
  }

  removeJob(jobId: string): Promise<void> {
    return this.o.inner.removeJob(jobId);
  }

  /** The log from whichever other replica has it; undefined when none does (or none answers). */
  private async fetch(q: AttemptLogQuery): Promise<Buffer | undefined> {
    const key = `${q.id.jobId}.${q.id.taskName}.${q.id.index}.${q.id.attempt}`;
    const owner = await this.ownerOf(q.id);
    if (owner === null) return undefined;
    const remembered = this.found.get(key);
    const asked = owner ?? remembered;
    if (asked !== undefined) {
      const r = await this.direct(asked, q);
      if (r !== undefined || owner !== undefined) return r;
      this.found.delete(key);
    }
    // an ended attempt: its owner is not recorded, ask every replica seen lately (one has it at most)
    const peers = (await this.o.directory.others()).filter((p) => p.id !== asked);
    // the first that has it answers (the others are not waited for)
    const hit = await new Promise<{ id: string; bytes: Buffer } | undefined>((resolve) => {
      let left = peers.length;
      if (left === 0) resolve(undefined);
      for (const p of peers) {
        void this.ask(p.id, p.url, q).then((a) => {
          if (a.kind === 'bytes') resolve({ id: p.id, bytes: a.bytes });
          if (--left === 0) resolve(undefined);
        });
      }
    });
    if (!hit) return undefined;
    if (this.found.size >= FOUND_KEPT) this.found.clear();
    this.found.set(key, hit.id);
    return hit.bytes;
  }

  /** The log from one replica named by the attempt's handle or remembered; undefined when it has none. */
  private async direct(id: string, q: AttemptLogQuery): Promise<Buffer | undefined> {
    if (id === this.o.directory.id) return undefined;
    const r = await this.o.directory.find(id).catch(() => undefined);
    if (!r) {
      this.warnOnce(id, `replica ${id}, which runs the attempt, is not in the registry of replicas: the logs of its attempts are not available from here until it registers`);
      return undefined;
    }
    const a = await this.ask(r.id, r.url, q);
    return a.kind === 'bytes' ? a.bytes : undefined;
  }

  /**
   * The replica whose host runs the attempt, from its handle: undefined when the handle does not say
   * (an ended attempt), null when the log is not a remote one (another engine's, e.g. Slurm's shared
   * directory or an attempt still staging, or this replica's own).
   */
  private async ownerOf(id: AttemptId): Promise<string | undefined | null> {
    let h: unknown;
    try {
      const inst = await this.o.store.getInstance(id.jobId, id.taskName, id.index);
      h = inst && inst.attempt === id.attempt ? inst.handle : undefined;
    } catch {
      return undefined;
    }
    if (typeof h !== 'object' || h === null) return undefined;
    const handle = h as { executor?: unknown; owner?: unknown };
    if (handle.executor !== 'local') return null;
    if (typeof handle.owner !== 'string') return undefined;
    return handle.owner === this.o.directory.id ? null : handle.owner;
  }

  /** What `replica` answers to `q`; never rejects. */
  private async ask(replica: string, url: string, q: AttemptLogQuery): Promise<Answer> {
    const paused = this.downUntil.get(replica);
    if (paused !== undefined && this.o.clock.now() < paused) return { kind: 'failed', why: 'it failed to answer a moment ago' };
    const path = attemptLogPath(q);
    let a: Answer;
    try {
      const res = await fetch(`${url}${path}`, {
        headers: this.o.key.headers('GET', path, this.o.clock.now()),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? REMOTE_TIMEOUT_MS),
        redirect: 'error',
      });
      if (res.status === 200) a = { kind: 'bytes', bytes: Buffer.from(await res.arrayBuffer()) };
      else {
        const body = await res.text().catch(() => '');
        if (res.status === 404) a = { kind: 'absent' };
        else a = { kind: 'failed', why: `it answered HTTP ${res.status}${messageOf(body)}` };
      }
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      a = { kind: 'failed', why: err.name === 'TimeoutError' ? `it did not answer within ${this.o.timeoutMs ?? REMOTE_TIMEOUT_MS} ms` : `${err.cause?.code ?? err.message}` };
    }
    if (a.kind === 'failed') {
      this.downUntil.set(replica, this.o.clock.now() + DOWN_PAUSE_MS);
      // COMPAT: the logs of an attempt whose replica cannot be reached read as absent (null on the
      // wire) until it answers again, said once per outage (docs/compat.md, several replicas)
      this.warnOnce(replica, `the logs of attempts that ran on replica ${replica} (${url}) cannot be fetched: ${a.why}; they read as empty until it answers`);
    } else {
      this.downUntil.delete(replica);
      if (this.warned.delete(replica)) this.o.logger.info({ replica }, `replica ${replica} answers requests for logs again`);
    }
    return a;
  }

  private warnOnce(replica: string, msg: string): void {
    if (this.warned.has(replica)) return;
    this.warned.add(replica);
    this.o.logger.warn({ replica }, msg);
  }
}

/** ": <message>" of a JSON error answer of the internal API, if it has one. */
function messageOf(body: string): string {
  try {
    const m = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    return typeof m === 'string' ? `: ${m.slice(0, 300)}` : '';
  } catch {
    return '';
  }
}
