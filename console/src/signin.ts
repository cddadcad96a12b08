// The sign-in page: SecretId, SecretKey and Region, checked with one signed call (DescribeJobs Limit 1)
// before they are kept in sessionStorage; a wrong key shows the API's error (AuthFailure.*) as it comes.
import { callWith, errorText, saveCredentials } from './api.ts';
import { h } from './dom.ts';

export function signInPage(onDone: () => void): HTMLElement {
  const id = h('input', { id: 'secret-id', name: 'secretId', autocomplete: 'username', required: true, spellcheck: 'false' });
  const key = h('input', { id: 'secret-key', name: 'secretKey', type: 'password', autocomplete: 'current-password', required: true });
  const region = h('input', { id: 'region', name: 'region', value: 'ap-guangzhou', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'The key is kept in this tab only (sessionStorage); every request is signed in the browser (TC3-HMAC-SHA256).'),
    h('label', { for: 'secret-id' }, 'SecretId'), id,
    h('label', { for: 'secret-key' }, 'SecretKey'), key,
    h('label', { for: 'region' }, 'Region'), region,
    submit, error);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const c = { secretId: id.value.trim(), secretKey: key.value, region: region.value.trim() };
    error.textContent = '';
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    callWith(c, 'DescribeJobs', { Limit: 1 }).then(
      () => {
        saveCredentials(c);
        onDone();
      },
      (e: unknown) => {
        error.textContent = errorText(e);
        submit.disabled = false;
        submit.textContent = 'Sign in';
      },
    );
  });
  queueMicrotask(() => id.focus());
  return form;
}
