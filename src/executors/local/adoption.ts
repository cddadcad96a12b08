// Watching attempts that are not (or no longer) our children: attempts launched by an earlier service
// process, or by a shim that died. They end when their status file appears (one fs.watch on the state
// dir, plus a slow sweep in case an event is missed) or, without a status, when their process is gone.
import fs from 'node:fs';
import type { ExitInfo } from '../types.ts';
import type { AdoptResult, LocalHandle as AttemptHandle } from './attempt.ts';
import { readStatus, startTicksOf, stillSupervised } from './status.ts';

export class Adopter {
  private readonly watched = new Map<string, AttemptHandle>();
  /** Attempts seen ended without a status, and when: they are called lost only if still without one a
   *  sweep later (a supervisor may be between the end and the status write, e.g. on a loaded machine). */
  private readonly goneAt = new Map<string, number>();
  private watcher: fs.FSWatcher | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stateDir: string,
    private readonly fire: (key: string, exit: ExitInfo) => void,
    private readonly sweepMs: number,
    private readonly warn: (obj: object, msg: string) => void,
  ) {}

  adopt(handle: AttemptHandle): AdoptResult {
    const st = readStatus(handle.statusPath);
    if (st) return { kind: 'exited', exit: st };
    if (stillSupervised(handle.pid, handle.startTicks)) {
      this.watch(handle);
      return { kind: 'running' };
    }
    return { kind: 'lost' };
  }

  /** Keep watching an attempt until it ends. */
  watch(handle: AttemptHandle): void {
    this.watched.set(handle.key, handle);
    if (!this.watcher) {
      try {
        this.watcher = fs.watch(this.stateDir, (_ev, file) => {
          if (file && file.endsWith('.status')) this.check(file.slice(0, -'.status'.length));
        });
        this.watcher.on('error', () => {});
      } catch (e) {
        this.warn({ err: e }, 'cannot watch the attempt state dir; relying on the sweep');
      }
    }
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => {
        for (const key of [...this.watched.keys()]) this.check(key);
        if (this.watched.size === 0) this.stopSweep();
      }, this.sweepMs);
      this.sweepTimer.unref();
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    this.stopSweep();
    this.watched.clear();
    this.goneAt.clear();
  }

  private stopSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  private check(key: string): void {
    const h = this.watched.get(key);
    if (!h) return;
    const st = readStatus(h.statusPath);
    if (st) {
      this.goneAt.delete(key);
      this.watched.delete(key);
      this.fire(key, st);
      return;
    }
    if (startTicksOf(h.pid) !== h.startTicks) {
      // ended (or a zombie) without a status: its supervisor is about to write it, or was killed too
      // (SIGKILL) or the machine rebooted — decided at a later check
      const since = this.goneAt.get(key);
      const now = Date.now();
      if (since === undefined) {
        this.goneAt.set(key, now);
        return;
      }
      if (now - since < this.sweepMs / 2) return;
      this.goneAt.delete(key);
      this.watched.delete(key);
      this.fire(key, { exitCode: null, signal: 'SIGKILL' });
    }
  }
}
