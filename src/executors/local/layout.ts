// Where the local executor keeps an attempt's files inside the data dir: its logs at
// <dataDir>/logs/<jobId>/<taskName>/<index>.<attempt>.{stdout,stderr} and its working directory at
// <dataDir>/work/<jobId>/<taskName>/<index>.<attempt>. Every attempt has its own, so earlier attempts'
// logs are never overwritten. LocalLogs reads and deletes them for the services (AttemptLogs).
import fs from 'node:fs';
import path from 'node:path';
import type { AttemptId, AttemptLogs, Stream } from '../types.ts';

export class LocalLayout {
  readonly logRoot: string;
  readonly workRoot: string;
  constructor(dataDir: string) {
    this.logRoot = path.join(dataDir, 'logs');
    this.workRoot = path.join(dataDir, 'work');
  }
  logDir(jobId: string, taskName: string): string {
    return path.join(this.logRoot, jobId, taskName);
  }
  logFile(id: AttemptId, stream: Stream): string {
    return path.join(this.logRoot, id.jobId, id.taskName, `${id.index}.${id.attempt}.${stream}`);
  }
  workDir(id: AttemptId): string {
    return path.join(this.workRoot, id.jobId, id.taskName, `${id.index}.${id.attempt}`);
  }
}

export class LocalLogs implements AttemptLogs {
  constructor(readonly layout: LocalLayout) {}

  async tail(id: AttemptId, stream: Stream, maxBytes: number): Promise<Buffer | undefined> {
    return readRange(this.layout.logFile(id, stream), (size) => [Math.max(0, size - maxBytes), size]);
  }

  async read(id: AttemptId, stream: Stream, start: number, end?: number): Promise<Buffer | undefined> {
    return readRange(this.layout.logFile(id, stream), (size) => [Math.min(start, size), Math.min(end ?? size, size)]);
  }

  async settledFile(id: AttemptId, stream: Stream): Promise<string> {
    const file = this.layout.logFile(id, stream);
    try {
      await fs.promises.access(file);
    } catch {
      // an attempt that never started has no log file: an empty one stands for it
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await fs.promises.writeFile(file, '');
    }
    return file;
  }

  async removeJob(jobId: string): Promise<void> {
    await Promise.all([this.layout.logRoot, this.layout.workRoot].map((root) =>
      fs.promises.rm(path.join(root, jobId), { recursive: true, force: true }).catch(() => {})));
  }
}

async function readRange(file: string, range: (size: number) => [number, number]): Promise<Buffer | undefined> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
    const { size } = await fh.stat();
    const [from, to] = range(size);
    const len = Math.max(0, to - from);
    const buf = Buffer.alloc(len);
    if (len > 0) await fh.read(buf, 0, len, from);
    return buf;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  } finally {
    await fh?.close();
  }
}
