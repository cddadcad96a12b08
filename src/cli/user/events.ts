// The client side of OpenBatch's event stream (docs/events.md): a TC3-signed GET of EVENTS_PATH read
// as server-sent events, resumed after a disconnect from the last sequence number seen. An endpoint
// without the stream (an older server, Tencent Cloud itself) is told apart, so that callers fall back
// to polling.
import type { Api } from './connection.ts';
import { dispatchEvents, sseBlocks } from '../../lib/sse.ts';

export const EVENTS_PATH = '/openbatch/v1/events';
export const EVENTS_ACTION = 'StreamEvents';

export interface StreamEvent {
  Seq: number;
  Kind: string;
  EventName?: string | null;
  JobId?: string;
  TaskName?: string;
  TaskInstanceIndex?: number;
  Attempt?: number;
  State?: string;
  [k: string]: unknown;
}


export type StreamEnd = 'unsupported' | 'aborted';

/**
 * Reads the caller's events (of `jobId` when given) until `signal` aborts, reconnecting after a
 * disconnect with the last Seq seen; `onEvent` gets each event, `onReset` an answer that events
 * were lost (older than what the server keeps: re-read the state). Resolves 'unsupported' at once
 * when the endpoint has no event stream.
 */
export async function streamEvents(api: Api, o: { jobId?: string; envId?: string; after?: number; signal: AbortSignal; onEvent: (e: StreamEvent) => void; onReset?: () => void; onConnected?: () => void }): Promise<StreamEnd> {
  let after = o.after;
  let failures = 0;
  while (!o.signal.aborted) {
    const q = new URLSearchParams();
    if (after !== undefined) q.set('after', String(after));
    if (o.jobId !== undefined) q.set('jobId', o.jobId);
    if (o.envId !== undefined) q.set('envId', o.envId);
    const pathAndQuery = `${EVENTS_PATH}${q.size ? `?${q}` : ''}`;
    try {
      const res = await fetch(new URL(pathAndQuery, api.conn.endpoint), { headers: { ...api.signedGetHeaders(pathAndQuery, EVENTS_ACTION), Accept: 'text/event-stream' }, signal: o.signal });
      if (res.status === 404 || res.status === 405 || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        // no stream here (404), or a refusal in the API envelope: the caller polls instead
        await res.body?.cancel();
        return 'unsupported';
      }
      failures = 0;
      o.onConnected?.();
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        const { blocks, rest } = sseBlocks(buf);
        buf = rest;
        after = dispatchEvents<StreamEvent>(blocks, after, { reset: () => o.onReset?.(), event: (e) => o.onEvent(e) });
      }
    } catch (e) {
      if (o.signal.aborted) break;
      void e;
    }
    // disconnected: back off a little, then resume after the last Seq seen
    failures++;
    await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** Math.min(failures, 6))));
  }
  return 'aborted';
}
