// Webhook delivery of the Notifications of SubmitJob and CreateComputeEnv (docs/events.md): the
// server config maps a topic name to a URL and a secret (`notifications.topics`); for each topic the
// leader reads the stored events in Seq order, and each event whose job or compute environment asked
// for its EventName on that topic is POSTed as a Tencent-shaped message, signed with an HMAC-SHA256 of
// the body. A job's COMPUTE_NODE_* events are those of the nodes of the environments its tasks name
// (EnvId) while it has not ended: each node event names those jobs (EventDraft.jobs). At least
// once: a topic's position (Store.eventCursor) moves only past what was delivered, and a receiver
// that fails (non-2xx, no answer) is retried with backoff before anything later of that topic — so
// in order, per job too.
import { createHmac } from 'node:crypto';
import { eventNameOf, type EventDraft, type EventSubscription } from '../domain/events.ts';
import { isoSeconds } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { EventRow, Store } from '../store/types.ts';

export interface TopicTarget {
  url: string;
  secret: string;
}

export interface NotifierOptions {
  store: Pick<Store, 'eventsAfter' | 'eventCursor' | 'setEventCursor' | 'getJob'>;
  topics: ReadonlyMap<string, TopicTarget>;
  logger: Logger;
  /** Only the leader delivers (one sender for the deployment). */
  leading: () => boolean;
  /** Told of every delivery try (metrics). */
  onDelivery?: (topic: string, ok: boolean) => void;
  pollMs?: number;
  timeoutMs?: number;
}

type EventVars = { Name: string; Value: string }[];
/** What a job asked for on one topic: its EventVars by EventName. */
type Subscriptions = Map<string, EventVars>;

/** One message to send for an event: for a job's subscription (JobId) or an environment's. */
interface Delivery {
  jobId?: string;
  vars: EventVars;
}

const ROWS = 100;
const JOBS_KEPT = 10_000;
const MAX_BACKOFF_MS = 60_000;

export const SIGNATURE_HEADER = 'x-openbatch-signature';

/** The signature header's value of `body`. */
export function signatureOf(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The message of one event: Tencent's shape (batch-api.md i.2), OpenBatch's fields under Batch. */
export function messageOf(seq: number, e: EventDraft, name: string, vars: EventVars, jobId?: string): string {
  return JSON.stringify({
    Events: [{
      EventVersion: '1.0', EventTime: isoSeconds(e.time), Region: e.region,
      Batch: e.kind === 'env' || e.kind === 'node' ? envBatchOf(seq, e, jobId) : jobBatchOf(seq, e), EventName: name, EventVars: vars,
    }],
  });
}

/** Batch of an env or node event: the fields of Tencent's node example, and JobId for a job's subscription. */
function envBatchOf(seq: number, e: EventDraft, jobId: string | undefined): Record<string, unknown> {
  const batch: Record<string, unknown> = { Seq: seq, EnvId: e.envId, EnvName: e.envName };
  if (jobId !== undefined) batch.JobId = jobId;
  if (e.kind === 'node') {
    Object.assign(batch, {
      ComputeNodeId: e.nodeId, ComputeNodeInstanceId: e.instanceId, ComputeNodeState: e.state, Cpu: e.cpu, Mem: e.mem,
      ResourceCreatedTime: e.created === undefined ? null : isoSeconds(e.created),
    });
  }
  return batch;
}

function jobBatchOf(seq: number, e: EventDraft): Record<string, unknown> {
  const batch: Record<string, unknown> = { Seq: seq, JobId: e.jobId };
  if (e.taskName !== undefined) batch.TaskName = e.taskName;
  if (e.index !== undefined) batch.TaskInstanceIndex = e.index;
  if (e.toIndex !== undefined) batch.TaskInstanceIndexEnd = e.toIndex;
  if (e.attempt !== undefined) batch.Attempt = e.attempt;
  const stateKey = e.kind === 'job' ? 'JobState' : e.kind === 'task' ? 'TaskState' : 'TaskInstanceState';
  batch[stateKey] = e.state;
  if (e.exitCode !== undefined) batch.ExitCode = e.exitCode;
  if (e.reason !== undefined && e.reason !== '') batch.StateReason = e.reason;
  return batch;
}

/** What a list of Notifications asks for, by topic. */
function byTopic(list: readonly EventSubscription[]): Map<string, Subscriptions> {
  const out = new Map<string, Subscriptions>();
  for (const n of list) {
    const m = out.get(n.TopicName) ?? new Map<string, EventVars>();
    for (const c of n.EventConfigs) m.set(c.EventName, c.EventVars ?? []);
    out.set(n.TopicName, m);
  }
  return out;
}

export class Notifier {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly jobs = new Map<string, Map<string, Subscriptions> | null>();
  private wakers = new Set<() => void>();

  constructor(private readonly o: NotifierOptions) {}

  start(): void {
    if (this.running || this.o.topics.size === 0) return;
    this.running = true;
    for (const [name, target] of this.o.topics) this.loops.push(this.loop(name, target));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const w of this.wakers) w();
    await Promise.all(this.loops.splice(0));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        res();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async loop(topic: string, target: TopicTarget): Promise<void> {
    const log = this.o.logger.child({ component: 'notifier', topic });
    const key = `topic:${topic}`;
    let cursor: number | undefined;
    while (this.running) {
      try {
        if (!this.o.leading()) {
          cursor = undefined; // re-read once leading: another replica may have moved it
          await this.sleep(1000);
          continue;
        }
        cursor ??= await this.o.store.eventCursor(key);
        const rows = await this.o.store.eventsAfter(cursor, ROWS);
        if (rows.length === 0) {
          await this.sleep(this.o.pollMs ?? 500);
          continue;
        }
        let held = false;
        for (const r of rows) {
          for (let i = 0; i < r.events.length && this.running && !held; i++) {
            const seq = r.first + i;
            if (seq <= cursor) continue;
            const e = r.events[i]!;
            const name = eventNameOf(e.kind, e.state);
            for (const d of name === null ? [] : await this.deliveries(topic, r, e, name)) {
              if (!(await this.deliver(topic, target, seq, messageOf(seq, e, name!, d.vars, d.jobId), log))) {
                held = true; // the rest of this event's messages go again with it (at least once)
                break;
              }
            }
            if (!held) cursor = seq;
          }
          await this.o.store.setEventCursor(key, cursor);
          if (held || !this.running) break;
        }
      } catch (e) {
        log.warn({ err: e }, 'reading events for the topic failed; retrying');
        await this.sleep(1000);
      }
    }
  }

  /** POST one message until a 2xx answer; false when stopped or no longer leading first. */
  private async deliver(topic: string, target: TopicTarget, seq: number, body: string, log: Logger): Promise<boolean> {
    let wait = 500;
    for (let tries = 1; this.running && this.o.leading(); tries++) {
      let why: string;
      try {
        const res = await fetch(target.url, {
          method: 'POST', body, signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signatureOf(target.secret, body), 'x-openbatch-topic': topic, 'x-openbatch-seq': String(seq) },
        });
        await res.body?.cancel();
        if (res.ok) {
          this.o.onDelivery?.(topic, true);
          return true;
        }
        why = `HTTP ${res.status}`;
      } catch (e) {
        why = (e as Error).message;
      }
      this.o.onDelivery?.(topic, false);
      // the URL may carry credentials: only the topic is named
      log.warn({ seq, tries, why }, 'the receiver did not take the event; retrying');
      await this.sleep(wait);
      wait = Math.min(MAX_BACKOFF_MS, wait * 2);
    }
    return false;
  }

  /** The messages of one event on `topic`: its job's subscription, or its environment's and (a node
   *  event) those of the jobs that watched the node when it happened. */
  private async deliveries(topic: string, r: EventRow, e: EventDraft, name: string): Promise<Delivery[]> {
    if (r.jobId !== null) {
      const vars = (await this.subscriptions(r.account, r.region, r.jobId))?.get(topic)?.get(name);
      return vars === undefined ? [] : [{ vars }];
    }
    const out: Delivery[] = [];
    const own = byTopic(e.notify ?? []).get(topic)?.get(name);
    if (own !== undefined) out.push({ vars: own });
    for (const jobId of e.jobs ?? []) {
      const vars = (await this.subscriptions(r.account, r.region, jobId))?.get(topic)?.get(name);
      if (vars !== undefined) out.push({ jobId, vars });
    }
    return out;
  }

  /** The topics and events a job asked for (null: none, or the job is gone). */
  private async subscriptions(account: string, region: string, jobId: string): Promise<Map<string, Subscriptions> | null> {
    if (this.jobs.has(jobId)) return this.jobs.get(jobId)!;
    const job = await this.o.store.getJob(account, region, jobId);
    const list = (job?.spec.job.Notifications ?? []) as EventSubscription[];
    const out = list.length === 0 ? null : byTopic(list);
    if (this.jobs.size >= JOBS_KEPT) this.jobs.delete(this.jobs.keys().next().value!);
    this.jobs.set(jobId, out);
    return out;
  }
}
