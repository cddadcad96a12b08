// HTTP transport (Fastify): raw bodies for signature checks, every API answer through the pipeline,
// /healthz for readiness, /metrics (Prometheus), the web console's files at /console/ (console-route.ts)
// and the internal API between replicas (internal.ts) when given. Even transport-level failures (oversized body, bad method) answer in the Tencent envelope so that SDKs
// surface a code instead of an HTTP error.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { apiError, ERROR_CATALOG, isApiError, type CatalogEntry } from '../domain/errors.ts';
import { registerInternalApi, type InternalApiOptions } from './internal.ts';
import { errorBody, type Pipeline } from './pipeline.ts';
import { registerEventsRoute, type EventsRouteOptions } from './events-route.ts';
import { registerConsoleRoute } from './console-route.ts';
import type { Logger } from '../lib/logger.ts';

export interface ServerOptions {
  pipeline: Pipeline;
  maxBodyBytes: number;
  logger: Logger;
  health: () => boolean;
  /** What /healthz adds about this replica and who leads (read from the store; a store that cannot
   *  answer leaves it out). */
  status?: () => Promise<object>;
  /** The internal API other replicas of a shared store call (the logs of local attempts), if any. */
  internal?: InternalApiOptions;
  /** The event stream (GET EVENTS_PATH), if served. */
  events?: EventsRouteOptions;
  /** The Prometheus text of GET /metrics; undefined: /metrics is not served (404 as any unknown path). */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** Serve the web console at /console/ (console-route.ts); off unless true. */
  console?: boolean;
}

export function buildServer(o: ServerOptions): FastifyInstance {
  let requestSeq = 0;
  const app = Fastify({
    bodyLimit: o.maxBodyBytes,
    logger: false,
    return503OnClosing: false,
    forceCloseConnections: true,
    // Fastify's own request id is never shown (the pipeline makes the RequestId): a counter is enough
    genReqId: () => String(++requestSeq),
  });
  // An oversized body is refused before it is read; the rest of it is drained (and dropped) so that
  // the client gets the envelope instead of a connection reset.
  app.addHook('onRequest', (req, reply, done) => {
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > o.maxBodyBytes) {
      const headers = req.headers as Record<string, string | undefined>;
      drain(req, () =>
        send(reply, headers, apiError('RequestSizeLimitExceeded', { size: `${len} bytes`, max: o.maxBodyBytes }), o.logger));
      return;
    }
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const apiHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    const method = req.method.toUpperCase();
    const url = req.raw.url ?? '/';
    const q = url.indexOf('?');
    const headers = req.headers as Record<string, string | undefined>;
    if (method !== 'GET' && method !== 'POST') {
      return send(reply, headers, apiError('UnsupportedProtocol', { method }), o.logger);
    }
    const answer = await o.pipeline.handle({
      method,
      path: q >= 0 ? url.slice(0, q) : url,
      rawQuery: q >= 0 ? url.slice(q + 1) : '',
      headers,
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
    });
    void reply.code(200).headers(answer.headers).send(answer.body);
  };
  app.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], url: '/', handler: apiHandler });
  app.get('/healthz', async (_req, reply) => {
    let extra: object = {};
    try {
      extra = (await o.status?.()) ?? {};
    } catch (e) {
      extra = { storeError: e instanceof Error ? e.message : String(e) };
    }
    if (o.health()) return reply.code(200).send({ status: 'ok', ...extra });
    return reply.code(503).send({ status: 'starting', ...extra });
  });
  if (o.metrics) {
    const metrics = o.metrics;
    app.get('/metrics', async (_req, reply) => {
      const m = await metrics();
      return reply.code(200).header('content-type', m.contentType).send(m.body);
    });
  }
  if (o.internal) registerInternalApi(app, o.internal);
  if (o.console) registerConsoleRoute(app, o.logger);
  if (o.events) registerEventsRoute(app, o.pipeline, o.events, o.logger, (reply, headers, e) => send(reply, headers, e, o.logger));
  app.setNotFoundHandler((req, reply) => {
    const headers = req.headers as Record<string, string | undefined>;
    send(reply, headers, apiError('InvalidRequest', { detail: `There is nothing at ${req.method} ${req.url.split('?')[0]}; the Batch API is served at POST / and GET /.` }), o.logger, 404);
  });
  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    const headers = req.headers as Record<string, string | undefined>;
    let e: unknown = err;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      e = apiError('RequestSizeLimitExceeded', { size: 'sent without a Content-Length', max: o.maxBodyBytes });
      drain(req, () => send(reply, headers, e, o.logger));
      return;
    } else if (err.statusCode !== undefined && err.statusCode < 500) {
      e = apiError('InvalidRequest', { detail: `The HTTP request is malformed: ${err.message}` });
    }
    send(reply, headers, e, o.logger);
  });
  return app;
}

/** Read and drop what is left of a request body, then answer: a client that sends its whole body
 *  before reading gets the answer instead of a reset. Bounded: 256 MiB or 10 s, then the socket goes. */
function drain(req: FastifyRequest, then: () => void): void {
  const raw = req.raw;
  if (raw.readableEnded) return then();
  let seen = 0;
  const timer = setTimeout(() => raw.socket.destroy(), 10_000);
  timer.unref();
  raw.on('data', (d: Buffer) => {
    seen += d.length;
    if (seen > 256 * 1024 * 1024) raw.socket.destroy();
  });
  raw.once('end', () => {
    clearTimeout(timer);
    then();
  });
  raw.once('error', () => clearTimeout(timer));
  raw.resume();
}

/** The HTTP status of an error answer: the catalogue's for its code, else 200 (as Tencent answers). */
function statusOf(e: unknown): number {
  return (isApiError(e) ? (ERROR_CATALOG[e.code] as CatalogEntry).http : undefined) ?? 200;
}

function send(reply: FastifyReply, headers: Record<string, string | undefined>, e: unknown, logger: Logger, status = statusOf(e)): void {
  const requestId = randomUUID();
  const h: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'x-tc-requestid': requestId };
  const trace = headers['x-tc-traceid'];
  if (trace) h['x-tc-traceid'] = trace;
  void reply.code(status).headers(h).send(errorBody(e, requestId, undefined, logger));
}
