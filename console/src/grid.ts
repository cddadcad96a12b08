// The instance grid of one task: a <canvas> with one cell per instance (or, zoomed out, per block of
// 10 … 100,000 consecutive instances), coloured by state; a block takes the colour of the worst state
// among its loaded instances, grey where nothing is loaded. Instances come from DescribeTask pages
// (Limit 1000, Offset), fetched one at a time and only for the pages in view, at most PAGES_PER_VIEW
// per scroll or zoom ("Load more" asks for the next ones): a million-instance task is never read
// whole. With a state filter the grid shows the matching instances only, in index order.
// The exit-code filter is done in the browser over the loaded pages only (DescribeTask has no such
// filter): loaded instances with another exit code (or none) are drawn as "no match".
// Keyboard: arrows/PageUp/PageDown move the cursor, Enter opens the instance (or zooms into a block),
// + and - zoom.
import { call, errorText, type Answer } from './api.ts';
import { h } from './dom.ts';
import { codeState, COLOURS, stateCode, STATES, UNKNOWN_COLOUR, WORST_FIRST, WORST_RANK } from './states.ts';

export const PAGE = 1000;
const PAGES_PER_VIEW = 20;
const BLOCKS = [1, 10, 100, 1000, 10000, 100000];
const CELL = 12;
const MAX_VIEW_PX = 360;

interface Loaded {
  codes: Uint8Array;
  index: Int32Array;
  exit: Int32Array; // -2^31: none
  n: number;
  /** The worst rank on the page and the count of each state code. */
  worst: number;
  counts: Uint32Array;
}
const NO_EXIT = -2147483648;
/** The rank of a loaded instance that the exit-code filter leaves out (drawn NO_MATCH_COLOUR). */
const NO_MATCH = 254;
const NO_MATCH_COLOUR = '#f7f8fa';

export interface GridOptions {
  jobId: string;
  taskName: string;
  /** Only instances in these states (DescribeTask Filters task-instance-state); undefined: all. */
  states: string[] | undefined;
  onOpen(index: number): void;
}

export interface GridView {
  el: HTMLElement;
  /** An instance changed state (its event came): its cell is updated where its page is loaded. */
  instance(index: number, state: string, exit?: number | null): void;
  /** Instances [from, to) changed state together. */
  range(from: number, to: number, state: string): void;
  /** Reads the loaded pages in view again (e.g. the state filter's matches changed). */
  reload(): void;
  dispose(): void;
}

export function gridView(o: GridOptions): GridView {
  const pages = new Map<number, Loaded>();
  let total = -1;
  let blockI = 0;
  let cursor = 0;
  let disposed = false;
  let loading = false;
  let loadsThisView = 0;
  let error = '';
  let exitFilter: number | undefined;

  const canvas = h('canvas', { class: 'grid-canvas', id: 'grid-canvas', tabindex: 0, role: 'grid', 'aria-label': `Instances of task ${o.taskName}` });
  const spacer = h('div', { class: 'grid-spacer' });
  const scroller = h('div', { class: 'grid-scroll' }, canvas, spacer);
  const info = h('p', { class: 'grid-info mono', id: 'grid-info', 'aria-live': 'polite' }, 'Loading…');
  const status = h('span', { class: 'muted', id: 'grid-status' });
  const more = h('button', { type: 'button', id: 'grid-more', hidden: true, onclick: () => { loadsThisView = 0; pump(); } }, `Load ${PAGES_PER_VIEW} more pages`);
  const zoomOut = h('button', { type: 'button', id: 'zoom-out', 'aria-label': 'Zoom out (bigger blocks)', onclick: () => zoom(1) }, '−');
  const zoomIn = h('button', { type: 'button', id: 'zoom-in', 'aria-label': 'Zoom in (smaller blocks)', onclick: () => zoom(-1) }, '+');
  const blockLabel = h('span', { id: 'grid-block' });
  const goto = h('input', { id: 'goto-index', type: 'number', min: 0, placeholder: 'index', 'aria-label': 'Instance index to open' });
  const gotoForm = h('form', { class: 'inline' }, goto, h('button', { type: 'submit' }, 'Open instance'));
  gotoForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const i = Number(goto.value);
    if (goto.value !== '' && Number.isInteger(i) && i >= 0) o.onOpen(i);
  });
  const exitIn = h('input', { id: 'grid-exit', type: 'number', placeholder: 'exit code', 'aria-label': 'Show only instances with this exit code (loaded pages only)', class: 'exit-in' });
  const exitForm = h('form', { class: 'inline', title: 'DescribeTask has no exit-code filter: the loaded pages are filtered in the browser' },
    exitIn, h('button', { type: 'submit', id: 'grid-exit-apply' }, 'Filter by exit code'));
  const exitNote = h('span', { class: 'muted', id: 'grid-exit-note' });
  exitForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = exitIn.value.trim();
    exitFilter = v !== '' && Number.isInteger(Number(v)) ? Number(v) : undefined;
    draw();
  });
  const refresh = h('button', { type: 'button', id: 'grid-refresh', onclick: () => { pages.clear(); loadsThisView = 0; pump(); } }, 'Reload');
  const legend = h('div', { class: 'legend' }, ...WORST_FIRST.map((s) => h('span', {}, h('i', { class: `sw st-${s}` }), s)),
    h('span', {}, h('i', { class: 'sw unknown' }), 'not loaded'), h('span', {}, h('i', { class: 'sw nomatch' }), 'other exit code'));
  const el = h('div', { class: 'grid' },
    h('div', { class: 'bar' }, zoomOut, blockLabel, zoomIn, refresh, status, more, gotoForm),
    h('div', { class: 'bar' }, exitForm, exitNote), scroller, info, legend);

  const block = () => BLOCKS[blockI]!;
  const cols = () => Math.max(1, Math.floor(scroller.clientWidth / CELL));
  const cellCount = () => Math.ceil(Math.max(0, total) / block());
  const rows = () => Math.ceil(cellCount() / cols());

  /** The smallest block that shows the whole task within MAX_VIEW_PX. */
  function fitBlock(): void {
    blockI = BLOCKS.findIndex((b) => Math.ceil(Math.ceil(total / b) / cols()) * CELL <= MAX_VIEW_PX);
    if (blockI < 0) blockI = BLOCKS.length - 1;
  }

  function layout(): void {
    const viewH = Math.min(MAX_VIEW_PX, Math.max(CELL, rows() * CELL));
    scroller.style.height = `${viewH}px`;
    spacer.style.height = `${Math.max(0, rows() * CELL - viewH)}px`;
    const dpr = window.devicePixelRatio || 1;
    const w = scroller.clientWidth;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(viewH * dpr);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${viewH}px`;
    blockLabel.textContent = block() === 1 ? '1 instance per cell' : `${block().toLocaleString()} instances per cell`;
    canvas.dataset.block = String(block());
    zoomIn.disabled = blockI === 0;
    zoomOut.disabled = blockI === BLOCKS.length - 1;
  }

  /** Worst rank and counts over positions [from, to) among what is loaded. */
  function cellState(from: number, to: number): { rank: number; counts?: Uint32Array } {
    let rank = 255;
    const p0 = Math.floor(from / PAGE), p1 = Math.floor((to - 1) / PAGE);
    if (exitFilter !== undefined) {
      for (let p = p0; p <= p1; p++) {
        const pg = pages.get(p);
        if (!pg) continue;
        for (let i = Math.max(0, from - p * PAGE); i < Math.min(pg.n, to - p * PAGE); i++) {
          const r = pg.exit[i] === exitFilter ? WORST_RANK[pg.codes[i]!]! : NO_MATCH;
          if (r < rank) rank = r;
        }
      }
      return { rank };
    }
    if (to - from >= PAGE) {
      for (let p = p0; p <= p1; p++) {
        const pg = pages.get(p);
        if (pg && pg.worst < rank) rank = pg.worst;
      }
      return { rank };
    }
    const pg = pages.get(p0);
    if (!pg) return { rank };
    for (let i = from - p0 * PAGE; i < to - p0 * PAGE && i < pg.n; i++) {
      const r = WORST_RANK[pg.codes[i]!]!;
      if (r < rank) rank = r;
    }
    return { rank };
  }

  function visibleCells(): [number, number] {
    const c = cols();
    const first = Math.floor(scroller.scrollTop / CELL) * c;
    const last = Math.min(cellCount(), first + (Math.ceil(scroller.clientHeight / CELL) + 1) * c);
    return [first, last];
  }

  function draw(): void {
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const c = cols(), b = block();
    const [first, last] = visibleCells();
    const top = Math.floor(scroller.scrollTop / CELL);
    const gap = 1;
    for (let cell = first; cell < last; cell++) {
      const { rank } = cellState(cell * b, Math.min(total, (cell + 1) * b));
      ctx.fillStyle = rank === 255 ? UNKNOWN_COLOUR : rank === NO_MATCH ? NO_MATCH_COLOUR : COLOURS[WORST_FIRST[rank]!];
      const x = (cell % c) * CELL, y = (Math.floor(cell / c) - top) * CELL;
      ctx.fillRect(x, y, CELL - gap, CELL - gap);
    }
    if (cursor >= first && cursor < last && document.activeElement === canvas) {
      ctx.strokeStyle = '#111';
      ctx.lineWidth = 2;
      ctx.strokeRect((cursor % c) * CELL + 1, (Math.floor(cursor / c) - top) * CELL + 1, CELL - 3, CELL - 3);
    }
    const [pf, pl] = pagesOf(first, last);
    let loaded = 0;
    for (let p = pf; p <= pl; p++) if (pages.has(p)) loaded++;
    const inView = last > first ? pl - pf + 1 : 0;
    status.textContent = error || `${loaded} of ${inView} page(s) in view loaded · ${Math.max(0, total).toLocaleString()} instance(s)`;
    canvas.dataset.total = String(total);
    canvas.dataset.loadedPages = String(pages.size);
    if (total >= 0 && !canvas.dataset.firstDrawAt) canvas.dataset.firstDrawAt = performance.now().toFixed(1); // for bench/benchmarks/console.ts
    more.hidden = error !== '' || loading || loaded === inView || loadsThisView < PAGES_PER_VIEW;
    if (exitFilter === undefined) exitNote.textContent = 'DescribeTask has no exit-code filter: it filters the loaded pages, in the browser.';
    else {
      let n = 0, of = 0;
      for (const pg of pages.values()) {
        of += pg.n;
        for (let i = 0; i < pg.n; i++) if (pg.exit[i] === exitFilter) n++;
      }
      exitNote.textContent = `exit code ${exitFilter}: ${n.toLocaleString()} of the ${of.toLocaleString()} loaded instance(s) (filtered in the browser; pages not loaded are not searched)`;
    }
    describeCursor();
  }

  function pagesOf(firstCell: number, lastCell: number): [number, number] {
    const b = block();
    return [Math.floor((firstCell * b) / PAGE), Math.floor((Math.min(total, lastCell * b) - 1) / PAGE)];
  }

  /** The instance at a position (with a state filter the index comes from its loaded page). */
  function at(pos: number): { index?: number; state?: string; exit?: number } {
    const pg = pages.get(Math.floor(pos / PAGE));
    const i = pos % PAGE;
    if (!pg || i >= pg.n) return o.states ? {} : { index: pos };
    const e = pg.exit[i]!;
    return { index: pg.index[i]!, state: codeState(pg.codes[i]!), ...(e === NO_EXIT ? {} : { exit: e }) };
  }

  function describeCursor(): void {
    if (total <= 0) {
      info.textContent = total === 0 ? (o.states ? `No instance is ${o.states.join(' or ')}.` : 'This task has no instances.') : info.textContent;
      return;
    }
    const b = block();
    const from = cursor * b, to = Math.min(total, from + b);
    if (b === 1) {
      const x = at(from);
      info.textContent = x.index === undefined ? `position ${from}: not loaded` :
        `instance ${x.index}: ${x.state ?? 'not loaded'}${x.exit !== undefined ? `, exit code ${x.exit}` : ''} · Enter opens it`;
      return;
    }
    const counts = new Map<string, number>();
    for (let p = Math.floor(from / PAGE); p <= Math.floor((to - 1) / PAGE); p++) {
      const pg = pages.get(p);
      if (!pg) continue;
      const lo = Math.max(from - p * PAGE, 0), hi = Math.min(to - p * PAGE, pg.n);
      for (let i = lo; i < hi; i++) {
        const s = codeState(pg.codes[i]!) ?? '?';
        counts.set(s, (counts.get(s) ?? 0) + 1);
      }
    }
    const what = o.states ? `matches ${from}–${to - 1}` : `instances ${from}–${to - 1}`;
    const seen = [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
    info.textContent = `${what}: ${seen || 'not loaded'} · Enter zooms in`;
  }

  async function loadPage(p: number): Promise<void> {
    const a: Answer = await call('DescribeTask', {
      JobId: o.jobId, TaskName: o.taskName, Offset: p * PAGE, Limit: PAGE,
      ...(o.states ? { Filters: [{ Name: 'task-instance-state', Values: o.states }] } : {}),
    });
    const set = a.TaskInstanceSet as Answer[];
    const pg: Loaded = { codes: new Uint8Array(PAGE), index: new Int32Array(PAGE), exit: new Int32Array(PAGE).fill(NO_EXIT), n: set.length, worst: 255, counts: new Uint32Array(STATES.length + 1) };
    set.forEach((x, i) => {
      const code = stateCode(x.TaskInstanceState as string);
      pg.codes[i] = code;
      pg.index[i] = x.TaskInstanceIndex as number;
      if (typeof x.ExitCode === 'number') pg.exit[i] = x.ExitCode;
      pg.counts[code]!++;
      pg.worst = Math.min(pg.worst, WORST_RANK[code]!);
    });
    const first = total < 0;
    total = a.TaskInstanceTotalCount as number;
    pages.set(p, pg);
    if (first) {
      fitBlock();
      layout();
    }
  }

  /** Loads the first page in view that is missing, then the next, while the view's budget lasts. */
  function pump(): void {
    if (loading || disposed) return;
    let want: number | undefined;
    if (total < 0) want = 0;
    else {
      const [first, last] = visibleCells();
      if (last > first) {
        const [pf, pl] = pagesOf(first, last);
        for (let p = pf; p <= pl; p++) if (!pages.has(p)) { want = p; break; }
      }
    }
    if (want === undefined || (total >= 0 && loadsThisView >= PAGES_PER_VIEW)) {
      draw();
      canvas.dataset.settledAt = performance.now().toFixed(1); // the view is drawn with all it may load
      return;
    }
    loading = true;
    loadsThisView++;
    loadPage(want).then(() => {
      error = '';
    }, (e: unknown) => {
      error = errorText(e);
      info.textContent = error;
    }).finally(() => {
      loading = false;
      if (disposed) return;
      draw();
      if (!error) pump();
    });
  }

  function viewChanged(): void {
    loadsThisView = 0;
    draw();
    pump();
  }

  function zoom(dir: number, around = cursor): void {
    const nb = Math.min(BLOCKS.length - 1, Math.max(0, blockI + dir));
    if (nb === blockI) return;
    const first = around * block();
    blockI = nb;
    cursor = Math.min(Math.floor(first / block()), Math.max(0, cellCount() - 1));
    layout();
    scroller.scrollTop = Math.max(0, Math.floor(cursor / cols()) * CELL - CELL * 2);
    viewChanged();
  }

  function activate(cell: number): void {
    cursor = cell;
    if (block() > 1) return zoom(-1, cell);
    const x = at(cell);
    if (x.index !== undefined) o.onOpen(x.index);
    draw();
  }

  function moveCursor(to: number): void {
    cursor = Math.min(Math.max(0, to), Math.max(0, cellCount() - 1));
    const row = Math.floor(cursor / cols());
    if (row * CELL < scroller.scrollTop) scroller.scrollTop = row * CELL;
    else if ((row + 1) * CELL > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = (row + 1) * CELL - scroller.clientHeight;
    draw();
  }

  canvas.addEventListener('click', (ev) => {
    const r = canvas.getBoundingClientRect();
    const col = Math.floor((ev.clientX - r.left) / CELL), row = Math.floor((ev.clientY - r.top + scroller.scrollTop) / CELL);
    if (col >= cols()) return;
    const cell = row * cols() + col;
    if (cell < cellCount()) activate(cell);
  });
  canvas.addEventListener('mousemove', (ev) => {
    const r = canvas.getBoundingClientRect();
    const cell = Math.floor((ev.clientY - r.top + scroller.scrollTop) / CELL) * cols() + Math.floor((ev.clientX - r.left) / CELL);
    if (cell < cellCount() && cell !== cursor) {
      cursor = cell;
      describeCursor();
    }
  });
  canvas.addEventListener('keydown', (ev) => {
    const c = cols(), page = Math.max(1, Math.floor(scroller.clientHeight / CELL)) * c;
    const keys: Record<string, () => void> = {
      ArrowRight: () => moveCursor(cursor + 1), ArrowLeft: () => moveCursor(cursor - 1),
      ArrowDown: () => moveCursor(cursor + c), ArrowUp: () => moveCursor(cursor - c),
      PageDown: () => moveCursor(cursor + page), PageUp: () => moveCursor(cursor - page),
      Home: () => moveCursor(0), End: () => moveCursor(cellCount() - 1),
      Enter: () => activate(cursor), '+': () => zoom(-1), '=': () => zoom(-1), '-': () => zoom(1),
    };
    const f = keys[ev.key];
    if (f) {
      ev.preventDefault();
      f();
    }
  });
  canvas.addEventListener('focus', draw);
  canvas.addEventListener('blur', draw);
  let scrollTimer = 0;
  scroller.addEventListener('scroll', () => {
    draw();
    clearTimeout(scrollTimer);
    scrollTimer = window.setTimeout(viewChanged, 120);
  });
  const ro = new ResizeObserver(() => {
    if (total < 0) return;
    layout();
    draw();
  });
  ro.observe(scroller);
  queueMicrotask(pump);
  let drawQueued = false;
  const redraw = () => {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      if (!disposed) draw();
    });
  };
  /** Sets the state of position i of page p (no state filter: position = index). */
  function setAt(pg: Loaded, i: number, state: string, exit?: number | null): void {
    if (i >= pg.n) return;
    const code = stateCode(state);
    pg.counts[pg.codes[i]!]!--;
    pg.codes[i] = code;
    pg.counts[code]!++;
    if (exit !== undefined) pg.exit[i] = exit === null ? NO_EXIT : exit;
    let worst = 255;
    for (let c = 1; c < pg.counts.length; c++) if (pg.counts[c]! > 0) worst = Math.min(worst, WORST_RANK[c]!);
    pg.worst = worst;
  }
  return {
    el,
    instance(index, state, exit) {
      if (o.states) return;
      const pg = pages.get(Math.floor(index / PAGE));
      if (!pg) return;
      setAt(pg, index % PAGE, state, exit);
      redraw();
    },
    range(from, to, state) {
      if (o.states) return;
      for (let p = Math.floor(from / PAGE); p <= Math.floor((to - 1) / PAGE); p++) {
        const pg = pages.get(p);
        if (!pg) continue;
        for (let i = Math.max(0, from - p * PAGE); i < Math.min(PAGE, to - p * PAGE); i++) setAt(pg, i, state);
      }
      redraw();
    },
    reload() {
      if (disposed) return;
      pages.clear();
      loadsThisView = 0;
      pump();
    },
    dispose() {
      disposed = true;
      ro.disconnect();
    },
  };
}
