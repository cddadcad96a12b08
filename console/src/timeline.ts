// The job page's timeline: a bar per task from its CreateTime to its EndTime (or now while it has not
// ended), coloured by its state, from the DescribeJob answer the page already has; and, for the task
// selected on the page (?task=, ?state=), a canvas with one bar per instance of one DescribeTask page
// (1,000 instances, in index order, the page's state filter applied) from its LaunchTime to its EndTime
// (or now), with the node it ran on in the canvas' title and the line below it: the instance's
// ComputeNodeInstanceId, or for one whose node was released its last attempt's (DescribeAttempts).
// Instances not launched yet have no bar. Arrow keys move between instances, Enter opens one.
import { call, errorText, type Answer } from './api.ts';
import { badge, clear, h, time } from './dom.ts';
import { currentRoute, go, href, withQuery } from './router.ts';
import { COLOURS, type State } from './states.ts';

const PAGE = 1000;
const MAX_H = 260;

interface Bar {
  index: number;
  state: string;
  node: string;
  launch: number;
  end: number; // NaN: not ended
  exit: number | null;
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);
const colour = (s: string) => COLOURS[s as State] ?? '#7b8794';
const span = (t: number) => (t < 1000 ? `${t} ms` : t < 120_000 ? `${(t / 1000).toFixed(1)} s` : t < 7_200_000 ? `${(t / 60_000).toFixed(1)} min` : `${(t / 3_600_000).toFixed(1)} h`);

/** Sets styles through the CSSOM (the page's Content-Security-Policy refuses style attributes). */
function styled<T extends HTMLElement>(el: T, css: Partial<Record<'left' | 'width' | 'background', string>>): T {
  Object.assign(el.style, css);
  return el;
}

/** Time labels under a track from `t0` to `t1`. */
function axis(t0: number, t1: number): HTMLElement {
  return h('div', { class: 'tl-axis muted' }, ...[0, 0.25, 0.5, 0.75, 1].map((f) =>
    styled(h('span', {}, f === 0 ? new Date(t0).toLocaleTimeString() : `+${span(Math.round((t1 - t0) * f))}`), { left: `${f * 100}%` })));
}

export function timelineView(jobId: string, job: Answer): HTMLElement {
  const tasks = job.TaskSet as Answer[];
  const el = h('section', { class: 'timeline', id: 'timeline', 'aria-label': 'Timeline' });
  const taskBox = h('div', { class: 'tl-tasks', id: 'tl-tasks' });
  const canvas = h('canvas', { class: 'tl-canvas', id: 'tl-canvas', tabindex: 0, 'aria-label': 'Instances of the selected task over time' });
  const scroller = h('div', { class: 'tl-scroll' }, canvas);
  const instAxis = h('div');
  const info = h('p', { class: 'mono tl-info', id: 'tl-info', 'aria-live': 'polite' });
  const head = h('h3', { id: 'tl-instances-title' });
  const pager = h('div', { class: 'pager' });
  const instBox = h('div', { class: 'tl-instances', id: 'tl-instances', hidden: true }, head, scroller, instAxis, info, pager);
  let shown = '';
  let offset = 0;
  let bars: Bar[] = [];
  let range: [number, number] = [0, 1];
  let cursor = -1;
  let gen = 0;

  function drawTasks(): void {
    const now = Date.now();
    const t0 = Math.min(...tasks.map((t) => ms(t.CreateTime as string)).filter((x) => !Number.isNaN(x)));
    const t1 = Math.max(t0 + 1000, ...tasks.map((t) => (Number.isNaN(ms(t.EndTime as string)) ? now : ms(t.EndTime as string))));
    const sel = currentRoute().query.get('task');
    clear(taskBox, ...tasks.map((t) => {
      const s = ms(t.CreateTime as string), e = ms(t.EndTime as string);
      const end = Number.isNaN(e) ? now : e;
      const left = Number.isNaN(s) ? 0 : ((s - t0) / (t1 - t0)) * 100;
      const width = Number.isNaN(s) ? 0 : Math.max(0.4, ((end - s) / (t1 - t0)) * 100);
      const name = t.TaskName as string;
      return h('div', { class: sel === name ? 'tl-row on' : 'tl-row', 'data-task': name },
        h('a', { class: 'tl-name', href: href(['jobs', jobId], { task: name }) }, name),
        h('div', { class: 'tl-track' }, styled(h('span', {
          class: 'tl-bar', 'data-state': t.TaskState as string,
          title: `${name}: ${t.TaskState as string} · created ${time(t.CreateTime as string)} · ${Number.isNaN(e) ? 'not ended' : `ended ${time(t.EndTime as string)} (${span(e - s)})`}`,
        }), { left: `${left}%`, width: `${width}%`, background: colour(t.TaskState as string) })));
    }), h('div', { class: 'tl-row' }, h('span', { class: 'tl-name' }), axis(t0, t1)));
  }

  function describe(): void {
    const b = bars[cursor];
    if (!b) {
      info.textContent = bars.length ? 'Point at a bar (or focus the canvas and use the arrows) to see the instance and its node.' : '';
      canvas.title = '';
      return;
    }
    const end = Number.isNaN(b.end) ? 'still running' : `ended ${new Date(b.end).toLocaleTimeString()} (${span(b.end - b.launch)})`;
    let node = b.node;
    if (!node) {
      // a finished instance's view no longer names its node once the node is released: its last
      // attempt does (DescribeAttempts ComputeNodeId), read for the instance pointed at only
      const known = attemptNodes.get(b.index);
      node = known ?? '…';
      if (known === undefined) askNode(b.index);
    }
    const text = `instance ${b.index}: ${b.state} on node ${node || '–'} · launched ${new Date(b.launch).toLocaleTimeString()} · ${end}${b.exit === null ? '' : ` · exit code ${b.exit}`}`;
    info.textContent = text;
    canvas.title = text;
  }

  const attemptNodes = new Map<number, string>();
  let asking = -1;
  function askNode(index: number): void {
    if (asking === index) return;
    asking = index;
    const task = currentRoute().query.get('task') ?? '';
    call('DescribeAttempts', { JobId: jobId, TaskName: task, TaskInstanceIndex: index }).then((a) => {
      const set = a.AttemptSet as Answer[];
      attemptNodes.set(index, (set[set.length - 1]?.ComputeNodeId as string | null | undefined) ?? '');
    }, () => attemptNodes.set(index, '')).finally(() => {
      asking = -1;
      if (bars[cursor]?.index === index) describe();
    });
  }

  function rowH(): number {
    return Math.max(1, Math.min(12, Math.floor(MAX_H / Math.max(1, bars.length))));
  }

  function drawInstances(): void {
    const w = scroller.clientWidth || 600, rh = rowH();
    const hgt = Math.max(rh, bars.length * rh);
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${hgt}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const now = Date.now();
    const [t0, t1] = range;
    const x = (t: number) => ((t - t0) / (t1 - t0)) * w;
    bars.forEach((b, i) => {
      ctx.fillStyle = colour(b.state);
      const x0 = x(b.launch), x1 = x(Number.isNaN(b.end) ? now : b.end);
      ctx.fillRect(x0, i * rh, Math.max(1.5, x1 - x0), Math.max(1, rh - (rh > 3 ? 1 : 0)));
    });
    if (cursor >= 0 && cursor < bars.length) {
      ctx.strokeStyle = '#111';
      ctx.lineWidth = 1;
      ctx.strokeRect(0.5, cursor * rh + 0.5, w - 1, Math.max(2, rh) - 1);
    }
    canvas.dataset.bars = String(bars.length);
    describe();
  }

  async function loadInstances(task: string, state: string): Promise<void> {
    const my = ++gen;
    instBox.hidden = false;
    head.textContent = `Instances of ${task}`;
    info.textContent = 'Loading…';
    clear(pager);
    let a: Answer;
    try {
      a = await call('DescribeTask', { JobId: jobId, TaskName: task, Offset: offset, Limit: PAGE, ...(state ? { Filters: [{ Name: 'task-instance-state', Values: [state] }] } : {}) });
    } catch (e) {
      if (my === gen) info.textContent = errorText(e);
      return;
    }
    if (my !== gen) return;
    const set = a.TaskInstanceSet as Answer[];
    const total = a.TaskInstanceTotalCount as number;
    bars = set.filter((x) => !Number.isNaN(ms(x.LaunchTime as string))).map((x) => ({
      index: x.TaskInstanceIndex as number, state: x.TaskInstanceState as string, node: (x.ComputeNodeInstanceId as string | null) ?? '',
      launch: ms(x.LaunchTime as string), end: ms(x.EndTime as string), exit: (x.ExitCode as number | null) ?? null,
    }));
    const now = Date.now();
    const t0 = Math.min(...bars.map((b) => b.launch));
    range = bars.length ? [t0, Math.max(t0 + 1000, ...bars.map((b) => (Number.isNaN(b.end) ? now : b.end)))] : [0, 1];
    cursor = -1;
    clear(head, `Instances of ${task} `, state ? badge(state) : '',
      h('span', { class: 'muted' }, ` · ${set.length ? `${offset}–${offset + set.length - 1}` : 'none'} of ${total}, ${bars.length} launched (launch → end)`));
    clear(instAxis, bars.length ? axis(range[0], range[1]) : h('p', { class: 'muted' }, 'No instance of this page has been launched yet.'));
    const to = (o: number) => { offset = o; void loadInstances(task, state); };
    if (total > PAGE) {
      clear(pager,
        h('button', { type: 'button', id: 'tl-prev', disabled: offset === 0, onclick: () => to(Math.max(0, offset - PAGE)) }, `← Previous ${PAGE}`),
        h('button', { type: 'button', id: 'tl-next', disabled: offset + PAGE >= total, onclick: () => to(offset + PAGE) }, `Next ${PAGE} →`));
    }
    drawInstances();
  }

  function follow(): void {
    if (!el.isConnected && shown !== '') {
      window.removeEventListener('hashchange', follow);
      ro.disconnect();
      return;
    }
    drawTasks();
    const q = currentRoute().query;
    const task = q.get('task') ?? '', state = q.get('state') ?? '';
    const key = `${task}|${state}`;
    if (key === shown) return;
    shown = key;
    offset = 0;
    attemptNodes.clear();
    if (!task || !tasks.some((t) => t.TaskName === task)) {
      gen++;
      bars = [];
      instBox.hidden = true;
      return;
    }
    void loadInstances(task, state);
  }

  const at = (ev: MouseEvent) => Math.floor((ev.clientY - canvas.getBoundingClientRect().top) / rowH());
  canvas.addEventListener('mousemove', (ev) => {
    const i = at(ev);
    if (i !== cursor && i >= 0 && i < bars.length) {
      cursor = i;
      drawInstances();
    }
  });
  const open = (i: number) => {
    const b = bars[i];
    if (b) go(href(['jobs', jobId], withQuery(currentRoute(), { instance: b.index, attempt: undefined, stream: undefined })));
  };
  canvas.addEventListener('click', (ev) => open(at(ev)));
  canvas.addEventListener('keydown', (ev) => {
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: 20, PageUp: -20 };
    if (ev.key === 'Enter') open(cursor);
    else if (moves[ev.key] !== undefined) cursor = Math.min(bars.length - 1, Math.max(0, cursor + moves[ev.key]!));
    else return;
    ev.preventDefault();
    drawInstances();
  });
  const ro = new ResizeObserver(() => { if (bars.length) drawInstances(); });
  ro.observe(scroller);
  window.addEventListener('hashchange', follow);
  clear(el, h('h2', {}, 'Timeline'), h('p', { class: 'muted' }, 'Each task from its creation to its end (or now); the selected task\'s instances from launch to end.'), taskBox, instBox);
  follow();
  return el;
}
