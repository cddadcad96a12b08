// Confirmation of actions that change something (retry, terminate, delete): a modal <dialog> with the
// question and two buttons, Cancel focused first (Escape cancels, Tab moves, Enter/Space press), and
// actionButton(): a button, disabled with a reason where the API would refuse the action, that asks
// first, then makes the call and shows the API's error as it comes (Code, Message, RequestId).
import { errorText } from './api.ts';
import { h } from './dom.ts';

/** Asks `question`; resolves true when `yes` is pressed, false on Cancel or Escape. */
export function confirmDialog(title: string, question: string, yes: string): Promise<boolean> {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const cancel = h('button', { type: 'button', id: 'confirm-no' }, 'Cancel');
    const ok = h('button', { type: 'button', class: 'primary danger', id: 'confirm-yes' }, yes);
    const dlg = h('dialog', { class: 'confirm', id: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
      h('h2', { id: 'confirm-title' }, title), h('p', { id: 'confirm-text' }, question), h('div', { class: 'bar' }, cancel, ok));
    let answer = false;
    cancel.addEventListener('click', () => dlg.close());
    ok.addEventListener('click', () => {
      answer = true;
      dlg.close();
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (back instanceof HTMLElement && back.isConnected) back.focus();
      resolve(answer);
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

export interface ActionSpec {
  id: string;
  label: string;
  /** Why the API would refuse it now (the button is then disabled and says why); undefined: allowed. */
  refused: string | undefined;
  title: string;
  question: string;
  yes: string;
  run(): Promise<unknown>;
  /** After the call succeeded. */
  done?(): void;
}

/** A button for an action and where its outcome shows (`out`: an element for errors and results). */
export function actionButton(a: ActionSpec, out: HTMLElement): HTMLButtonElement {
  const b = h('button', { type: 'button', id: a.id, class: 'action', disabled: a.refused !== undefined, title: a.refused ?? a.title }, a.label);
  b.addEventListener('click', async () => {
    if (!(await confirmDialog(a.title, a.question, a.yes))) return;
    b.disabled = true;
    out.className = 'muted';
    out.textContent = `${a.label}…`;
    try {
      await a.run();
      out.textContent = `${a.label}: done.`;
      a.done?.();
    } catch (e) {
      out.className = 'error';
      out.setAttribute('role', 'alert');
      out.textContent = errorText(e);
      b.disabled = false;
    }
  });
  return b;
}
