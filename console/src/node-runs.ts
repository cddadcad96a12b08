// What runs on the nodes of one compute environment, found with ordinary signed calls only, since the
// API has no call that lists a node's instances: the active jobs (DescribeJobs, job-state STARTING and
// RUNNING), the tasks of each that name this environment (DescribeJobSubmitInfo: Tasks[].EnvId), and
// their starting and running instances (DescribeTask, Filters task-instance-state), each of which names
// its node (TaskInstanceView.ComputeNodeInstanceId, the node's ComputeNodeInstanceId). The scan is
// bounded (MAX_JOBS active jobs, MAX_PAGES pages of instances per task) and says when it stopped short.
import { call, type Answer } from './api.ts';

const MAX_JOBS = 200;
const MAX_PAGES = 5;
const PAGE = 1000;

export interface Run {
  jobId: string;
  jobName: string;
  task: string;
  index: number;
  state: string;
}

export interface NodeRuns {
  /** ComputeNodeInstanceId → what runs there. */
  byNode: Map<string, Run[]>;
  jobs: number;
  tasks: number;
  /** Why the scan is incomplete, or "". */
  short: string;
}

async function eachLimited<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await f(items[next++]!);
  }));
}

export async function nodeRuns(envId: string, alive: () => boolean): Promise<NodeRuns> {
  const out: NodeRuns = { byNode: new Map(), jobs: 0, tasks: 0, short: '' };
  const active: Answer[] = [];
  for (let offset = 0; offset < MAX_JOBS; offset += 100) {
    const a = await call('DescribeJobs', { Filters: [{ Name: 'job-state', Values: ['STARTING', 'RUNNING'] }], Offset: offset, Limit: 100 });
    active.push(...(a.JobSet as Answer[]));
    if (offset + 100 >= (a.TotalCount as number)) break;
    if (offset + 100 >= MAX_JOBS) out.short = `only the newest ${MAX_JOBS} of ${a.TotalCount as number} active jobs were read`;
  }
  out.jobs = active.length;
  await eachLimited(active, 2, async (j) => {
    if (!alive()) return;
    const info = await call('DescribeJobSubmitInfo', { JobId: j.JobId as string });
    const tasks = ((info.Tasks ?? []) as Answer[]).filter((t) => t.EnvId === envId);
    for (const t of tasks) {
      out.tasks++;
      for (let p = 0; alive(); p++) {
        if (p === MAX_PAGES) {
          out.short ||= `only the first ${MAX_PAGES * PAGE} running instances of a task were read`;
          break;
        }
        const a = await call('DescribeTask', {
          JobId: j.JobId as string, TaskName: t.TaskName as string, Offset: p * PAGE, Limit: PAGE,
          Filters: [{ Name: 'task-instance-state', Values: ['STARTING', 'RUNNING'] }],
        });
        for (const x of a.TaskInstanceSet as Answer[]) {
          const node = x.ComputeNodeInstanceId as string | null;
          if (!node) continue;
          const list = out.byNode.get(node) ?? [];
          list.push({ jobId: j.JobId as string, jobName: j.JobName as string, task: t.TaskName as string, index: x.TaskInstanceIndex as number, state: x.TaskInstanceState as string });
          out.byNode.set(node, list);
        }
        if ((p + 1) * PAGE >= (a.TaskInstanceTotalCount as number)) break;
      }
    }
  });
  return out;
}
