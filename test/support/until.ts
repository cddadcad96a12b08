// Waiting in tests without timing assertions: poll until a value is there, with a generous deadline.
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with f's first defined value, asked every `everyMs`; fails after `ms`. */
export async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 30_000, everyMs = 25): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
