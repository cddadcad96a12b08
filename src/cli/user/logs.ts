// `openbatch logs` and `openbatch attempts`: an attempt's whole stdout or stderr read by byte range
// through the DescribeAttemptLog extension action (docs/extensions.md), following a running attempt
// until it ends; and the attempts of an instance (DescribeAttempts). Against an endpoint without the
// extension (Tencent Cloud itself) the user is told to use DescribeTaskLogs' 2,048-byte tail.
import type { Writable } from 'node:stream';
import { CliError, type Api } from './connection.ts';

type Row = Record<string, any>;

function extension(e: unknown, action: string): never {
  if (e instanceof CliError && (e.code === 'InvalidAction' || e.code === 'UnsupportedOperation' || e.code === 'InvalidAction.NotFound')) {
    throw new CliError(`${action} is an OpenBatch extension this endpoint does not have (${e.message}); DescribeTaskLogs gives the last 2,048 bytes there`, 1, e.code);
  }
  throw e;
}

export async function attemptsOf(api: Api, jobId: string, taskName: string, index: number): Promise<Row> {
  try {
    return await api.call<Row>('DescribeAttempts', { JobId: jobId, TaskName: taskName, TaskInstanceIndex: index });
  } catch (e) {
    extension(e, 'DescribeAttempts');
  }
}

export interface LogRequest {
  jobId: string;
  taskName: string;
  index: number;
  attempt?: number;
  stream: 'STDOUT' | 'STDERR';
  follow: boolean;
}

const CHUNK = 1024 * 1024;

/** Writes the attempt's log to `out` from the first byte; with `follow`, until the attempt has ended. */
export async function followLog(api: Api, r: LogRequest, out: Writable, pollMs = 500): Promise<void> {
  let offset = 0;
  let attempt = r.attempt;
  for (;;) {
    let page: Row;
    try {
      page = await api.call<Row>('DescribeAttemptLog', {
        JobId: r.jobId, TaskName: r.taskName, TaskInstanceIndex: r.index, ...(attempt !== undefined ? { Attempt: attempt } : {}),
        Stream: r.stream, Offset: offset, Length: CHUNK,
      });
    } catch (e) {
      extension(e, 'DescribeAttemptLog');
    }
    // the latest attempt is fixed at the first answer: a retry that starts meanwhile is another log
    attempt ??= page.Attempt as number;
    const bytes = Buffer.from(String(page.Content ?? ''), 'base64');
    if (bytes.length > 0 && !out.write(bytes)) await new Promise((res) => out.once('drain', res));
    offset = page.NextOffset as number;
    if (page.More) continue;
    if (page.Complete || !r.follow) return;
    await new Promise((res) => setTimeout(res, pollMs));
  }
}
