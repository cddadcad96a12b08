// Exit-status files (with what the attempt used, when its supervisor measured it) and process
// identity, shared by both ways of running local attempts.
import fs from 'node:fs';
import type { EndUsage, ExitInfo } from '../types.ts';

const SIGNALS: Record<number, NodeJS.Signals> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL',
  10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ',
};

export function signalName(n: number): string {
  return SIGNALS[n] ?? `SIG${n}`;
}

/**
 * Read a status file: its last line is `exit <code>` / `signal <n>` (the shim: the attempt's pid file,
 * `<pid> <starttime>`, with that line appended and renamed), or a bare number (the shell supervisor,
 * where death by signal n shows as 128+n), followed by ` oom` when the attempt failed and its memory
 * cgroup killed for memory. The line before it may be `usage cpu=<s>[ mem=<bytes>]`: what the attempt
 * used (older supervisors wrote none). Undefined while absent or incomplete (a complete status ends
 * with a newline).
 */
export function readStatus(file: string): ExitInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseStatusText(text);
}

const STATUS_LINE = /(?:^|\n)(?:usage ([^\n]*)\n)?(?:(exit|signal) )?(\d+)( oom)?\n$/;

/** The exit a status file's text records (see readStatus), or undefined when it is incomplete. */
export function parseStatusText(text: string): ExitInfo | undefined {
  const m = STATUS_LINE.exec(text);
  if (!m) return undefined;
  return parseStatus(m[2], Number(m[3]), m[4] !== undefined, m[1] === undefined ? undefined : parseUsage(m[1].split(' ')));
}

/** The exit of a status line's parts ("signal" or "exit"/nothing, the number, the oom mark, what the
 *  attempt used). */
export function parseStatus(kind: string | undefined, n: number, oom: boolean, usage?: EndUsage): ExitInfo {
  const exit: ExitInfo = kind === 'signal' ? { exitCode: null, signal: signalName(n) } : { exitCode: n, signal: null };
  if (oom) exit.oom = true;
  if (usage) exit.usage = usage;
  return exit;
}

/** What an attempt used, from `name=value` words (`cpu=<seconds>`, `mem=<bytes>`; other words are
 *  skipped): undefined without a valid cpu=. */
export function parseUsage(words: readonly string[]): EndUsage | undefined {
  let cpu: number | undefined, mem: number | undefined;
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) continue;
    const v = Number(w.slice(eq + 1));
    if (!Number.isFinite(v) || v < 0 || w.slice(eq + 1) === '') continue;
    const name = w.slice(0, eq);
    if (name === 'cpu') cpu = v;
    else if (name === 'mem') mem = v;
  }
  if (cpu === undefined) return undefined;
  return mem === undefined ? { cpuSeconds: cpu } : { cpuSeconds: cpu, maxMemoryBytes: mem };
}

/** The attempt shim's executable is `<SHIM_NAME>-<hash of its source>` (its comm starts with SHIM_NAME). */
export const SHIM_NAME = 'openbatch-shim';

/** State, parent and start time (field 22, clock ticks since boot) of a process from /proc/<pid>/stat. */
function procStat(pid: number): { state: string; ppid: number; startTicks: string } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), fields[1] field 4 (ppid), fields[19] field 22 (start time)
    return { state: fields[0]!, ppid: Number(fields[1]), startTicks: fields[19]! };
  } catch {
    return undefined;
  }
}

/** Start time of a live process, or undefined if there is no such process. A zombie has ended
 *  (undefined), unless `zombieToo` — right after spawning our own child, which may already have exited
 *  but is not reaped yet. */
export function startTicksOf(pid: number, zombieToo = false): string | undefined {
  const st = procStat(pid);
  if (!st || (st.state === 'Z' && !zombieToo)) return undefined;
  return st.startTicks;
}

/** Is this pid, with this start time, still an attempt whose outcome its supervisor will record: alive,
 *  or ended but not yet reaped by the attempt shim (the shim writes the status before it reaps). A zombie
 *  whose parent is anything else (its supervisor died; an init reaps it soon) has no status coming. */
export function stillSupervised(pid: number, startTicks: string): boolean {
  const st = procStat(pid);
  if (!st || startTicks === '' || st.startTicks !== startTicks) return false;
  if (st.state !== 'Z') return true;
  try {
    return fs.readFileSync(`/proc/${st.ppid}/comm`, 'latin1').startsWith(SHIM_NAME);
  } catch {
    return false;
  }
}
