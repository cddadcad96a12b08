// Test helper: a per-attempt exit listener on top of the executor's batched events.
import type { Executor, ExitInfo } from '../../src/executors/types.ts';

export function onExits(ex: Pick<Executor, 'onEvents'>, fn: (key: string, exit: ExitInfo) => void): void {
  ex.onEvents((events) => {
    for (const ev of events) if (ev.state === 'exited') fn(ev.key, ev.exit);
  });
}
