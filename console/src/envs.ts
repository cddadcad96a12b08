// The compute environments page (#/envs): DescribeComputeEnvs, one page at a time on the server
// (Offset/Limit, ?page=), MANAGED and THPC_QUEUE environments alike, with an exact-name filter
// (Filters env-name, ?name=); each row shows the node counts of ComputeNodeMetrics and links to the
// environment's page (env.ts).
import { call, errorText, type Answer } from './api.ts';
import { badge, clear, h, time } from './dom.ts';
import type { Page } from './main.ts';
import { pagerBar, paging } from './paging.ts';
import { go, href, withQuery, type Route } from './router.ts';

const SIZE = 20;

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
  const el = h('section', { class: 'envs', 'aria-labelledby': 'envs-title' });
  let gen = 0;
  const update = (r: Route) => {
    const my = ++gen;
    const p = paging(r.query, SIZE);
    const name = r.query.get('name') ?? '';
    const nav = (changes: Record<string, string | number | undefined>) => go(href(['envs'], withQuery(r, changes)));
    const nameIn = h('input', { id: 'f-env-name', name: 'name', value: name, placeholder: 'exact name', spellcheck: 'false' });
    const form = h('form', { class: 'filters', 'aria-label': 'Filters' }, h('label', {}, 'Name ', nameIn),
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', onclick: () => go(href(['envs'])) }, 'Clear'),
      h('button', { type: 'button', onclick: () => update(r) }, 'Refresh'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      nav({ name: nameIn.value.trim(), page: undefined });
    });
    const body = h('div', { class: 'list', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
    const pager = h('div');
    clear(el, h('h1', { id: 'envs-title' }, 'Compute environments'), form, body, pager);
    call('DescribeComputeEnvs', { Offset: p.offset, Limit: p.size, ...(name ? { Filters: [{ Name: 'env-name', Values: [name] }] } : {}) }).then((a) => {
      if (my !== gen) return;
      const envs = a.ComputeEnvSet as Answer[];
      clear(pager, pagerBar('envs-pager', p, a.TotalCount as number, 'environment(s)', (page) => nav({ page })));
      if (envs.length === 0) {
        clear(body, h('p', { class: 'muted', id: 'no-envs' }, name ? `No environment is named ${name}.` : 'No compute environment yet (CreateComputeEnv makes one).'));
        return;
      }
      clear(body, h('div', { class: 'scroll' }, h('table', { class: 'table', id: 'envs-table' },
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
          h('td', {}, tagsText(e.Tags as Answer[] | null))))))));
    }, (e: unknown) => {
      if (my === gen) clear(body, h('p', { class: 'error', role: 'alert' }, errorText(e)));
    });
  };
  update(initial);
  return { el, update, dispose: () => void gen++ };
}
