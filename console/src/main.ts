// The console's entry point: shows the sign-in page until a key is kept, then routes the hash to a
// page (jobs list, job page, submit). A page of the same kind is updated in place when only its query changes
// (a task selected, a filter set), so that the DAG and the grid are not fetched again.
import { credentials, forgetCredentials } from './api.ts';
import { clear, h } from './dom.ts';
import { envPage } from './env.ts';
import { envsPage } from './envs.ts';
import { jobPage } from './job.ts';
import { jobsPage } from './jobs.ts';
import { currentRoute, go, type Route } from './router.ts';
import { signInPage } from './signin.ts';
import { templatesPage } from './templates.ts';
import { submitPage } from './submit.ts';

export interface Page {
  el: HTMLElement;
  /** The route changed but the page's key did not. */
  update(r: Route): void;
  dispose?(): void;
}

const app = document.getElementById('app')!;
const who = document.getElementById('who')!;
const nav = document.getElementById('nav')!;
let current: { key: string; page: Page } | undefined;

function drop(): void {
  current?.page.dispose?.();
  current = undefined;
}

function render(): void {
  const c = credentials();
  if (!c) {
    drop();
    clear(who);
    clear(nav);
    clear(app, signInPage(() => {
      if (!location.hash || location.hash === '#/') go('#/jobs', true);
      render();
    }));
    return;
  }
  clear(who, h('span', { class: 'muted' }, `${c.secretId.slice(0, 12)}… · ${c.region}`), ' ',
    h('button', { type: 'button', id: 'sign-out', onclick: () => { forgetCredentials(); render(); } }, 'Sign out'));
  clear(nav, h('a', { href: '#/jobs' }, 'Jobs'), h('a', { href: '#/submit', id: 'nav-submit' }, 'Submit'), h('a', { href: '#/envs' }, 'Environments'), h('a', { href: '#/templates' }, 'Templates'));
  const r = currentRoute();
  if (r.parts[0] === 'submit') {
    if (current?.key === 'submit') return;
    drop();
    current = { key: 'submit', page: submitPage() };
    clear(app, current.page.el);
    return;
  }
  if (!['jobs', 'envs', 'templates'].includes(r.parts[0] ?? '')) {
    go('#/jobs', true);
    return;
  }
  const key = r.parts[0] !== 'jobs' ? `${r.parts[0]!}:${r.parts[1] ?? ''}` : r.parts[1] === undefined ? 'jobs' : `job:${r.parts[1]}`;
  if (current?.key === key) {
    current.page.update(r);
    return;
  }
  drop();
  const page = r.parts[0] === 'envs' ? (r.parts[1] === undefined ? envsPage(r) : envPage(r.parts[1], r))
    : r.parts[0] === 'templates' ? templatesPage(r)
    : r.parts[1] === undefined ? jobsPage(r) : jobPage(r.parts[1], r);
  current = { key, page };
  clear(app, page.el);
}

window.addEventListener('hashchange', render);
render();
