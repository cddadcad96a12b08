// The SQLite store's job-record cache (jobWithTasks): bounded by records held (a job and each of its
// tasks), oldest read first out, a job larger than the whole budget never kept, deletes given back.
import { describe, expect, it } from 'vitest';
import { JobCache, type CachedJob } from '../../src/store/sqlite/job-cache.ts';
import type { JobRecord, TaskRecord } from '../../src/store/types.ts';

const entry = (id: string, tasks: number): CachedJob => ({
  job: { id } as JobRecord,
  tasks: Array.from({ length: tasks }, (_, i) => ({ jobId: id, name: `T${i}` }) as TaskRecord),
});

describe('SQLite: the job-record cache', () => {
  it('holds at most its budget of records, dropping the oldest first', () => {
    const c = new JobCache(10);
    c.set('a', entry('a', 1)); // 2
    c.set('b', entry('b', 3)); // 4
    c.set('c', entry('c', 2)); // 3
    expect(c.size).toEqual({ records: 9, jobs: 3 });
    c.set('d', entry('d', 2)); // 3 more: a goes (the oldest)
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toEqual({ records: 10, jobs: 3 });
    c.set('e', entry('e', 1)); // 2 more: b goes, c and d stay
    expect(c.get('b')).toBeUndefined();
    expect([c.get('c')?.job.id, c.get('d')?.job.id, c.get('e')?.job.id]).toEqual(['c', 'd', 'e']);
    expect(c.size).toEqual({ records: 8, jobs: 3 });
  });

  it('never keeps a job larger than the budget, and gives back what a delete or a replacement frees', () => {
    const c = new JobCache(10);
    c.set('a', entry('a', 4));
    c.set('huge', entry('huge', 10));
    expect(c.get('huge')).toBeUndefined();
    expect(c.size).toEqual({ records: 5, jobs: 1 });
    c.set('a', entry('a', 1));
    expect(c.size).toEqual({ records: 2, jobs: 1 });
    c.delete('a');
    c.delete('missing');
    expect(c.size).toEqual({ records: 0, jobs: 0 });
  });
});
