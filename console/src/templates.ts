// The task templates page (#/templates): DescribeTaskTemplates one page at a time on the server
// (Offset/Limit, ?page=), an exact-name filter (Filters task-template-name, ?name=), and each template's
// TaskTemplateInfo (the Task it stands for) as JSON, exactly as the API answered it.
import type { Answer } from './api.ts';
import { h, time } from './dom.ts';
import { tagsText } from './envs.ts';
import type { Page } from './main.ts';
import { namedListPage } from './named-list.ts';
import type { Route } from './router.ts';

export function templatesPage(initial: Route): Page {
  return namedListPage({
    route: 'templates', title: 'Task templates', action: 'DescribeTaskTemplates', nameFilter: 'task-template-name', setKey: 'TaskTemplateSet',
    noun: 'template(s)',
    empty: (name) => (name ? `No template is named ${name}.` : 'No task template yet (CreateTaskTemplate makes one).'),
    draw: (set) => h('ul', { class: 'cards', id: 'templates-list' }, ...set.map((t) => h('li', { class: 'card', 'data-template': t.TaskTemplateId as string },
      h('h2', {}, t.TaskTemplateName as string, h('span', { class: 'mono muted' }, t.TaskTemplateId as string)),
      t.TaskTemplateDescription ? h('p', {}, t.TaskTemplateDescription as string) : null,
      h('p', { class: 'muted' }, `created ${time(t.CreateTime as string)}`, (t.Tags as Answer[] | null)?.length ? ` · tags ${tagsText(t.Tags as Answer[])}` : ''),
      h('details', { open: true }, h('summary', {}, 'TaskTemplateInfo'), h('pre', { class: 'json' }, JSON.stringify(t.TaskTemplateInfo, null, 2)))))),
  }, initial);
}
