// The internal API between the replicas of a shared store, beside the Batch API on the same server:
// GET ATTEMPT_LOG_PATH answers bytes of the log of a local attempt from this replica's data dir (and
// only from there: it never asks another replica), to a request signed with the deployment's internal
// key (lib/internal-auth.ts). Refusals are JSON with 401 (no signature), 403 (a wrong one) or 400 (a
// malformed query); a log this host does not have is 404. Nothing of a request's headers is logged.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AttemptLogs } from '../executors/types.ts';
import type { InternalKey } from '../lib/internal-auth.ts';
import type { Logger } from '../lib/logger.ts';
import { ATTEMPT_LOG_PATH, parseAttemptLogQuery } from '../services/remote-logs.ts';

export interface InternalApiOptions {
  key: InternalKey;
  /** The logs of the attempts this host ran (the local executor's, never a remote reader). */
  logs: Pick<AttemptLogs, 'tail' | 'read'>;
  now: () => number;
  logger: Logger;
}

type ErrorCode = 'Unauthenticated' | 'Forbidden' | 'InvalidRequest' | 'NotFound' | 'InternalError';

function refuse(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store')
    .send(JSON.stringify({ error: { code, message } }));
}

export function registerInternalApi(app: FastifyInstance, o: InternalApiOptions): void {
  app.get(ATTEMPT_LOG_PATH, async (req, reply) => {
    const url = req.raw.url ?? ATTEMPT_LOG_PATH;
    const verdict = o.key.verify('GET', url, req.headers, o.now());
    if (!verdict.ok) {
      o.logger.debug({ status: verdict.status, why: verdict.why }, 'an internal request was refused');
      return refuse(reply, verdict.status, verdict.status === 401 ? 'Unauthenticated' : 'Forbidden', verdict.why);
    }
    const q = url.indexOf('?');
    const parsed = parseAttemptLogQuery(q < 0 ? '' : url.slice(q + 1));
    if ('error' in parsed) return refuse(reply, 400, 'InvalidRequest', parsed.error);
    let bytes: Buffer | undefined;
    try {
      const { id, stream, range } = parsed;
      bytes = 'tail' in range ? await o.logs.tail(id, stream, range.tail) : await o.logs.read(id, stream, range.start, range.end);
    } catch (e) {
      o.logger.warn({ err: e, jobId: parsed.id.jobId, taskName: parsed.id.taskName, index: parsed.id.index, attempt: parsed.id.attempt },
        'reading an attempt\'s log for another replica failed');
      return refuse(reply, 500, 'InternalError', 'the log could not be read on this replica');
    }
    if (bytes === undefined) return refuse(reply, 404, 'NotFound', 'this replica has no such log');
    return reply.code(200).header('content-type', 'application/octet-stream').header('cache-control', 'no-store').send(bytes);
  });
}
