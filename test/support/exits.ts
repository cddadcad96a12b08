// Test helper: a per-attempt exit listener on top of the executor's batched events, and an exit
// without what the attempt used (for comparing how attempts ended).
import type { Executor, ExitInfo } from '../../src/executors/types.ts';

export function onExits(ex: Pick<Executor, 'onEvents'>, fn: (key: string, exit: ExitInfo) => void): void {
  ex.onEvents((events) => {
    for (const ev of events) if (ev.state === 'exited') fn(ev.key, ev.exit);
  });
}

/** How the attempt ended, without its measured usage (which varies from run to run). */
export function endOf(exit: ExitInfo): ExitInfo {
  const { usage: _usage, ...rest } = exit;
  return rest;
}
