// GET EVENTS_PATH: the event stream as server-sent events (docs/events.md). Signed like an API call
// (action StreamEvents; the same keys, accounts and errors, in the Tencent envelope); `after` (or the
// standard Last-Event-ID header) resumes after a Seq, `jobId` keeps one job's events, `envId` one
// compute environment's (its own and its nodes'). Each event is
// `id: <Seq>`, `event: <Kind>`, `data: <JSON>`; `event: reset` says events were dropped before the
// next one (re-read the state); a comment every KEEPALIVE_MS keeps proxies from closing an idle stream.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { apiError } from '../domain/errors.ts';
import { checkEnvId, checkJobId } from '../domain/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { EventReader } from '../services/event-stream.ts';
import type { Pipeline } from './pipeline.ts';

export const EVENTS_PATH = '/openbatch/v1/events';
const KEEPALIVE_MS = 15_000;
const UINT = /^(0|[1-9][0-9]{0,15})$/;

export interface EventsRouteOptions {
  /** The replica's reader: it polls the store for every stream (event-stream.ts). */
  reader: EventReader;
}

export function registerEventsRoute(
  app: FastifyInstance, pipeline: Pipeline, o: EventsRouteOptions, logger: Logger,
  refuse: (reply: FastifyReply, headers: Record<string, string | undefined>, e: unknown) => void,
): void {
  app.get(EVENTS_PATH, async (req, reply) => {
    const url = req.raw.url ?? EVENTS_PATH;
    const q = url.indexOf('?');
    const rawQuery = q >= 0 ? url.slice(q + 1) : '';
    const headers = req.headers as Record<string, string | undefined>;
    let who: { account: string; region: string };
    let after: number | undefined;
    const only: { jobId?: string; envId?: string } = {};
    try {
      who = await pipeline.authorizeStream({ method: 'GET', path: EVENTS_PATH, rawQuery, headers, body: Buffer.alloc(0) });
      const p = new URLSearchParams(rawQuery);
      const a = p.get('after') ?? headers['last-event-id'] ?? undefined;
      if (a !== undefined) {
        if (!UINT.test(a)) throw apiError('InvalidParameterValue', { param: 'after', problem: `must be a Seq (an integer ≥ 0); got ${JSON.stringify(a)}` });
        after = Number(a);
      }
      const j = p.get('jobId');
      if (j !== null) only.jobId = checkJobId(j, 'jobId');
      const env = p.get('envId');
      if (env !== null) only.envId = checkEnvId(env, 'envId');
    } catch (e) {
      return refuse(reply, headers, e);
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let open = true;
    raw.on('close', () => {
      open = false;
    });
    const write = (text: string): Promise<void> => new Promise((res) => {
      if (!open) return res();
      if (raw.write(text)) res();
      else raw.once('drain', () => res());
    });
    await write('retry: 1000\n\n');
    let lastWrite = Date.now();
    let failing = false;
    while (open) {
      try {
        after ??= await o.reader.last();
        const page = await o.reader.read(who.account, who.region, after, only);
        failing = false;
        let text = '';
        if (page.reset) text += `event: reset\nid: ${page.next}\ndata: {}\n\n`;
        for (const e of page.events) text += `id: ${e.Seq}\nevent: ${e.Kind}\ndata: ${JSON.stringify(e)}\n\n`;
        const moved = page.next > after;
        after = page.next;
        if (text !== '') {
          await write(text);
          lastWrite = Date.now();
        }
        if (moved) continue;
      } catch (e) {
        // the store cannot answer now: the stream stays open and tries again
        if (!failing) logger.warn({ err: e }, 'the event stream cannot read the store; retrying');
        failing = true;
        await write(': the store is not answering; retrying\n\n');
        await sleep(1000);
        continue;
      }
      if (Date.now() - lastWrite >= KEEPALIVE_MS) {
        await write(': keepalive\n\n');
        lastWrite = Date.now();
      }
      // woken when the replica's reader sees a newer Seq; at least once a second (a closed stream ends)
      await o.reader.waitFor(after, Math.min(1000, Math.max(1, KEEPALIVE_MS - (Date.now() - lastWrite))));
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
