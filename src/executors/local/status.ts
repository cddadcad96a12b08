// Exit-status files and process identity, shared by both ways of running local attempts.
import fs from 'node:fs';
import type { ExitInfo } from '../types.ts';

const SIGNALS: Record<number, NodeJS.Signals> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL',
  10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ',
};

export function signalName(n: number): string {
  return SIGNALS[n] ?? `SIG${n}`;
}

/**
 * Read a status file: `exit <code>` / `signal <n>` (written by the shim), or a bare number (written by
 * the shell supervisor, where death by signal n shows as 128+n). Undefined while absent or incomplete
 * (a complete status ends with a newline).
 */
export function readStatus(file: string): ExitInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (!text.endsWith('\n')) return undefined;
  const m = /^(?:(exit|signal) )?(\d+)\n$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[2]);
  return m[1] === 'signal' ? { exitCode: null, signal: signalName(n) } : { exitCode: n, signal: null };
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined if no such live
 *  process. A zombie has ended (undefined), unless `zombieToo` — right after spawning our own child,
 *  which may already have exited but is not reaped yet. */
export function startTicksOf(pid: number, zombieToo = false): string | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); field 22 is fields[19]
    if (fields[0] === 'Z' && !zombieToo) return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}
