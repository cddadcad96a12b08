// The instance drawer: the attempts of one instance (DescribeAttempts: number, state, start, end, exit
// code, signal, reason, node) and the whole stdout or stderr of a chosen attempt, read with
// DescribeAttemptLog from offset 0 while More (1 MiB a call; past MAX_SHOWN bytes a button reads on).
// Escape or the close button closes it and gives the focus back.
import { call, errorText, type Answer } from './api.ts';
import { badge, clear, h, time } from './dom.ts';

const CHUNK = 1024 * 1024;
const MAX_SHOWN = 16 * 1024 * 1024;

export interface DrawerSelection {
  attempt?: number;
  stream?: 'STDOUT' | 'STDERR';
}

export interface DrawerTarget {
  jobId: string;
  taskName: string;
  index: number;
}

function b64bytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export class InstanceDrawer {
  private gen = 0;
  private returnFocus: Element | null = null;
  private target: DrawerTarget | undefined;

  constructor(private readonly root: HTMLElement, private readonly onSelect: (s: DrawerSelection) => void, private readonly onClose: () => void) {
    root.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        this.onClose();
      }
    });
  }

  get openFor(): DrawerTarget | undefined {
    return this.target;
  }

  close(): void {
    this.gen++;
    this.target = undefined;
    this.root.hidden = true;
    clear(this.root);
    if (this.returnFocus instanceof HTMLElement || this.returnFocus instanceof SVGElement) this.returnFocus.focus();
    this.returnFocus = null;
  }

  /** Shows an instance; the same instance again only changes the attempt or stream shown. */
  show(t: DrawerTarget, sel: DrawerSelection): void {
    const same = this.target && this.target.jobId === t.jobId && this.target.taskName === t.taskName && this.target.index === t.index;
    if (!same) {
      if (this.root.hidden) this.returnFocus = document.activeElement;
      this.target = t;
      this.root.hidden = false;
    }
    void this.render(t, sel);
  }

  private async render(t: DrawerTarget, sel: DrawerSelection): Promise<void> {
    const my = ++this.gen;
    const closeBtn = h('button', { type: 'button', class: 'close', id: 'drawer-close', 'aria-label': 'Close', onclick: () => this.onClose() }, '×');
    const head = h('header', {}, h('h2', { id: 'drawer-title' }, `${t.taskName} · instance ${t.index}`), closeBtn);
    const body = h('div', { class: 'drawer-body' }, h('p', { class: 'muted' }, 'Loading attempts…'));
    this.root.setAttribute('aria-labelledby', 'drawer-title');
    clear(this.root, head, body);
    closeBtn.focus();
    let a: Answer;
    try {
      a = await call('DescribeAttempts', { JobId: t.jobId, TaskName: t.taskName, TaskInstanceIndex: t.index });
    } catch (e) {
      if (my === this.gen) clear(body, h('p', { class: 'error', role: 'alert' }, errorText(e)));
      return;
    }
    if (my !== this.gen) return;
    const attempts = a.AttemptSet as Answer[];
    if (attempts.length === 0) {
      clear(body, h('p', { class: 'muted', id: 'no-attempts' }, 'This instance has not started yet: it has no attempts.'));
      return;
    }
    const chosen = attempts.find((x) => x.Attempt === sel.attempt) ?? attempts[attempts.length - 1]!;
    const stream = sel.stream ?? 'STDOUT';
    const logBtn = (x: Answer, s: 'STDOUT' | 'STDERR') => {
      const on = x.Attempt === chosen.Attempt && s === stream;
      return h('button', { type: 'button', class: on ? 'on' : '', 'aria-pressed': String(on), id: `log-${x.Attempt as number}-${s.toLowerCase()}`,
        onclick: () => this.onSelect({ attempt: x.Attempt as number, stream: s }) }, s.toLowerCase());
    };
    const table = h('div', { class: 'scroll' }, h('table', { class: 'table', id: 'attempts' },
      h('thead', {}, h('tr', {}, ...['#', 'State', 'Launched', 'Running', 'Ended', 'Exit', 'Reason', 'Node', 'Log'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...attempts.map((x) => h('tr', { class: x.Attempt === chosen.Attempt ? 'chosen' : '', 'data-attempt': x.Attempt as number },
        h('td', {}, String(x.Attempt)), h('td', {}, badge(x.State as string)),
        h('td', {}, time(x.LaunchTime as string)), h('td', {}, time(x.RunningTime as string | null)), h('td', {}, time(x.EndTime as string | null)),
        h('td', {}, x.ExitCode === null ? (x.Signal ? String(x.Signal) : '–') : String(x.ExitCode) + (x.Signal ? ` (${String(x.Signal)})` : '')),
        h('td', {}, (x.StateReason as string | null) ?? ''), h('td', { class: 'mono' }, (x.ComputeNodeId as string | null) ?? '–'),
        h('td', { class: 'nowrap' }, logBtn(x, 'STDOUT'), ' ', logBtn(x, 'STDERR')))))));
    const logTitle = h('h3', {}, `Attempt ${chosen.Attempt as number} · ${stream.toLowerCase()}`);
    const pre = h('pre', { class: 'log', id: 'log', tabindex: 0, 'aria-label': 'Log' });
    const logInfo = h('p', { class: 'muted', id: 'log-info', 'aria-live': 'polite' }, 'Reading…');
    const logBar = h('div', { class: 'bar' }, logInfo);
    clear(body, table, logTitle, logBar, pre);
    await this.readLog(my, t, chosen.Attempt as number, stream, pre, logInfo, logBar, 0);
  }

  private async readLog(my: number, t: DrawerTarget, attempt: number, stream: string, pre: HTMLElement, info: HTMLElement, bar: HTMLElement, from: number): Promise<void> {
    const dec = new TextDecoder('utf-8');
    let offset = from, shown = 0;
    try {
      for (;;) {
        const r = await call('DescribeAttemptLog', { JobId: t.jobId, TaskName: t.taskName, TaskInstanceIndex: t.index, Attempt: attempt, Stream: stream, Offset: offset, Length: CHUNK });
        if (my !== this.gen) return;
        const bytes = b64bytes(r.Content as string);
        shown += bytes.length;
        pre.append(dec.decode(bytes, { stream: r.More as boolean }));
        offset = r.NextOffset as number;
        if (r.More && shown < MAX_SHOWN) continue;
        const again = (label: string, id: string) => h('button', { type: 'button', id, onclick: (ev: Event) => {
          (ev.currentTarget as HTMLButtonElement).remove();
          void this.readLog(my, t, attempt, stream, pre, info, bar, offset);
        } }, label);
        if (r.More) {
          info.textContent = `${offset.toLocaleString()} bytes shown; more follow.`;
          bar.append(again('Read on', 'log-more'));
        } else if (!r.Complete) {
          info.textContent = `${offset.toLocaleString()} bytes so far; the attempt is still running.`;
          bar.append(again('Read what came since', 'log-since'));
        } else {
          info.textContent = offset === 0 ? 'The log is empty.' : `${offset.toLocaleString()} bytes, the whole log.`;
        }
        return;
      }
    } catch (e) {
      if (my === this.gen) info.textContent = errorText(e);
    }
  }
}
