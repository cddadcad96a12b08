// The PostgreSQL password of `--store postgres://user:password@…` given on the command line: a task
// cannot read it in the server's command line (/proc/<pid>/cmdline, ps), and the server's own output
// never shows it. Real server, real PostgreSQL (skipped, saying why, without one), a real task.
import { describe, expect, it } from 'vitest';
import { simpleJob, startServer, waitJobDone } from '../helpers/server.ts';
import { freshDatabase, pgSkipReason } from '../support/pg.ts';

const why = await pgSkipReason();
const PASSWORD = 'pw-Zq81-never-shown';

describe.skipIf(why !== undefined)(`a password in --store${why ? ` (skipped: ${why})` : ''}`, () => {
  it('is out of reach of tasks (the command line they can read is masked) and out of the server\'s output', async () => {
    const db = await freshDatabase();
    try {
      const u = new URL(db.url);
      u.password = PASSWORD; // the test server trusts 127.0.0.1: any password is accepted
      const srv = await startServer({ args: ['--store', u.toString(), '--replica-id', 'secrets'] });
      const c = srv.client();
      const { JobId } = await c.SubmitJob!(simpleJob(`tr '\\0' ' ' < /proc/${srv.proc.pid}/cmdline; echo; ps -eo args 2>/dev/null | grep -c -e '${PASSWORD}' -e 'openbatch serve' || true`));
      expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
      const log = (await c.DescribeTaskLogs!({ JobId, TaskName: 'A' })).TaskInstanceLogSet[0].StdoutLog as string;
      const text = Buffer.from(log.split(',')[1] ?? '', 'base64').toString();
      // the task did read the server's command line, masked
      expect(text).toContain(`--store postgres://${u.username}:***@${u.host}${u.pathname}`);
      expect(text).not.toContain(PASSWORD);
      await srv.stop();
      expect(srv.output()).not.toContain(PASSWORD);
    } finally {
      await db.drop();
    }
  });
});
