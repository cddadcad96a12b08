// The jobs page (#/jobs): active and finished jobs on two tabs, filters sent as DescribeJobs Filters
// (job-state, job-name, tag-key, tag-value), paging on the server (Offset/Limit, a page size selector),
// counts per state (one DescribeJobs Limit 1 per state: its TotalCount), and newest or oldest first.
// DescribeJobs answers newest first; oldest first reads the pages from the other end (Offset counted
// from the TotalCount) and reverses each one, so the sort is still done by the server's paging.
// Live: the event stream (live.ts) of the caller's jobs; a job event reads the visible page and the
// counts again, at most once a second.
import { call, errorText, type Answer } from './api.ts';
import { badge, clear, h, keepFocus, time } from './dom.ts';
import { coalesce, live } from './live.ts';
import type { Page } from './main.ts';
import { go, href, withQuery, type Route } from './router.ts';
import { ACTIVE, FINISHED, METRIC_OF, type State } from './states.ts';

const SIZES = [10, 20, 50, 100];

interface JobsQuery {
  tab: 'active' | 'finished';
  state: State | '';
  name: string;
  tagKey: string;
  tagValue: string;
  page: number;
  size: number;
  order: 'new' | 'old';
}

function parse(r: Route): JobsQuery {
  const q = r.query;
  const tab = q.get('tab') === 'finished' ? 'finished' : 'active';
  const states: readonly string[] = tab === 'active' ? ACTIVE : FINISHED;
  const state = states.includes(q.get('state') ?? '') ? (q.get('state') as State) : '';
  const size = Number(q.get('size'));
  return {
    tab, state,
    name: q.get('name') ?? '', tagKey: q.get('tagKey') ?? '', tagValue: q.get('tagValue') ?? '',
    page: Math.max(1, Math.floor(Number(q.get('page')) || 1)),
    size: SIZES.includes(size) ? size : 20,
    order: q.get('order') === 'old' ? 'old' : 'new',
  };
}

/** The DescribeJobs Filters of a query, with the states given. */
function filters(q: JobsQuery, states: readonly string[]): { Name: string; Values: string[] }[] {
  const f = [{ Name: 'job-state', Values: [...states] }];
  if (q.name) f.push({ Name: 'job-name', Values: [q.name] });
  if (q.tagKey) f.push({ Name: 'tag-key', Values: [q.tagKey] });
  if (q.tagValue) f.push({ Name: 'tag-value', Values: [q.tagValue] });
  return f;
}

/** Runs `fns` at most `n` at a time (the API's rate limits are per second). */
async function limited<T>(fns: (() => Promise<T>)[], n: number): Promise<T[]> {
  const out: T[] = new Array(fns.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, fns.length) }, async () => {
    while (next < fns.length) {
      const i = next++;
      out[i] = await fns[i]!();
    }
  }));
  return out;
}

export function jobsPage(initial: Route): Page {
  const el = h('section', { class: 'jobs', 'aria-labelledby': 'jobs-title' });
  let gen = 0;
  let reload: () => Promise<void> | void = () => undefined;
  const liveInfo = h('span', { class: 'muted', id: 'live-status' }, 'live: connecting…');

  let latest = initial;
  const update = (r: Route) => {
    latest = r;
    const q = parse(r);
    ++gen;
    const nav = (changes: Partial<Record<keyof JobsQuery, string | number>>, replace = false) =>
      go(href(['jobs'], withQuery(r, changes)), replace);
    const tabStates = q.tab === 'active' ? ACTIVE : FINISHED;

    const tab = (id: 'active' | 'finished', label: string) =>
      h('button', { type: 'button', role: 'tab', id: `tab-${id}`, 'aria-selected': String(q.tab === id), class: q.tab === id ? 'tab on' : 'tab',
        onclick: () => go(href(['jobs'], { tab: id, size: q.size === 20 ? undefined : q.size })) }, label);

    const stateSel = h('select', { id: 'f-state', name: 'state' }, h('option', { value: '' }, `any ${q.tab} state`),
      ...tabStates.map((s) => h('option', { value: s, selected: q.state === s }, s)));
    const name = h('input', { id: 'f-name', name: 'name', value: q.name, placeholder: 'exact name', spellcheck: 'false' });
    const tagKey = h('input', { id: 'f-tag-key', name: 'tagKey', value: q.tagKey, spellcheck: 'false' });
    const tagValue = h('input', { id: 'f-tag-value', name: 'tagValue', value: q.tagValue, spellcheck: 'false' });
    const form = h('form', { class: 'filters', 'aria-label': 'Filters' },
      h('label', {}, 'State ', stateSel), h('label', {}, 'Name ', name),
      h('label', {}, 'Tag key ', tagKey), h('label', {}, 'Tag value ', tagValue),
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', onclick: () => go(href(['jobs'], { tab: q.tab })) }, 'Clear'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      nav({ state: stateSel.value, name: name.value.trim(), tagKey: tagKey.value.trim(), tagValue: tagValue.value.trim(), page: '' });
    });

    const counts = h('div', { class: 'counts', 'aria-label': 'Jobs per state', 'aria-live': 'polite' });
    const body = h('div', { class: 'list', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
    const sizeSel = h('select', { id: 'page-size', 'aria-label': 'Jobs per page', onchange: () => nav({ size: sizeSel.value, page: '' }) },
      ...SIZES.map((s) => h('option', { value: s, selected: s === q.size }, `${s} per page`)));
    const orderBtn = h('button', { type: 'button', id: 'order', onclick: () => nav({ order: q.order === 'new' ? 'old' : '', page: '' }) },
      q.order === 'new' ? 'Newest first ↓' : 'Oldest first ↑');
    const pager = h('div', { class: 'pager' });

    clear(el,
      h('h1', { id: 'jobs-title' }, 'Jobs'),
      h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Active or finished' }, tab('active', 'Active'), tab('finished', 'Finished')),
      form, counts,
      h('div', { class: 'bar' }, orderBtn, sizeSel, h('button', { type: 'button', onclick: () => update(r) }, 'Refresh'), liveInfo),
      body, pager);

    reload = () => load(q, counts, body, pager, nav);
    reload();
  };

  /** Reads the counts and the page of `q` into the page's elements (again on job events). */
  const load = (q: JobsQuery, counts: HTMLElement, body: HTMLElement, pager: HTMLElement,
    nav: (changes: Partial<Record<keyof JobsQuery, string | number>>) => void): Promise<void> => {
    const my = ++gen;
    const tabStates = q.tab === 'active' ? ACTIVE : FINISHED;

    // counts per state of this tab (the other filters apply)
    const countsDone = limited(tabStates.map((s) => () => call('DescribeJobs', { Filters: filters(q, [s]), Limit: 1 }).then(
      (a) => ({ s, n: a.TotalCount as number }), (e: unknown) => ({ s, n: NaN, e }))), 2).then((rows) => {
      if (my !== gen) return;
      keepFocus(counts, () => clear(counts, ...rows.map(({ s, n }) => h('button', {
        type: 'button', id: `count-${s}`, class: q.state === s ? 'count on' : 'count', 'data-state': s, 'aria-pressed': String(q.state === s),
        title: Number.isNaN(n) ? 'could not be counted' : `${n} ${s} job(s)`,
        onclick: () => nav({ state: q.state === s ? '' : s, page: '' }),
      }, badge(s), ' ', Number.isNaN(n) ? '?' : String(n)))));
    });

    const listDone = (async () => {
      const f = filters(q, q.state ? [q.state] : tabStates);
      let total: number;
      let jobs: Answer[];
      if (q.order === 'new') {
        const a = await call('DescribeJobs', { Filters: f, Offset: (q.page - 1) * q.size, Limit: q.size });
        total = a.TotalCount as number;
        jobs = a.JobSet as Answer[];
      } else {
        total = (await call('DescribeJobs', { Filters: f, Limit: 1 })).TotalCount as number;
        const end = total - (q.page - 1) * q.size;
        const start = Math.max(0, end - q.size);
        jobs = end <= 0 ? [] : ((await call('DescribeJobs', { Filters: f, Offset: start, Limit: end - start })).JobSet as Answer[]).reverse();
      }
      if (my !== gen) return;
      keepFocus(body, () => renderList(body, jobs, q));
      const pages = Math.max(1, Math.ceil(total / q.size));
      clear(pager,
        h('button', { type: 'button', id: 'prev', disabled: q.page <= 1, onclick: () => nav({ page: q.page - 1 }) }, '← Previous'),
        h('span', { id: 'page-info' }, `page ${q.page} of ${pages} · ${total} job(s)`),
        h('button', { type: 'button', id: 'next', disabled: q.page >= pages, onclick: () => nav({ page: q.page + 1 }) }, 'Next →'));
    })().catch((e: unknown) => {
      if (my === gen) clear(body, h('p', { class: 'error', role: 'alert' }, errorText(e)));
    });
    return Promise.all([countsDone, listDone]).then(() => undefined);
  };

  const refresher = coalesce(() => reload(), 1000);
  let opened: () => void = () => undefined;
  const streamOpen = new Promise<void>((r) => {
    opened = r;
    setTimeout(r, 2000);
  });
  const stream = live({
    onEvent: (e) => { if (e.Kind === 'job') refresher.request(); },
    onReset: () => refresher.request(),
    onStatus: (open, why) => {
      liveInfo.textContent = open ? 'live' : `live: reconnecting (${why ?? ''})`;
      liveInfo.dataset.open = String(open);
      if (open) opened();
    },
  });
  // the stream is opened first, so that what is read after it cannot miss an event
  clear(el, h('p', { class: 'muted' }, 'Loading…'));
  void streamOpen.then(() => update(latest));
  return {
    el,
    update,
    dispose: () => {
      gen++;
      stream.stop();
      refresher.cancel();
    },
  };
}

function taskSummary(m: Answer | undefined): string {
  if (!m) return '';
  const parts: string[] = [];
  for (const [s, k] of Object.entries(METRIC_OF)) {
    const n = m[k] as number | undefined;
    if (n) parts.push(`${n} ${s.toLowerCase().replace('_', ' ')}`);
  }
  return parts.join(', ');
}

function renderList(body: HTMLElement, jobs: Answer[], q: JobsQuery): void {
  if (jobs.length === 0) {
    clear(body, h('p', { class: 'muted', id: 'no-jobs' }, `No ${q.tab} job matches.`));
    return;
  }
  clear(body, h('div', { class: 'scroll' }, h('table', { class: 'table', id: 'jobs-table' },
    h('thead', {}, h('tr', {}, ...['Job', 'Name', 'State', 'Tasks', 'Created', 'Ended', 'Tags'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...jobs.map((j) => h('tr', { 'data-job': j.JobId as string },
      h('td', {}, h('a', { href: href(['jobs', j.JobId as string]), class: 'mono', id: `job-link-${j.JobId as string}` }, j.JobId as string)),
      h('td', {}, j.JobName as string),
      h('td', {}, badge(j.JobState as string)),
      h('td', {}, taskSummary(j.TaskMetrics as Answer)),
      h('td', {}, time(j.CreateTime as string)),
      h('td', {}, time(j.EndTime as string | null)),
      h('td', {}, ((j.Tags ?? []) as Answer[]).map((t) => `${t.Key as string}=${t.Value as string}`).join(', '))))))));
}
