// Hash routes, so that every page is a link: #/jobs?… (the jobs list and its filters) and
// #/jobs/<JobId>?task=…&state=…&instance=… (a job, its selected task, grid filter and open instance).
export interface Route {
  /** The path segments after "#/", e.g. ["jobs", "job-abc"]. */
  parts: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  return {
    parts: path.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p)),
    query: new URLSearchParams(q >= 0 ? raw.slice(q + 1) : ''),
  };
}

/** The hash of a route: href(['jobs', id], {task: 'A'}); empty values are left out. */
export function href(parts: string[], query: Record<string, string | number | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `#/${parts.map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`;
}

/** Go to a route; `replace` keeps the history entry (a filter typed, not a page visited). */
export function go(hash: string, replace = false): void {
  if (location.hash === hash) return;
  if (replace) {
    history.replaceState(null, '', hash);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = hash;
  }
}

/** A route's query with some members changed. */
export function withQuery(r: Route, changes: Record<string, string | number | undefined | null>): Record<string, string> {
  const out: Record<string, string> = {};
  r.query.forEach((v, k) => (out[k] = v));
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '') delete out[k];
    else out[k] = String(v);
  }
  return out;
}
