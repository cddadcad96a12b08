// The files of deleted jobs on a replica's host (services/log-sweeper.ts) against a real server: logs
// and working directories of a job the store no longer has (left on this host while another replica
// led and deleted it) are removed as the server starts; those of jobs it has stay.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { simpleJob, startServer, tempDir, waitFor, waitJobDone } from '../helpers/server.ts';

describe('files of deleted jobs', () => {
  it('are removed from the data dir as the server starts; those of existing jobs stay', async () => {
    const dataDir = tempDir();
    const first = await startServer({ dataDir });
    const c = first.client();
    const { JobId } = await c.SubmitJob!(simpleJob('echo kept'));
    await waitJobDone(c, JobId);
    await first.stop();
    const kept = path.join(dataDir, 'logs', JobId);
    expect(fs.existsSync(kept)).toBe(true);
    // what a job deleted elsewhere leaves: its logs and its working directory
    const gone = 'job-zz00zz00';
    for (const root of ['logs', 'work']) {
      fs.mkdirSync(path.join(dataDir, root, gone, 'A'), { recursive: true });
      fs.writeFileSync(path.join(dataDir, root, gone, 'A', '0.1.stdout'), 'left behind\n');
    }
    const again = await startServer({ dataDir });
    await waitFor(async () => !fs.existsSync(path.join(dataDir, 'logs', gone)) && !fs.existsSync(path.join(dataDir, 'work', gone)), 'the deleted job\'s files gone', 20_000);
    expect(fs.existsSync(kept)).toBe(true);
    const logs = await again.client().DescribeTaskLogs!({ JobId, TaskName: 'A' });
    expect(Buffer.from(String(logs.TaskInstanceLogSet[0].StdoutLog).replace(/^data:[^,]*,/, ''), 'base64').toString()).toBe('kept\n');
    await again.stop();
  });
});
