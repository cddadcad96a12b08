// The task templates page (#/templates): DescribeTaskTemplates one page at a time on the server
// (Offset/Limit, ?page=), an exact-name filter (Filters task-template-name, ?name=), and each template's
// TaskTemplateInfo (the Task it stands for) as JSON, exactly as the API answered it.
import { call, errorText, type Answer } from './api.ts';
import { clear, h, time } from './dom.ts';
import { tagsText } from './envs.ts';
import type { Page } from './main.ts';
import { pagerBar, paging } from './paging.ts';
import { go, href, withQuery, type Route } from './router.ts';

const SIZE = 20;

export function templatesPage(initial: Route): Page {
  const el = h('section', { class: 'templates', 'aria-labelledby': 'templates-title' });
  let gen = 0;
  const update = (r: Route) => {
    const my = ++gen;
    const p = paging(r.query, SIZE);
    const name = r.query.get('name') ?? '';
    const nav = (changes: Record<string, string | number | undefined>) => go(href(['templates'], withQuery(r, changes)));
    const nameIn = h('input', { id: 'f-template-name', name: 'name', value: name, placeholder: 'exact name', spellcheck: 'false' });
    const form = h('form', { class: 'filters', 'aria-label': 'Filters' }, h('label', {}, 'Name ', nameIn),
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', onclick: () => go(href(['templates'])) }, 'Clear'),
      h('button', { type: 'button', onclick: () => update(r) }, 'Refresh'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      nav({ name: nameIn.value.trim(), page: undefined });
    });
    const body = h('div', { class: 'list', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
    const pager = h('div');
    clear(el, h('h1', { id: 'templates-title' }, 'Task templates'), form, body, pager);
    call('DescribeTaskTemplates', { Offset: p.offset, Limit: p.size, ...(name ? { Filters: [{ Name: 'task-template-name', Values: [name] }] } : {}) }).then((a) => {
      if (my !== gen) return;
      const set = a.TaskTemplateSet as Answer[];
      clear(pager, pagerBar('templates-pager', p, a.TotalCount as number, 'template(s)', (page) => nav({ page })));
      if (set.length === 0) {
        clear(body, h('p', { class: 'muted', id: 'no-templates' }, name ? `No template is named ${name}.` : 'No task template yet (CreateTaskTemplate makes one).'));
        return;
      }
      clear(body, h('ul', { class: 'cards', id: 'templates-list' }, ...set.map((t) => h('li', { class: 'card', 'data-template': t.TaskTemplateId as string },
        h('h2', {}, t.TaskTemplateName as string, h('span', { class: 'mono muted' }, t.TaskTemplateId as string)),
        t.TaskTemplateDescription ? h('p', {}, t.TaskTemplateDescription as string) : null,
        h('p', { class: 'muted' }, `created ${time(t.CreateTime as string)}`, (t.Tags as Answer[] | null)?.length ? ` · tags ${tagsText(t.Tags as Answer[])}` : ''),
        h('details', { open: true }, h('summary', {}, 'TaskTemplateInfo'), h('pre', { class: 'json' }, JSON.stringify(t.TaskTemplateInfo, null, 2)))))));
    }, (e: unknown) => {
      if (my === gen) clear(body, h('p', { class: 'error', role: 'alert' }, errorText(e)));
    });
  };
  update(initial);
  return { el, update, dispose: () => void gen++ };
}
