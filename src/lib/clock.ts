// Injected time source. Domain code never reads the wall clock directly.
export interface Clock {
  now(): number; // epoch milliseconds
}

export const systemClock: Clock = { now: () => Date.now() };

const isoCache = new Map<number, string>();

/** `2018-02-07T09:29:09Z`: ISO 8601 UTC with second precision, as the wire wants it. Memoised: a page
 *  of 1000 instances formats 4000 times that mostly share a few seconds (profiled: it was 5% of a
 *  DescribeTask). */
export function isoSeconds(ms: number): string {
  const sec = Math.floor(ms / 1000);
  let s = isoCache.get(sec);
  if (s === undefined) {
    s = new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
    if (isoCache.size >= 4096) isoCache.clear();
    isoCache.set(sec, s);
  }
  return s;
}
