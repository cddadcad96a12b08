// Server-side paging for the console's lists (environments, activities, templates): the page and size
// read from a route's query, and the "← Previous · page n of m · N item(s) · Next →" bar. The lists ask
// the API for one page (Offset/Limit) and never read a whole collection.
import { h } from './dom.ts';

export interface Paging {
  page: number;
  size: number;
  offset: number;
}

/** The page (1…) and size of a route's query members `pageKey` and `sizeKey`. */
export function paging(q: URLSearchParams, size: number, pageKey = 'page'): Paging {
  const page = Math.max(1, Math.floor(Number(q.get(pageKey)) || 1));
  return { page, size, offset: (page - 1) * size };
}

/** The pager of a list of `total` items; `to(page)` goes to another page. */
export function pagerBar(id: string, p: Paging, total: number, what: string, to: (page: number) => void): HTMLElement {
  const pages = Math.max(1, Math.ceil(total / p.size));
  return h('div', { class: 'pager', id },
    h('button', { type: 'button', class: 'prev', disabled: p.page <= 1, onclick: () => to(p.page - 1) }, '← Previous'),
    h('span', { class: 'page-info' }, `page ${p.page} of ${pages} · ${total} ${what}`),
    h('button', { type: 'button', class: 'next', disabled: p.page >= pages, onclick: () => to(p.page + 1) }, 'Next →'));
}
