// What one exec may carry on this host (Linux fs/exec.c): every argument and variable is at most
// MAX_ARG_STRLEN bytes, NUL included, and all of them together (with a pointer each) at most a quarter
// of the stack limit, capped at 6 MiB and never below 128 KiB. Read once; no domain knowledge.
import fs from 'node:fs';

export const MAX_ARG_STRLEN = 131_072;
const MIN_ARGS = 128 * 1024;
const MAX_ARGS = 6 * 1024 * 1024;

/** Bytes argv and envp of one exec may take together here (strings with their NULs, and pointers). */
export function execArgBytes(): number {
  let stack = 8 * 1024 * 1024; // the usual soft limit, when /proc/self/limits cannot tell
  try {
    const m = /^Max stack size\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (m) stack = m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    // not Linux: keep the usual value
  }
  return Math.max(MIN_ARGS, Math.min(MAX_ARGS, Math.floor(stack / 4)));
}
