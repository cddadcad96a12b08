// The job page (#/jobs/<JobId>): DescribeJob's summary, the DAG of all its tasks with their instance
// counts (one DescribeTask Limit 0 per task), and for the selected task (?task=) its state filter
// (?state=, sent as DescribeTask Filters task-instance-state) and instance grid; ?instance= opens the
// instance drawer (?attempt=, ?stream= choose the log). The query is the page's whole state.
import { call, errorText, type Answer } from './api.ts';
import { badge, clear, h, time } from './dom.ts';
import { dagView, type DagView } from './dag.ts';
import { InstanceDrawer } from './drawer.ts';
import { gridView, type GridView } from './grid.ts';
import type { Page } from './main.ts';
import { go, href, withQuery, type Route } from './router.ts';
import { countOf, STATES, type Metrics } from './states.ts';
import { timelineView } from './timeline.ts';

function metricsLine(m: Metrics | undefined): HTMLElement {
  return h('span', { class: 'metrics' }, ...STATES.filter((s) => countOf(m, s) > 0).map((s) => h('span', {}, badge(s), ` ${countOf(m, s)}`)));
}

export function jobPage(jobId: string, initial: Route): Page {
  const el = h('section', { class: 'job', 'aria-labelledby': 'job-title' }, h('p', { class: 'muted' }, 'Loading…'));
  let route = initial;
  let disposed = false;
  let job: Answer | undefined;
  let dag: DagView | undefined;
  const metrics = new Map<string, Metrics>();
  const taskPanel = h('div', { class: 'task-panel', id: 'task-panel' });
  let shown: { task: string; state: string } | undefined;
  let grid: GridView | undefined;
  const countsBox = h('div', { class: 'counts', id: 'task-counts', 'aria-label': 'Show instances in one state' });

  /** The state filter buttons of the shown task, with its counts once known. */
  function renderCounts(): void {
    if (!shown) return;
    const state = shown.state;
    const m = metrics.get(shown.task);
    const filter = (s: string, label: string, n?: number) => h('button', {
      type: 'button', class: state === s ? 'count on' : 'count', 'aria-pressed': String(state === s), 'data-state': s || 'all',
      onclick: () => nav({ state: s || undefined, instance: undefined, attempt: undefined, stream: undefined }),
    }, s ? badge(s) : label, n === undefined ? '' : ` ${n}`);
    clear(countsBox, filter('', 'all'), ...STATES.map((s) => filter(s, s, m ? countOf(m, s) : undefined)));
  }
  const nav = (changes: Record<string, string | number | undefined>, replace = false) => go(href(['jobs', jobId], withQuery(route, changes)), replace);
  const drawer = new InstanceDrawer(document.getElementById('drawer')!,
    (s) => nav({ attempt: s.attempt, stream: s.stream }, true),
    () => nav({ instance: undefined, attempt: undefined, stream: undefined }));

  function showTask(): void {
    const name = route.query.get('task') ?? '';
    const state = route.query.get('state') ?? '';
    dag?.select(name || undefined);
    if (shown && shown.task === name && shown.state === state) return;
    grid?.dispose();
    grid = undefined;
    shown = { task: name, state };
    const t = (job?.TaskSet as Answer[] | undefined)?.find((x) => x.TaskName === name);
    if (!t) {
      clear(taskPanel, h('p', { class: 'muted' }, name ? `This job has no task ${name}.` : 'Select a task in the DAG to see its instances.'));
      return;
    }
    grid = gridView({ jobId, taskName: name, states: state ? [state] : undefined, onOpen: (index) => nav({ instance: index, attempt: undefined, stream: undefined }) });
    clear(taskPanel,
      h('h2', {}, `Task ${name} `, badge(t.TaskState as string)),
      h('p', { class: 'muted' }, `created ${time(t.CreateTime as string)} · ended ${time(t.EndTime as string | null)}`),
      countsBox, grid.el);
    renderCounts();
  }

  function showDrawer(): void {
    const raw = route.query.get('instance');
    const task = route.query.get('task');
    const index = raw === null ? NaN : Number(raw);
    if (!task || !Number.isInteger(index) || index < 0) {
      if (drawer.openFor) drawer.close();
      return;
    }
    const a = Number(route.query.get('attempt'));
    const s = route.query.get('stream');
    drawer.show({ jobId, taskName: task, index }, {
      ...(Number.isInteger(a) && a > 0 ? { attempt: a } : {}),
      ...(s === 'STDERR' || s === 'STDOUT' ? { stream: s } : {}),
    });
  }

  async function load(): Promise<void> {
    try {
      job = await call('DescribeJob', { JobId: jobId });
    } catch (e) {
      clear(el, h('p', { class: 'error', role: 'alert' }, errorText(e)), h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')));
      return;
    }
    if (disposed) return;
    const tasks = job.TaskSet as Answer[];
    dag = dagView(tasks as { TaskName: string; TaskState: string }[], (job.DependenceSet ?? []) as { StartTask: string; EndTask: string }[],
      (name) => nav({ task: name, state: undefined, instance: undefined, attempt: undefined, stream: undefined }));
    clear(el,
      h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')),
      h('h1', { id: 'job-title' }, `${job.JobName as string} `, h('span', { class: 'mono muted' }, jobId), ' ', badge(job.JobState as string)),
      job.StateReason ? h('p', { class: 'reason' }, job.StateReason as string) : null,
      h('p', { class: 'muted' }, `created ${time(job.CreateTime as string)} · ended ${time(job.EndTime as string)} · priority ${job.Priority as number}`),
      h('p', {}, 'Instances: ', metricsLine(job.TaskInstanceMetrics as Metrics)),
      h('h2', {}, `Tasks (${tasks.length})`),
      h('div', { class: 'dag-scroll' }, dag.el),
      taskPanel,
      timelineView(jobId, job));
    showTask();
    showDrawer();
    // the counts of each task, two at a time (DescribeTask has a per-second limit)
    let next = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < tasks.length && !disposed) {
        const t = tasks[next++]!;
        try {
          const a = await call('DescribeTask', { JobId: jobId, TaskName: t.TaskName as string, Limit: 0 });
          if (disposed) return;
          metrics.set(t.TaskName as string, a.TaskInstanceMetrics as Metrics);
          dag!.setTask(t.TaskName as string, a.TaskState as string, a.TaskInstanceMetrics as Metrics);
          if (shown?.task === t.TaskName) renderCounts();
        } catch {
          // the node keeps "counting…"; the task panel shows the error when selected
        }
      }
    }));
  }
  void load();
  return {
    el,
    update(r) {
      route = r;
      if (!job) return;
      showTask();
      showDrawer();
    },
    dispose() {
      disposed = true;
      grid?.dispose();
      drawer.close();
    },
  };
}
