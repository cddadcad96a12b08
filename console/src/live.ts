// Live updates from the server's event stream (docs/events.md): one signed fetch() of
// GET /openbatch/v1/events per page (EventSource cannot send the TC3 headers), signed as an API call
// with action StreamEvents, its body read as server-sent events. After a disconnect it resumes with
// `after` = the last Seq seen (a growing pause between tries); `event: reset` (events were dropped)
// calls onReset so that the page re-reads what it shows. The page coalesces what it does with the
// events (coalesce() below). stop() ends the stream when the page goes.
import { credentials, VERSION } from './api.ts';
import { authorization, CONTENT_TYPE } from './tc3.ts';
import { dispatchEvents, sseBlocks } from '../../src/lib/sse.ts';

export const EVENTS_PATH = '/openbatch/v1/events';
const ACTION = 'StreamEvents';

export interface LiveEvent {
  Seq: number;
  Kind: string;
  EventName?: string | null;
  JobId?: string;
  TaskName?: string;
  TaskInstanceIndex?: number;
  TaskInstanceIndexEnd?: number;
  Attempt?: number;
  State?: string;
  ExitCode?: number | null;
  Reason?: string | null;
}

export interface LiveOptions {
  jobId?: string;
  /** One compute environment's events (its own and its nodes'). */
  envId?: string;
  onEvent(e: LiveEvent): void;
  /** Events were lost (or the stream came back after a break): re-read the state. */
  onReset(): void;
  /** The stream is open (true) or broken and being tried again (false). Pages open the stream
   *  first and read what they show once it is open (or after a short wait): nothing is missed. */
  onStatus?(open: boolean, why?: string): void;
}

export interface Live {
  stop(): void;
}


/** Opens the stream (of one job or one environment when given) until stop(). */
export function live(o: LiveOptions): Live {
  const ctl = new AbortController();
  let after: number | undefined;
  let failures = 0;
  let opens = 0;

  async function once(): Promise<void> {
    const c = credentials();
    if (!c) throw new Error('not signed in');
    const q = new URLSearchParams();
    if (after !== undefined) q.set('after', String(after));
    if (o.jobId !== undefined) q.set('jobId', o.jobId);
    if (o.envId !== undefined) q.set('envId', o.envId);
    const query = q.toString();
    const timestamp = Math.floor(Date.now() / 1000);
    const auth = await authorization({ secretId: c.secretId, secretKey: c.secretKey, host: location.host, method: 'GET', path: EVENTS_PATH, query, body: '', timestamp });
    const res = await fetch(`${EVENTS_PATH}${query ? `?${query}` : ''}`, {
      headers: {
        'Content-Type': CONTENT_TYPE, Authorization: auth, Accept: 'text/event-stream',
        'X-TC-Action': ACTION, 'X-TC-Version': VERSION, 'X-TC-Timestamp': String(timestamp), 'X-TC-Region': c.region,
      },
      credentials: 'omit', cache: 'no-store', signal: ctl.signal,
    });
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream') || !res.body) {
      let why = `HTTP ${res.status}`;
      try {
        const e = ((await res.json()) as { Response?: { Error?: { Code?: string; Message?: string } } }).Response?.Error;
        if (e) why = `${e.Code ?? ''}: ${e.Message ?? ''}`;
      } catch {
        // not the API's envelope: the status says enough
      }
      throw new Error(why);
    }
    failures = 0;
    o.onStatus?.(true);
    // without `after` the stream starts now: back after a break before any event came, what
    // changed meanwhile is read again (pages open the stream before they read, see opened())
    if (opens++ > 0 && after === undefined) o.onReset();
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      const { blocks: out, rest } = sseBlocks(buf);
      buf = rest;
      after = dispatchEvents<LiveEvent>(out, after, { reset: () => o.onReset(), event: (e) => o.onEvent(e) });
    }
  }

  void (async () => {
    while (!ctl.signal.aborted) {
      let why = 'the stream ended';
      try {
        await once();
      } catch (e) {
        if (ctl.signal.aborted) return;
        why = e instanceof Error ? e.message : String(e);
      }
      if (ctl.signal.aborted) return;
      failures++;
      o.onStatus?.(false, why);
      await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** Math.min(failures, 6))));
    }
  })();
  return { stop: () => ctl.abort() };
}

/** Runs `fn` at most once per `ms`, soon after the first request of each period (coalescing bursts). */
export function coalesce(fn: () => void | Promise<void>, ms = 1000): { request(): void; cancel(): void } {
  let timer = 0;
  let last = 0;
  let running = false;
  let again = false;
  let cancelled = false;
  const run = async () => {
    timer = 0;
    if (cancelled) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    last = Date.now();
    try {
      await fn();
    } catch {
      // fn shows its own errors
    } finally {
      running = false;
      if (again && !cancelled) {
        again = false;
        request();
      }
    }
  };
  const request = () => {
    if (timer || cancelled) return;
    if (running) {
      again = true;
      return;
    }
    timer = window.setTimeout(() => void run(), Math.max(50, last + ms - Date.now()));
  };
  return { request, cancel: () => { cancelled = true; clearTimeout(timer); } };
}
