// The job page (#/jobs/<JobId>): DescribeJob's summary, the DAG of all its tasks with their instance
// counts (one DescribeTask Limit 0 per task), and for the selected task (?task=) its state filter
// (?state=, sent as DescribeTask Filters task-instance-state) and instance grid; ?instance= opens the
// instance drawer (?attempt=, ?stream= choose the log). The query is the page's whole state.
// Actions (jobActions: retry failed, terminate, delete) sit under the summary. Live: the job's event
// stream (live.ts) updates the summary, the DAG and its counts (the tasks named by events, read again
// at most once a second), the grid's loaded cells and the open drawer; no polling.
import { call, errorText, type Answer } from './api.ts';
import { actionButton } from './confirm.ts';
import { badge, clear, h, keepFocus, time } from './dom.ts';
import { coalesce, live, type LiveEvent } from './live.ts';
import { dagView, type DagView } from './dag.ts';
import { InstanceDrawer } from './drawer.ts';
import { gridView, type GridView } from './grid.ts';
import type { Page } from './main.ts';
import { go, href, withQuery, type Route } from './router.ts';
import { countOf, FINISHED, STATES, type Metrics } from './states.ts';
import { timelineView } from './timeline.ts';

function metricsLine(m: Metrics | undefined): HTMLElement {
  return h('span', { class: 'metrics' }, ...STATES.filter((s) => countOf(m, s) > 0).map((s) => h('span', {}, badge(s), ` ${countOf(m, s)}`)));
}

const isFinished = (s: string) => (FINISHED as readonly string[]).includes(s);

/** Retry failed, Terminate job and Delete job, each disabled where the API would refuse it. */
function jobActions(job: Answer, metrics: Map<string, Metrics>, out: HTMLElement): HTMLElement {
  const id = job.JobId as string, st = job.JobState as string;
  const tasks = (job.TaskSet ?? []) as Answer[];
  const busy = tasks.find((t) => !isFinished(t.TaskState as string) || countOf(metrics.get(t.TaskName as string), 'FAILED_INTERRUPTED') > 0);
  return h('div', { class: 'bar actions', id: 'job-actions' },
    actionButton({
      id: 'retry-job', label: 'Retry failed',
      refused: st === 'FAILED' ? undefined : `only FAILED jobs can be retried; this one is ${st}`,
      title: `Retry the failed instances of ${id}?`,
      question: 'RetryJobs runs every FAILED instance of this job again (its tasks that did not start then start as their dependences allow).',
      yes: 'Retry failed', run: () => call('RetryJobs', { JobIds: [id] }),
    }, out),
    actionButton({
      id: 'terminate-job', label: 'Terminate job',
      refused: st === 'SUBMITTED' ? 'the job is SUBMITTED: it can be terminated once the scheduler has accepted it'
        : st === 'SUCCEED' || st === 'FAILED' ? `the job has ended (${st})` : undefined,
      title: `Terminate ${id}?`,
      question: 'TerminateJob stops every running instance of this job and fails those that have not started; the job ends FAILED.',
      yes: 'Terminate job', run: () => call('TerminateJob', { JobId: id }),
    }, out),
    actionButton({
      id: 'delete-job', label: 'Delete job',
      refused: st !== 'SUCCEED' && st !== 'FAILED' ? `only jobs whose every instance is SUCCEED or FAILED can be deleted; this one is ${st}`
        : busy ? `task ${busy.TaskName as string} has not ended (or has interrupted instances)` : undefined,
      title: `Delete ${id}?`,
      question: 'DeleteJob removes this job, its tasks, instances, attempts and their logs. This cannot be undone.',
      yes: 'Delete job', run: () => call('DeleteJob', { JobId: id }), done: () => go('#/jobs'),
    }, out));
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
  const summary = h('div', { class: 'job-summary', id: 'job-summary', 'aria-live': 'polite' });
  const actionOut = h('p', { class: 'muted', id: 'job-action-out', 'aria-live': 'polite' });
  const liveInfo = h('span', { class: 'muted', id: 'live-status' }, 'live: connecting…');

  /** The summary and actions from `job` (drawn again when it is read again). */
  function renderSummary(): void {
    const j = job;
    if (!j) return;
    keepFocus(summary, () => clear(summary,
      h('h1', { id: 'job-title' }, `${j.JobName as string} `, h('span', { class: 'mono muted' }, jobId), ' ',
        h('span', { id: 'job-state', 'data-state': j.JobState as string }, badge(j.JobState as string))),
      j.StateReason ? h('p', { class: 'reason' }, j.StateReason as string) : null,
      h('p', { class: 'muted' }, `created ${time(j.CreateTime as string)} · ended ${time(j.EndTime as string)} · priority ${j.Priority as number} · `, liveInfo),
      h('p', { id: 'job-metrics' }, 'Instances: ', metricsLine(j.TaskInstanceMetrics as Metrics)),
      jobActions(j, metrics, actionOut), actionOut));
  }

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
      h('h2', {}, `Task ${name} `, h('span', { id: 'task-state' }, badge(t.TaskState as string))),
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
    await streamOpen;
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
    renderSummary();
    clear(el,
      h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')),
      summary,
      h('h2', {}, `Tasks (${tasks.length})`),
      h('div', { class: 'dag-scroll' }, dag.el),
      taskPanel,
      timelineView(jobId, job));
    showTask();
    showDrawer();
    await countTasks(tasks.map((t) => t.TaskName as string));
  }

  /** DescribeTask Limit 0 of these tasks, two at a time (DescribeTask has a per-second limit). */
  async function countTasks(names: string[]): Promise<void> {
    let next = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < names.length && !disposed) {
        const name = names[next++]!;
        try {
          const a = await call('DescribeTask', { JobId: jobId, TaskName: name, Limit: 0 });
          if (disposed) return;
          metrics.set(name, a.TaskInstanceMetrics as Metrics);
          dag!.setTask(name, a.TaskState as string, a.TaskInstanceMetrics as Metrics);
          if (shown?.task === name) renderCounts();
        } catch {
          // the node keeps what it showed; the task panel shows the error when selected
        }
      }
    }));
  }

  // live: events mark what to read again; the refresher reads it at most once a second
  let stream: { stop(): void } | undefined;
  const dirty = new Set<string>();
  let gridStale = false, drawerStale = false;
  const refresher = coalesce(async () => {
    if (disposed) return;
    const names = [...dirty];
    dirty.clear();
    try {
      const j = await call('DescribeJob', { JobId: jobId });
      if (disposed) return;
      job = j;
      for (const t of j.TaskSet as Answer[]) if (!names.includes(t.TaskName as string)) dag?.setTask(t.TaskName as string, t.TaskState as string, metrics.get(t.TaskName as string));
    } catch (e) {
      actionOut.className = 'error';
      actionOut.textContent = errorText(e);
    }
    await countTasks(names);
    if (disposed) return;
    renderSummary();
    const t = ((job?.TaskSet ?? []) as Answer[]).find((x) => x.TaskName === shown?.task);
    const tb = document.getElementById('task-state');
    if (t && tb && el.contains(tb)) clear(tb, badge(t.TaskState as string));
    if (gridStale) grid?.reload();
    if (drawerStale) drawer.refresh();
    gridStale = drawerStale = false;
  }, 1000);

  function onEvent(e: LiveEvent): void {
    if (e.JobId !== jobId) return;
    if (e.TaskName) dirty.add(e.TaskName);
    if (e.Kind === 'job' || e.Kind === 'task' || e.TaskName) refresher.request();
    if (!e.TaskName || !shown || shown.task !== e.TaskName || !e.State) return;
    if (shown.state) gridStale = true;
    else if (e.Kind === 'instance' && e.TaskInstanceIndex !== undefined) grid?.instance(e.TaskInstanceIndex, e.State, e.ExitCode);
    else if (e.Kind === 'instances' && e.TaskInstanceIndex !== undefined && e.TaskInstanceIndexEnd !== undefined) grid?.range(e.TaskInstanceIndex, e.TaskInstanceIndexEnd, e.State);
    const d = drawer.openFor;
    if (d && d.taskName === e.TaskName && e.TaskInstanceIndex !== undefined &&
      (e.TaskInstanceIndex === d.index || (e.TaskInstanceIndexEnd !== undefined && d.index >= e.TaskInstanceIndex && d.index < e.TaskInstanceIndexEnd))) drawerStale = true;
  }
  // the stream is opened first: what is read after it is open cannot miss an event
  let opened: () => void = () => undefined;
  const streamOpen = new Promise<void>((r) => {
    opened = r;
    setTimeout(r, 2000);
  });
  stream = live({
    jobId, onEvent,
    onReset: () => {
      for (const t of (job?.TaskSet ?? []) as Answer[]) dirty.add(t.TaskName as string);
      gridStale = drawerStale = true;
      refresher.request();
    },
    onStatus: (open, why) => {
      liveInfo.textContent = open ? 'live' : `live: reconnecting (${why ?? ''})`;
      liveInfo.dataset.open = String(open);
      if (open) opened();
    },
  });
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
      stream?.stop();
      refresher.cancel();
      grid?.dispose();
      drawer.close();
    },
  };
}
