// The instance drawer: the attempts of one instance (DescribeAttempts: number, state, start, end, exit
// code, signal, reason, node), its state (DescribeTask Offset=index Limit 1) with "Terminate instance"
// (TerminateTaskInstance, confirmed; disabled once the instance has ended), and the whole stdout or
// stderr of a chosen attempt, read with DescribeAttemptLog from offset 0 while More (1 MiB a call;
// past MAX_SHOWN bytes a button reads on). The log of an attempt still running is tailed: read again
// at NextOffset after each answer (at once while More, after TAIL_PAUSE_MS when nothing came) until
// Complete or the drawer closes. refresh() (called by the job page on the instance's events) reads
// the attempts and state again without touching the log being shown.
// Escape or the close button closes it and gives the focus back.
import { call, errorText, type Answer } from './api.ts';
import { actionButton } from './confirm.ts';
import { badge, clear, h, time } from './dom.ts';
import { FINISHED } from './states.ts';

const CHUNK = 1024 * 1024;
const MAX_SHOWN = 16 * 1024 * 1024;
const TAIL_PAUSE_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  private sel: DrawerSelection = {};
  /** What refresh() redraws: the attempts table and the actions of the instance shown. */
  private parts: { table: HTMLElement; actions: HTMLElement; attempts: number; chosen: number } | undefined;
  private tableGen = 0;

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
    this.parts = undefined;
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
    this.sel = sel;
    void this.render(t, sel);
  }

  /** Reads the attempts and the state of the instance shown again (its events came); a new attempt
   *  is shown when none was chosen. */
  refresh(): void {
    const t = this.target, p = this.parts;
    if (!t || !p) return;
    const my = ++this.tableGen, gen = this.gen;
    void this.fetch(t).then(({ attempts, state }) => {
      if (my !== this.tableGen || gen !== this.gen || !this.parts) return;
      if (this.sel.attempt === undefined && attempts.length > 0 && attempts.length !== p.attempts) {
        void this.render(t, this.sel);
        return;
      }
      const chosen = attempts.find((x) => x.Attempt === p.chosen) ?? attempts[attempts.length - 1];
      if (!chosen) return;
      p.table.replaceWith(p.table = this.table(attempts, chosen, this.sel.stream ?? 'STDOUT'));
      p.actions.replaceWith(p.actions = this.actions(t, state));
    }, () => undefined);
  }

  private async fetch(t: DrawerTarget): Promise<{ attempts: Answer[]; state: string | undefined }> {
    const [a, s] = await Promise.all([
      call('DescribeAttempts', { JobId: t.jobId, TaskName: t.taskName, TaskInstanceIndex: t.index }),
      call('DescribeTask', { JobId: t.jobId, TaskName: t.taskName, Offset: t.index, Limit: 1 }),
    ]);
    const x = (s.TaskInstanceSet as Answer[])[0];
    return { attempts: a.AttemptSet as Answer[], state: x && x.TaskInstanceIndex === t.index ? (x.TaskInstanceState as string) : undefined };
  }

  /** "Terminate instance" for an instance that has not ended, and where its outcome shows. */
  private actions(t: DrawerTarget, state: string | undefined): HTMLElement {
    const out = h('span', { class: 'muted', id: 'drawer-action-out', 'aria-live': 'polite' });
    const ended = state === undefined || (FINISHED as readonly string[]).includes(state);
    return h('div', { class: 'bar', id: 'drawer-actions' }, h('span', {}, 'Instance ', state ? badge(state) : '?'),
      actionButton({
        id: 'terminate-instance', label: 'Terminate instance',
        refused: ended ? `the instance is ${state ?? 'not known'}: it has ended` : undefined,
        title: `Terminate instance ${t.index} of ${t.taskName}?`,
        question: `TerminateTaskInstance stops instance ${t.index} of task ${t.taskName} (its running attempt is killed); it ends FAILED.`,
        yes: 'Terminate instance',
        run: () => call('TerminateTaskInstance', { JobId: t.jobId, TaskName: t.taskName, TaskInstanceIndex: t.index }),
      }, out), out);
  }

  private table(attempts: Answer[], chosen: Answer, stream: 'STDOUT' | 'STDERR'): HTMLElement {
    const logBtn = (x: Answer, s: 'STDOUT' | 'STDERR') => {
      const on = x.Attempt === chosen.Attempt && s === stream;
      return h('button', { type: 'button', class: on ? 'on' : '', 'aria-pressed': String(on), id: `log-${x.Attempt as number}-${s.toLowerCase()}`,
        onclick: () => this.onSelect({ attempt: x.Attempt as number, stream: s }) }, s.toLowerCase());
    };
    return h('div', { class: 'scroll' }, h('table', { class: 'table', id: 'attempts' },
      h('thead', {}, h('tr', {}, ...['#', 'State', 'Launched', 'Running', 'Ended', 'Exit', 'Reason', 'Node', 'Log'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...attempts.map((x) => h('tr', { class: x.Attempt === chosen.Attempt ? 'chosen' : '', 'data-attempt': x.Attempt as number, 'data-state': x.State as string },
        h('td', {}, String(x.Attempt)), h('td', {}, badge(x.State as string)),
        h('td', {}, time(x.LaunchTime as string)), h('td', {}, time(x.RunningTime as string | null)), h('td', {}, time(x.EndTime as string | null)),
        h('td', {}, x.ExitCode === null ? (x.Signal ? String(x.Signal) : '–') : String(x.ExitCode) + (x.Signal ? ` (${String(x.Signal)})` : '')),
        h('td', {}, (x.StateReason as string | null) ?? ''), h('td', { class: 'mono' }, (x.ComputeNodeId as string | null) ?? '–'),
        h('td', { class: 'nowrap' }, logBtn(x, 'STDOUT'), ' ', logBtn(x, 'STDERR')))))));
  }

  private async render(t: DrawerTarget, sel: DrawerSelection): Promise<void> {
    const my = ++this.gen;
    const closeBtn = h('button', { type: 'button', class: 'close', id: 'drawer-close', 'aria-label': 'Close', onclick: () => this.onClose() }, '×');
    const head = h('header', {}, h('h2', { id: 'drawer-title' }, `${t.taskName} · instance ${t.index}`), closeBtn);
    const body = h('div', { class: 'drawer-body' }, h('p', { class: 'muted' }, 'Loading attempts…'));
    this.root.setAttribute('aria-labelledby', 'drawer-title');
    clear(this.root, head, body);
    closeBtn.focus();
    let got: { attempts: Answer[]; state: string | undefined };
    try {
      got = await this.fetch(t);
    } catch (e) {
      if (my === this.gen) clear(body, h('p', { class: 'error', role: 'alert' }, errorText(e)));
      return;
    }
    if (my !== this.gen) return;
    const { attempts, state } = got;
    const actions = this.actions(t, state);
    if (attempts.length === 0) {
      this.parts = { table: h('div'), actions, attempts: 0, chosen: 0 };
      clear(body, actions, this.parts.table, h('p', { class: 'muted', id: 'no-attempts' }, 'This instance has not started yet: it has no attempts.'));
      return;
    }
    const chosen = attempts.find((x) => x.Attempt === sel.attempt) ?? attempts[attempts.length - 1]!;
    const stream = sel.stream ?? 'STDOUT';
    const table = this.table(attempts, chosen, stream);
    this.parts = { table, actions, attempts: attempts.length, chosen: chosen.Attempt as number };
    const logTitle = h('h3', {}, `Attempt ${chosen.Attempt as number} · ${stream.toLowerCase()}`);
    const pre = h('pre', { class: 'log', id: 'log', tabindex: 0, 'aria-label': 'Log' });
    const logInfo = h('p', { class: 'muted', id: 'log-info', 'aria-live': 'polite' }, 'Reading…');
    const logBar = h('div', { class: 'bar' }, logInfo);
    clear(body, actions, table, logTitle, logBar, pre);
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
        pre.append(dec.decode(bytes, { stream: (r.More as boolean) || !r.Complete }));
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
          // the attempt still runs: tail it (at once while More, after a pause when nothing came)
          info.textContent = `${offset.toLocaleString()} bytes so far; the attempt is still running: following its log…`;
          info.dataset.tail = 'on';
          if (bytes.length === 0) await sleep(TAIL_PAUSE_MS);
          if (my !== this.gen) return;
          continue;
        } else {
          delete info.dataset.tail;
          info.textContent = offset === 0 ? 'The log is empty.' : `${offset.toLocaleString()} bytes, the whole log.`;
        }
        return;
      }
    } catch (e) {
      if (my === this.gen) info.textContent = errorText(e);
    }
  }
}
