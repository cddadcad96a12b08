// The SQLite store's cache of job records for jobWithTasks (DescribeJob's read): frozen records of
// recently read jobs, bounded by how many records it holds (a job and each of its tasks count one), not
// by jobs, so that jobs of many tasks cannot make it large. Oldest read first out. The store drops a
// job's entry in every write of its job or task rows (see SqliteStoreOptions.cacheJobRecords).
import type { JobRecord, TaskRecord } from '../types.ts';

export interface CachedJob {
  job: JobRecord;
  tasks: TaskRecord[];
}

export class JobCache {
  private readonly entries = new Map<string, CachedJob>();
  private held = 0;

  /** `budget`: the records (jobs and tasks) held at most; a job larger than that is not kept. */
  constructor(private readonly budget: number) {}

  get(jobId: string): CachedJob | undefined {
    return this.entries.get(jobId);
  }

  set(jobId: string, v: CachedJob): void {
    this.delete(jobId);
    const w = weight(v);
    if (w > this.budget) return;
    while (this.held + w > this.budget) this.delete(this.entries.keys().next().value!);
    this.entries.set(jobId, v);
    this.held += w;
  }

  delete(jobId: string): void {
    const v = this.entries.get(jobId);
    if (v === undefined) return;
    this.entries.delete(jobId);
    this.held -= weight(v);
  }

  /** Records held (jobs and tasks), and jobs. */
  get size(): { records: number; jobs: number } {
    return { records: this.held, jobs: this.entries.size };
  }
}

const weight = (v: CachedJob) => 1 + v.tasks.length;
