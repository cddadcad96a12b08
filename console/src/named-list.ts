// A page that lists one kind of thing a page at a time on the server (Offset/Limit, ?page=) with an
// exact-name filter (?name=): the compute environments (envs.ts) and the task templates
// (templates.ts). The caller names the action, its filter and the answer's set, and draws the items.
import { call, errorText, type Answer } from './api.ts';
import { clear, h } from './dom.ts';
import type { Page } from './main.ts';
import { pagerBar, paging } from './paging.ts';
import { go, href, withQuery, type Route } from './router.ts';

const SIZE = 20;

export interface NamedList {
  /** The route (#/<route>) and the prefix of the page's element ids. */
  route: string;
  title: string;
  action: string;
  /** The filter of an exact name (env-name, task-template-name). */
  nameFilter: string;
  /** The member of the answer that holds the items. */
  setKey: string;
  /** Items counted in the pager ("environment(s)"). */
  noun: string;
  /** What an empty page says, with and without a name asked for. */
  empty: (name: string) => string;
  draw: (items: Answer[]) => HTMLElement;
}

export function namedListPage(o: NamedList, initial: Route): Page {
  const el = h('section', { class: o.route, 'aria-labelledby': `${o.route}-title` });
  let gen = 0;
  const update = (r: Route) => {
    const my = ++gen;
    const p = paging(r.query, SIZE);
    const name = r.query.get('name') ?? '';
    const nav = (changes: Record<string, string | number | undefined>) => go(href([o.route], withQuery(r, changes)));
    const nameIn = h('input', { id: `f-${o.route.replace(/s$/, '')}-name`, name: 'name', value: name, placeholder: 'exact name', spellcheck: 'false' });
    const form = h('form', { class: 'filters', 'aria-label': 'Filters' }, h('label', {}, 'Name ', nameIn),
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', onclick: () => go(href([o.route])) }, 'Clear'),
      h('button', { type: 'button', onclick: () => update(r) }, 'Refresh'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      nav({ name: nameIn.value.trim(), page: undefined });
    });
    const body = h('div', { class: 'list', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
    const pager = h('div');
    clear(el, h('h1', { id: `${o.route}-title` }, o.title), form, body, pager);
    call(o.action, { Offset: p.offset, Limit: p.size, ...(name ? { Filters: [{ Name: o.nameFilter, Values: [name] }] } : {}) }).then((a) => {
      if (my !== gen) return;
      const items = a[o.setKey] as Answer[];
      clear(pager, pagerBar(`${o.route}-pager`, p, a.TotalCount as number, o.noun, (page) => nav({ page })));
      if (items.length === 0) {
        clear(body, h('p', { class: 'muted', id: `no-${o.route}` }, o.empty(name)));
        return;
      }
      clear(body, o.draw(items));
    }, (e: unknown) => {
      if (my === gen) clear(body, h('p', { class: 'error', role: 'alert' }, errorText(e)));
    });
  };
  update(initial);
  return { el, update, dispose: () => void gen++ };
}
