// DAG checks for a job's tasks (Job.Dependences): unknown task names and cycles.
import { apiError } from './errors.ts';

export interface Edge {
  StartTask: string;
  EndTask: string;
}

/** Validates the edges against the task names and returns the task names in a topological order. */
export function checkDag(taskNames: readonly string[], edges: readonly Edge[], where = 'Job.Dependences'): string[] {
  const known = new Set(taskNames);
  const out = new Map<string, string[]>();
  const indeg = new Map<string, number>();
  for (const n of taskNames) {
    out.set(n, []);
    indeg.set(n, 0);
  }
  edges.forEach((e, i) => {
    for (const side of ['StartTask', 'EndTask'] as const) {
      if (!known.has(e[side])) {
        throw apiError('InvalidParameterValue.DependenceNotFoundTaskName', { param: `${where}.${i}.${side}`, task: e[side], tasks: taskNames.join(', ') });
      }
    }
    out.get(e.StartTask)!.push(e.EndTask);
    indeg.set(e.EndTask, indeg.get(e.EndTask)! + 1);
  });
  const order: string[] = [];
  const queue = taskNames.filter((n) => indeg.get(n) === 0);
  while (queue.length > 0) {
    const n = queue.shift()!;
    order.push(n);
    for (const m of out.get(n)!) {
      const d = indeg.get(m)! - 1;
      indeg.set(m, d);
      if (d === 0) queue.push(m);
    }
  }
  if (order.length !== taskNames.length) {
    const inCycle = taskNames.filter((n) => indeg.get(n)! > 0);
    throw apiError('InvalidParameterValue.DependenceUnfeasible', { param: where, tasks: inCycle.join(', ') });
  }
  return order;
}

/** Upstream task names of each task. */
export function upstreamOf(taskNames: readonly string[], edges: readonly Edge[]): Map<string, string[]> {
  const m = new Map<string, string[]>(taskNames.map((n) => [n, []]));
  for (const e of edges) {
    const list = m.get(e.EndTask)!;
    if (!list.includes(e.StartTask)) list.push(e.StartTask);
  }
  return m;
}
