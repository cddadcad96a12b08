// Where attempt logs live inside the data dir: <dataDir>/logs/<jobId>/<taskName>/<index>.<attempt>.{stdout,stderr}.
// Every attempt has its own files, so earlier attempts' logs are never overwritten.
import path from 'node:path';

export class LogLayout {
  readonly root: string;
  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'logs');
  }
  jobDir(jobId: string): string {
    return path.join(this.root, jobId);
  }
  attemptFiles(jobId: string, taskName: string, index: number, attempt: number): { stdout: string; stderr: string } {
    const base = path.join(this.root, jobId, taskName, `${index}.${attempt}`);
    return { stdout: `${base}.stdout`, stderr: `${base}.stderr` };
  }
}
