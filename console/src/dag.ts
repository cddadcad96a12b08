// The DAG of a job's tasks as SVG: every task of DescribeJob's TaskSet (those not started yet too),
// edges from its DependenceSet, tasks placed in topological layers (a task's layer is the longest path
// to it from a task without dependences), left to right. Each node is outlined in its state's colour
// and shows its instance counts once known (DescribeTask Limit 0: TaskInstanceMetrics); nodes are
// keyboard buttons (Tab, Enter/Space) that select a task.
import { svg } from './dom.ts';
import { COLOURS, countOf, type Metrics, type State } from './states.ts';

const W = 180, H = 58, GX = 56, GY = 14, PAD = 8;

export interface DagView {
  el: SVGSVGElement;
  setTask(name: string, state: string, m: Metrics | undefined): void;
  select(name: string | undefined): void;
}

/** Layers of the DAG (names in each); a cycle (never accepted by SubmitJob) ends in a last layer. */
export function layers(names: string[], edges: { StartTask: string; EndTask: string }[]): string[][] {
  const parents = new Map(names.map((n) => [n, [] as string[]]));
  const children = new Map(names.map((n) => [n, [] as string[]]));
  for (const e of edges) {
    if (!parents.has(e.EndTask) || !children.has(e.StartTask)) continue;
    parents.get(e.EndTask)!.push(e.StartTask);
    children.get(e.StartTask)!.push(e.EndTask);
  }
  const layerOf = new Map<string, number>();
  const waiting = new Map(names.map((n) => [n, parents.get(n)!.length]));
  let ready = names.filter((n) => waiting.get(n) === 0);
  ready.forEach((n) => layerOf.set(n, 0));
  while (ready.length > 0) {
    const next: string[] = [];
    for (const n of ready) {
      for (const c of children.get(n)!) {
        layerOf.set(c, Math.max(layerOf.get(c) ?? 0, layerOf.get(n)! + 1));
        const w = waiting.get(c)! - 1;
        waiting.set(c, w);
        if (w === 0) next.push(c);
      }
    }
    ready = next;
  }
  const depth = Math.max(0, ...layerOf.values());
  const out: string[][] = Array.from({ length: depth + 1 }, () => []);
  const rest: string[] = [];
  for (const n of names) {
    if (waiting.get(n) === 0 && layerOf.has(n)) out[layerOf.get(n)!]!.push(n);
    else rest.push(n);
  }
  if (rest.length > 0) out.push(rest);
  // fewer crossings: order each layer by the mean position of its parents in the layer before
  for (let i = 1; i < out.length; i++) {
    const pos = new Map(out[i - 1]!.map((n, j) => [n, j]));
    const key = (n: string) => {
      const ps = parents.get(n)!.filter((p) => pos.has(p)).map((p) => pos.get(p)!);
      return ps.length === 0 ? Infinity : ps.reduce((a, b) => a + b, 0) / ps.length;
    };
    out[i]!.sort((a, b) => key(a) - key(b));
  }
  return out;
}

function summary(m: Metrics | undefined): string {
  if (!m) return 'counting…';
  const all = (['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'] as State[])
    .reduce((a, s) => a + countOf(m, s), 0);
  const parts = [`${countOf(m, 'SUCCEED')}/${all} ok`];
  const run = countOf(m, 'RUNNING') + countOf(m, 'STARTING');
  if (run) parts.push(`${run} run`);
  const failed = countOf(m, 'FAILED') + countOf(m, 'FAILED_INTERRUPTED');
  if (failed) parts.push(`${failed} failed`);
  const wait = countOf(m, 'SUBMITTED') + countOf(m, 'PENDING') + countOf(m, 'RUNNABLE');
  if (wait) parts.push(`${wait} wait`);
  return parts.join(' · ');
}

export function dagView(tasks: { TaskName: string; TaskState: string }[], edges: { StartTask: string; EndTask: string }[],
  onSelect: (name: string) => void): DagView {
  const ls = layers(tasks.map((t) => t.TaskName), edges);
  const at = new Map<string, { x: number; y: number }>();
  ls.forEach((layer, i) => layer.forEach((n, j) => at.set(n, { x: PAD + i * (W + GX), y: PAD + j * (H + GY) })));
  const width = PAD * 2 + ls.length * W + (ls.length - 1) * GX;
  const height = PAD * 2 + Math.max(1, ...ls.map((l) => l.length)) * (H + GY) - GY;
  const root = svg('svg', { class: 'dag', id: 'dag', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': 'Tasks and their dependences' });
  root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#7b8794' }))));
  for (const e of edges) {
    const a = at.get(e.StartTask), b = at.get(e.EndTask);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    root.append(svg('path', { class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' }));
  }
  const nodes = new Map<string, { g: SVGGElement; rect: SVGRectElement; state: SVGTextElement; counts: SVGTextElement; name: string }>();
  for (const t of tasks) {
    const p = at.get(t.TaskName)!;
    const rect = svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: 6 });
    const name = svg('text', { x: p.x + 10, y: p.y + 18, class: 'tname' }, t.TaskName.length > 22 ? `${t.TaskName.slice(0, 21)}…` : t.TaskName);
    const state = svg('text', { x: p.x + 10, y: p.y + 34, class: 'tstate' });
    const counts = svg('text', { x: p.x + 10, y: p.y + 50, class: 'tcounts' });
    const g = svg('g', { class: 'node', tabindex: 0, role: 'button', 'data-task': t.TaskName }, svg('title', {}, t.TaskName), rect, name, state, counts);
    const pick = () => onSelect(t.TaskName);
    g.addEventListener('click', pick);
    g.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        pick();
      }
    });
    root.append(g);
    nodes.set(t.TaskName, { g, rect, state, counts, name: t.TaskName });
  }
  const view: DagView = {
    el: root,
    setTask(n, st, m) {
      const node = nodes.get(n);
      if (!node) return;
      node.rect.setAttribute('stroke', COLOURS[st as State] ?? '#7b8794');
      node.g.setAttribute('data-state', st);
      node.state.textContent = st;
      node.counts.textContent = summary(m);
      node.g.setAttribute('aria-label', `Task ${n}, ${st}, ${summary(m)}`);
    },
    select(n) {
      for (const node of nodes.values()) {
        node.g.classList.toggle('selected', node.name === n);
        node.g.setAttribute('aria-pressed', String(node.name === n));
      }
    },
  };
  for (const t of tasks) view.setTask(t.TaskName, t.TaskState, undefined);
  return view;
}
