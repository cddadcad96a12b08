// The compute environments page (#/envs): DescribeComputeEnvs, one page at a time on the server
// (Offset/Limit, ?page=), MANAGED and THPC_QUEUE environments alike, with an exact-name filter
// (Filters env-name, ?name=); each row shows the node counts of ComputeNodeMetrics and links to the
// environment's page (env.ts).
import type { Answer } from './api.ts';
import { badge, h, time } from './dom.ts';
import type { Page } from './main.ts';
import { namedListPage } from './named-list.ts';
import { href, type Route } from './router.ts';

/** The members of ComputeNodeMetrics and the node state each counts. */
export const NODE_METRICS: [string, string][] = [
  ['SubmittedCount', 'SUBMITTED'], ['CreatingCount', 'CREATING'], ['CreatedCount', 'CREATED'], ['RunningCount', 'RUNNING'],
  ['CreationFailedCount', 'CREATION_FAILED'], ['AbnormalCount', 'ABNORMAL'], ['DeletingCount', 'DELETING'],
];

/** The non-zero node counts of a ComputeNodeMetrics, as badges ("none" when every count is 0). */
export function nodeCounts(m: Answer | undefined, all = false): HTMLElement {
  const shown = NODE_METRICS.filter(([k]) => all || ((m?.[k] as number | undefined) ?? 0) > 0);
  return h('span', { class: 'metrics' }, ...(shown.length ? shown.map(([k, s]) => h('span', { 'data-metric': k }, badge(s), ` ${(m?.[k] as number | undefined) ?? 0}`)) : [h('span', { class: 'muted' }, 'no nodes')]));
}

export function tagsText(tags: Answer[] | null | undefined): string {
  return (tags ?? []).map((t) => `${t.Key as string}=${t.Value as string}`).join(', ');
}

export function envsPage(initial: Route): Page {
  return namedListPage({
    route: 'envs', title: 'Compute environments', action: 'DescribeComputeEnvs', nameFilter: 'env-name', setKey: 'ComputeEnvSet',
    noun: 'environment(s)',
    empty: (name) => (name ? `No environment is named ${name}.` : 'No compute environment yet (CreateComputeEnv makes one).'),
    draw: (envs) => h('div', { class: 'scroll' }, h('table', { class: 'table', id: 'envs-table' },
      h('thead', {}, h('tr', {}, ...['Environment', 'Name', 'Type', 'Zone', 'Desired', 'Nodes', 'Attached', 'Created', 'Tags'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...envs.map((e) => h('tr', { 'data-env': e.EnvId as string },
        h('td', {}, h('a', { href: href(['envs', e.EnvId as string]), class: 'mono' }, e.EnvId as string)),
        h('td', {}, e.EnvName as string),
        h('td', {}, `${e.EnvType as string} · ${e.ResourceType as string}`, e.NextAction ? h('span', {}, ' ', badge(e.NextAction as string)) : null),
        h('td', {}, (e.Placement as Answer | undefined)?.Zone as string ?? ''),
        h('td', {}, String(e.DesiredComputeNodeCount)),
        h('td', {}, nodeCounts(e.ComputeNodeMetrics as Answer)),
        h('td', {}, String(e.AttachedComputeNodeCount ?? 0)),
        h('td', { class: 'nowrap' }, time(e.CreateTime as string)),
        h('td', {}, tagsText(e.Tags as Answer[] | null))))))),
  }, initial);
}
