// Errors of the store that callers act on. FencedError: a write carried the epoch of a lease that is
// no longer current (another scheduler took over, or the lease was released), so nothing was written.
// Never sent on the wire as such: only the scheduler's own writes are fenced.

export class FencedError extends Error {
  readonly code = 'Fenced';

  constructor(
    /** What was refused (e.g. "applyBatch"). */
    readonly operation: string,
    /** The epoch the write carried. */
    readonly staleEpoch: number,
    /** The epoch of the current lease; undefined when no lease is held. */
    readonly currentEpoch: number | undefined,
    readonly currentHolder?: string,
  ) {
    super(
      `${operation} fenced: it carried epoch ${staleEpoch}, which is stale; ` +
        (currentEpoch === undefined ? 'no lease is held now' : `the current lease has epoch ${currentEpoch}${currentHolder ? ` (held by ${currentHolder})` : ''}`) +
        '. Nothing was written.',
    );
    this.name = 'FencedError';
  }
}

export function isFenced(e: unknown): e is FencedError {
  return e instanceof FencedError;
}
