// The submit page (#/submit): a JSON or YAML editor (a <textarea>, parsed with the `yaml` package —
// JSON is YAML) holding a SubmitJob `Job` or a whole SubmitJob request, as `openbatch submit` reads a
// file; Placement.Zone defaults to the region's first zone as the CLI's does. Nothing is checked here
// beyond parsing: the API's own answer (Code, Message, RequestId) shows as it comes. "Start from a task
// template" fills the editor with a job whose task is the template's TaskTemplateInfo (TaskName: the
// template's, else its name), as the CLI's --template builds it. On success: the new job's page.
import { zonesOf } from '../../src/domain/regions.ts';
import { call, credentials, errorText, type Answer } from './api.ts';
import { clear, h } from './dom.ts';
import type { Page } from './main.ts';
import { go, href } from './router.ts';

const PLACEHOLDER = `# a Job, or a whole SubmitJob request (Job, Placement, …); JSON works too
JobName: hello
Tasks:
  - TaskName: A
    TaskInstanceNum: 1
    Application: { DeliveryForm: LOCAL, Command: echo hello }
    ComputeEnv: { EnvType: MANAGED, EnvData: { InstanceType: S1.SMALL1, ImageId: img-bd78fy2t } }`;

interface Yaml {
  parse(text: string): unknown;
  stringify(v: unknown): string;
}
let yamlLoad: Promise<Yaml> | undefined;

/** Where yaml.js cannot be loaded: JSON only. */
const JSON_ONLY: Yaml = { parse: (t) => JSON.parse(t) as unknown, stringify: (v) => JSON.stringify(v, null, 2) };
const yamlOrJson = () => loadYaml().catch(() => JSON_ONLY);

/** The `yaml` package's parse and stringify, from yaml.js (loaded once, on first use). */
export function loadYaml(): Promise<Yaml> {
  yamlLoad ??= new Promise<Yaml>((resolve, reject) => {
    const s = h('script', { src: 'yaml.js' });
    s.addEventListener('load', () => {
      const y = (globalThis as { OpenBatchYaml?: Yaml }).OpenBatchYaml;
      if (y) resolve(y);
      else reject(new Error('yaml.js did not load the YAML parser'));
    });
    s.addEventListener('error', () => {
      yamlLoad = undefined;
      reject(new Error('yaml.js (the YAML parser) could not be loaded'));
    });
    document.head.append(s);
  });
  return yamlLoad;
}

/** The SubmitJob request the editor holds (a Job alone is wrapped), with Placement.Zone defaulted. */
export function requestOf(yaml: Yaml, text: string, region: string): Answer {
  let doc: unknown;
  try {
    doc = yaml.parse(text);
  } catch (e) {
    throw new Error(`The editor holds neither JSON nor YAML: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error('The editor must hold a Job (a mapping with Tasks) or a SubmitJob request (a mapping with Job).');
  }
  const d = doc as Answer;
  const req: Answer = 'Job' in d ? d : { Job: d };
  if (req.Placement === undefined) {
    const zone = zonesOf(region)[0];
    if (zone !== undefined) req.Placement = { Zone: zone };
  }
  return req;
}

/** A job of one task built from a template, as `openbatch submit --template` builds it. */
function fromTemplate(t: Answer): Answer {
  const info: Answer = t.TaskTemplateInfo ?? {};
  return { Job: { JobName: t.TaskTemplateName as string, Tasks: [{ ...info, TaskName: info.TaskName ?? t.TaskTemplateName }] } };
}

export function submitPage(): Page {
  const editor = h('textarea', { id: 'submit-editor', spellcheck: 'false', 'aria-label': 'Job as JSON or YAML', placeholder: PLACEHOLDER });
  const out = h('p', { id: 'submit-out', class: 'muted', 'aria-live': 'polite' });
  const tplSel = h('select', { id: 'submit-template', 'aria-label': 'Task template' }, h('option', { value: '' }, 'Loading templates…'));
  const tplInfo = h('span', { class: 'muted', id: 'template-info' });
  const templates = new Map<string, Answer>();
  let disposed = false;

  tplSel.addEventListener('change', () => {
    const t = templates.get(tplSel.value);
    if (!t) return;
    void yamlOrJson().then((y) => {
      if (templates.get(tplSel.value) !== t) return;
      editor.value = y.stringify(fromTemplate(t));
      tplInfo.textContent = `Task from ${t.TaskTemplateId as string}: edit it, then submit.`;
      editor.focus();
    });
  });

  const submit = h('button', { type: 'submit', class: 'primary', id: 'submit-job' }, 'Submit job');
  const form = h('form', { class: 'submit', 'aria-labelledby': 'submit-title' },
    h('div', { class: 'bar' }, h('label', { for: 'submit-template' }, 'Start from a task template '), tplSel, tplInfo),
    editor, h('div', { class: 'bar' }, submit, out));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      const c = credentials();
      if (!c) return;
      let req: Answer;
      try {
        req = requestOf(await yamlOrJson(), editor.value, c.region);
      } catch (e) {
        out.className = 'error';
        out.textContent = (e as Error).message;
        return;
      }
      submit.disabled = true;
      out.className = 'muted';
      out.textContent = 'Submitting…';
      try {
        const r = await call('SubmitJob', req);
        if (!disposed) go(href(['jobs', r.JobId as string]));
      } catch (e) {
        out.className = 'error';
        out.setAttribute('role', 'alert');
        out.textContent = errorText(e);
      } finally {
        submit.disabled = false;
      }
    })();
  });
  // Ctrl+Enter in the editor submits
  editor.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });

  void loadYaml().catch((e: unknown) => {
    out.className = 'error';
    out.textContent = `${(e as Error).message}: the editor reads JSON only`;
  });
  void (async () => {
    try {
      for (let offset = 0; ; offset += 100) {
        const a = await call('DescribeTaskTemplates', { Offset: offset, Limit: 100 });
        for (const t of a.TaskTemplateSet as Answer[]) templates.set(t.TaskTemplateId as string, t);
        if (offset + 100 >= (a.TotalCount as number)) break;
      }
      if (disposed) return;
      clear(tplSel, h('option', { value: '' }, templates.size === 0 ? 'no task templates' : '(none: write the job)'),
        ...[...templates.values()].map((t) => h('option', { value: t.TaskTemplateId as string }, `${t.TaskTemplateName as string} (${t.TaskTemplateId as string})`)));
    } catch (e) {
      clear(tplSel, h('option', { value: '' }, 'templates could not be read'));
      tplInfo.className = 'error';
      tplInfo.textContent = errorText(e);
    }
  })();

  const el = h('section', { class: 'submit-page', 'aria-labelledby': 'submit-title' },
    h('h1', { id: 'submit-title' }, 'Submit a job'),
    h('p', { class: 'muted' }, 'A SubmitJob Job, or a whole request (Job, Placement, ClientToken …), as JSON or YAML. ',
      'Placement.Zone defaults to the region\'s first zone. The API checks it: its answer shows as it comes. Ctrl+Enter submits.'),
    form);
  return { el, update: () => undefined, dispose: () => void (disposed = true) };
}
