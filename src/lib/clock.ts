// Injected time source. Domain code never reads the wall clock directly.
export interface Clock {
  now(): number; // epoch milliseconds
}

export const systemClock: Clock = { now: () => Date.now() };

/** `2018-02-07T09:29:09Z`: ISO 8601 UTC with second precision, as the wire wants it. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
