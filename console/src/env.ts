// One compute environment (#/envs/<EnvId>): DescribeComputeEnv's summary and node metrics
// (ComputeNodeMetrics, and the vCPUs, memory and free instance slots of its nodes added up), its nodes
// (ComputeNodeSet) with what each runs (node-runs.ts), and its activities (DescribeComputeEnvActivities,
// paged on the server with ?apage=, for one node with ?node=: its Filters is a single Filter object).
// Live: the env's and its nodes' events (the stream's envId) read the page again.
import { call, errorText, type Answer } from './api.ts';
import { badge, clear, h, time } from './dom.ts';
import { nodeCounts, tagsText } from './envs.ts';
import type { Page } from './main.ts';
import { nodeRuns, type NodeRuns } from './node-runs.ts';
import { pagerBar, paging } from './paging.ts';
import { go, href, withQuery, type Route } from './router.ts';
import { coalesce, live } from './live.ts';

const ACT_SIZE = 20;

export function envPage(envId: string, initial: Route): Page {
  const el = h('section', { class: 'env', 'aria-labelledby': 'env-title' }, h('p', { class: 'muted' }, 'Loading…'));
  let route = initial;
  let gen = 0;
  let actGen = 0;
  const acts = h('div', { id: 'activities' });
  const nav = (changes: Record<string, string | number | undefined>) => go(href(['envs', envId], withQuery(route, changes)));

  function runsCell(node: Answer, runs: NodeRuns | undefined | Error): HTMLElement {
    if (runs === undefined) return h('span', { class: 'muted' }, 'looking…');
    if (runs instanceof Error) return h('span', { class: 'error' }, errorText(runs));
    const list = runs.byNode.get(node.ComputeNodeInstanceId as string) ?? [];
    if (list.length === 0) return h('span', { class: 'muted' }, 'nothing running');
    return h('ul', { class: 'runs' }, ...list.map((x) => h('li', {},
      h('a', { href: href(['jobs', x.jobId], { task: x.task, instance: x.index }), title: `${x.jobId} · task ${x.task} · instance ${x.index}` },
        `${x.jobName} · ${x.task}[${x.index}]`), ' ', badge(x.state))));
  }

  function renderNodes(box: HTMLElement, nodes: Answer[], runs: NodeRuns | undefined | Error, note: HTMLElement): void {
    if (runs && !(runs instanceof Error)) {
      note.textContent = `What each node runs: read from ${runs.jobs} active job(s) and ${runs.tasks} task(s) on this environment ` +
        '(DescribeJobs, DescribeJobSubmitInfo EnvId, DescribeTask ComputeNodeInstanceId of STARTING and RUNNING instances; the API has no call that lists a node\'s instances).' +
        (runs.short ? ` Incomplete: ${runs.short}.` : '');
    }
    if (nodes.length === 0) {
      clear(box, h('p', { class: 'muted', id: 'no-nodes' }, 'This environment has no nodes.'));
      return;
    }
    const node = route.query.get('node') ?? '';
    clear(box, h('div', { class: 'scroll' }, h('table', { class: 'table', id: 'nodes-table' },
      h('thead', {}, h('tr', {}, ...['Node', 'Instance', 'State', 'vCPU', 'Memory', 'Free slots', 'Origin', 'Addresses', 'Created', 'Runs', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...nodes.map((n) => h('tr', { 'data-node': n.ComputeNodeId as string, class: node === n.ComputeNodeId ? 'chosen' : '' },
        h('td', { class: 'mono nowrap' }, n.ComputeNodeId as string),
        h('td', { class: 'mono nowrap' }, n.ComputeNodeInstanceId as string),
        h('td', {}, badge(n.ComputeNodeState as string)),
        h('td', {}, String(n.Cpu)),
        h('td', { class: 'nowrap' }, `${n.Mem as number} GiB`),
        h('td', { title: '0: the node is busy' }, String(n.TaskInstanceNumAvailable)),
        h('td', {}, (n.ResourceOrigin as string | undefined) ?? ''),
        h('td', { class: 'mono' }, [...((n.PrivateIpAddresses ?? []) as string[]), ...((n.PublicIpAddresses ?? []) as string[])].join(' ')),
        h('td', { class: 'nowrap' }, time(n.ResourceCreatedTime as string)),
        h('td', { class: 'node-runs' }, runsCell(n, runs)),
        h('td', {}, h('button', { type: 'button', class: 'node-acts', 'aria-pressed': String(node === n.ComputeNodeId),
          onclick: () => nav({ node: route.query.get('node') === n.ComputeNodeId ? undefined : n.ComputeNodeId as string, apage: undefined }) }, 'Activities'))))))));
  }

  function loadActivities(): void {
    const my = ++actGen;
    const p = paging(route.query, ACT_SIZE, 'apage');
    const node = route.query.get('node') ?? '';
    clear(acts, h('p', { class: 'muted' }, 'Loading…'));
    call('DescribeComputeEnvActivities', { EnvId: envId, Offset: p.offset, Limit: p.size, ...(node ? { Filters: { Name: 'compute-node-id', Values: [node] } } : {}) }).then((a) => {
      if (my !== actGen) return;
      const set = a.ActivitySet as Answer[];
      clear(acts,
        node ? h('p', {}, `Activities of node ${node} `, h('button', { type: 'button', id: 'all-activities', onclick: () => nav({ node: undefined, apage: undefined }) }, 'Show all')) : null,
        set.length === 0 ? h('p', { class: 'muted' }, 'No activity.') : h('div', { class: 'scroll' }, h('table', { class: 'table', id: 'activities-table' },
          h('thead', {}, h('tr', {}, ...['Activity', 'Node', 'Instance', 'Type', 'State', 'Cause', 'Started', 'Ended'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, ...set.map((x) => h('tr', { 'data-activity': x.ActivityId as string },
            h('td', { class: 'mono nowrap' }, x.ActivityId as string),
            h('td', { class: 'mono nowrap' }, x.ComputeNodeId as string),
            h('td', { class: 'mono nowrap' }, (x.InstanceId as string | null) ?? ''),
            h('td', {}, x.ComputeNodeActivityType as string),
            h('td', {}, badge(x.ActivityState as string), x.StateReason ? h('div', { class: 'muted' }, x.StateReason as string) : null),
            h('td', {}, x.Cause as string),
            h('td', { class: 'nowrap' }, time(x.StartTime as string)),
            h('td', { class: 'nowrap' }, time(x.EndTime as string | null))))))),
        pagerBar('activities-pager', p, a.TotalCount as number, 'activit(ies)', (page) => nav({ apage: page })));
    }, (e: unknown) => {
      if (my === actGen) clear(acts, h('p', { class: 'error', role: 'alert' }, errorText(e)));
    });
  }

  async function load(): Promise<void> {
    const my = ++gen;
    let env: Answer;
    try {
      env = await call('DescribeComputeEnv', { EnvId: envId });
    } catch (e) {
      clear(el, h('p', {}, h('a', { href: '#/envs' }, '← Environments')), h('p', { class: 'error', role: 'alert' }, errorText(e)));
      return;
    }
    if (my !== gen) return;
    const nodes = env.ComputeNodeSet as Answer[];
    const sum = (k: string) => nodes.reduce((s, n) => s + ((n[k] as number | undefined) ?? 0), 0);
    const nodesBox = h('div', { id: 'nodes' });
    const note = h('p', { class: 'muted', id: 'runs-note' }, 'What each node runs: looking at the active jobs…');
    clear(el,
      h('p', {}, h('a', { href: '#/envs' }, '← Environments')),
      h('h1', { id: 'env-title' }, `${env.EnvName as string} `, h('span', { class: 'mono muted' }, envId), ' ',
        h('span', { class: 'muted' }, `${env.EnvType as string} · ${env.ResourceType as string}`), env.NextAction ? badge(env.NextAction as string) : null),
      h('p', { class: 'muted' }, `zone ${(env.Placement as Answer | undefined)?.Zone as string ?? '–'} · created ${time(env.CreateTime as string)} · ` +
        `desired ${env.DesiredComputeNodeCount as number} node(s) · ${env.AttachedComputeNodeCount as number ?? 0} attached`,
        (env.Tags as Answer[] | null)?.length ? ` · tags ${tagsText(env.Tags as Answer[])}` : ''),
      h('div', { class: 'bar' }, h('button', { type: 'button', id: 'env-refresh', onclick: () => { void load(); loadActivities(); } }, 'Refresh')),
      h('h2', {}, 'Metrics'),
      h('div', { id: 'env-metrics' }, nodeCounts(env.ComputeNodeMetrics as Answer, true),
        h('p', { class: 'muted', id: 'env-capacity' }, `${nodes.length} node(s) · ${sum('Cpu')} vCPU · ${sum('Mem')} GiB · ${sum('TaskInstanceNumAvailable')} free instance slot(s)`)),
      h('h2', {}, `Nodes (${nodes.length})`), note, nodesBox,
      h('h2', {}, 'Activities'), acts);
    renderNodes(nodesBox, nodes, undefined, note);
    loadActivities();
    if (nodes.length === 0) {
      note.textContent = '';
      return;
    }
    let runs: NodeRuns | Error;
    try {
      runs = await nodeRuns(envId, () => my === gen);
    } catch (e) {
      runs = e instanceof Error ? e : new Error(String(e));
      note.textContent = 'What each node runs could not be read:';
    }
    if (my === gen) renderNodes(nodesBox, nodes, runs, note);
  }
  // live: the env's and its nodes' changes (created, up, being deleted, gone) read the page again
  const refresher = coalesce(() => load(), 1000);
  const stream = live({
    envId,
    onEvent: (e) => { if (e.Kind === 'env' || e.Kind === 'node') refresher.request(); },
    onReset: () => refresher.request(),
  });
  void load();
  return {
    el,
    update(r) {
      const before = `${route.query.get('apage') ?? ''}|${route.query.get('node') ?? ''}`;
      route = r;
      if (`${r.query.get('apage') ?? ''}|${r.query.get('node') ?? ''}` === before) return;
      el.querySelectorAll('#nodes-table tr[data-node]').forEach((tr) => {
        const on = tr.getAttribute('data-node') === r.query.get('node');
        tr.classList.toggle('chosen', on);
        tr.querySelector('.node-acts')?.setAttribute('aria-pressed', String(on));
      });
      loadActivities();
    },
    dispose() {
      gen++;
      actGen++;
      stream.stop();
      refresher.cancel();
    },
  };
}
