// Server-sent events as a client reads them: complete blocks split off a growing buffer (the `id`,
// `event` and `data` fields; comments and blank lines skipped). Pure, for the CLI and the console alike.

/** Split `buf` into complete SSE blocks; returns them and the rest. */
export function sseBlocks(buf: string): { blocks: { id?: string; event?: string; data: string }[]; rest: string } {
  const blocks: { id?: string; event?: string; data: string }[] = [];
  const parts = buf.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = parts.pop() ?? '';
  for (const part of parts) {
    const b: { id?: string; event?: string; data: string } = { data: '' };
    const data: string[] = [];
    for (const line of part.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const k = i < 0 ? line : line.slice(0, i);
      const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (k === 'data') data.push(v);
      else if (k === 'id') b.id = v;
      else if (k === 'event') b.event = v;
    }
    if (data.length > 0 || b.event !== undefined) {
      b.data = data.join('\n');
      blocks.push(b);
    }
  }
  return { blocks, rest };
}

/** Hands on the blocks of OpenBatch's event stream: `reset` (its id the Seq to go on from) and events
 *  (JSON with a Seq; a block that is not JSON is skipped). Returns the Seq to resume after: the last
 *  one seen, or `after` when the blocks had none. */
export function dispatchEvents<E>(
  blocks: readonly { id?: string; event?: string; data: string }[], after: number | undefined,
  on: { reset(): void; event(e: E): void },
): number | undefined {
  for (const b of blocks) {
    if (b.event === 'reset') {
      if (b.id !== undefined && /^\d+$/.test(b.id)) after = Number(b.id);
      on.reset();
      continue;
    }
    let e: E & { Seq?: unknown };
    try {
      e = JSON.parse(b.data) as E & { Seq?: unknown };
    } catch {
      continue;
    }
    if (typeof e.Seq === 'number') after = e.Seq;
    on.event(e);
  }
  return after;
}
