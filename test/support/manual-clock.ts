// A clock that moves only when a test says so: timers fire, in time order, when advance() passes
// their time. With it the scheduler's timeouts, stop graces and store retries run without real time.
import type { Clock, Timer } from '../../src/lib/clock.ts';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Pending[] = [];

  constructor(start = Date.UTC(2026, 11, 1, 12, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(p);
    return { cancel: () => { p.live = false; } };
  }

  /** Timers armed and not yet fired or cancelled. */
  get pending(): number {
    return this.timers.filter((p) => p.live).length;
  }

  /** Move time forward by `ms`, firing every timer that falls due, earliest first (a timer armed by
   *  one that fires runs too when it falls within the step). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((p) => p.live);
      let next: Pending | undefined;
      for (const p of this.timers) if (p.at <= end && (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      if (!next) break;
      next.live = false;
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}
