// Local executor, portable variant: each attempt runs under a tiny /bin/sh supervisor spawned by Node
// in its own session and process group, stdout/stderr going straight to files. The supervisor runs the
// command as `/bin/sh -c <command>`, waits for it and writes its exit status to `<stateDir>/<key>.status`,
// so the attempt survives a restart or kill -9 of the service and is re-adopted. Used when the C shim
// (shim-executor.ts) cannot be built; it costs a fork of the Node process per attempt.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AttemptHandle, AttemptSpec } from '../types.ts';
import { LocalExecutorBase } from './base.ts';
import { startTicksOf } from './status.ts';

export type { LocalExecutorOptions } from './base.ts';
export { startTicksOf } from './status.ts';

/**
 * $0 = label (shows the attempt key in ps), $1 = the user's command, $2 = the status file.
 * The command runs as `/bin/sh -c "$1"` exactly (never interpolated into this script). TERM/INT/HUP
 * are trapped with a handler (handlers, unlike ignored signals, are reset in the child), so when the
 * process group is asked to stop the command gets the signal and the supervisor still records how it
 * ended. The status is one short line written with a single printf to a fresh file: a write of a few
 * bytes to a regular file is not split, so a reader sees either nothing or the whole line (the reader
 * also requires the trailing newline). sh reports death by signal n as 128+n; that is recorded as is.
 */
const SUPERVISOR = `trap 'ob_sig=1' TERM INT HUP
/bin/sh -c "$1"
ob_rc=$?
printf '%s\\n' "$ob_rc" > "$2"
exit "$ob_rc"`;

export class LocalExecutor extends LocalExecutorBase {
  async launch(spec: AttemptSpec): Promise<AttemptHandle> {
    fs.mkdirSync(spec.cwd, { recursive: true });
    const statusPath = this.statusPath(spec.key);
    const out = fs.openSync(spec.stdoutPath, 'w', 0o600);
    let err: number;
    try {
      err = fs.openSync(spec.stderrPath, 'w', 0o600);
    } catch (e) {
      fs.closeSync(out);
      throw e;
    }
    try {
      const argv = ['-c', SUPERVISOR, `openbatch-attempt:${spec.key}`, spec.command, statusPath];
      // `nice` execs the supervisor in place: the pid (and its start time) stays the attempt's.
      const nice = this.o.nice ?? 0;
      const child = spawn(nice > 0 ? 'nice' : '/bin/sh', nice > 0 ? ['-n', String(nice), '/bin/sh', ...argv] : argv, {
        cwd: spec.cwd,
        env: { ...this.baseEnv, ...spec.env },
        detached: true,
        stdio: ['ignore', out, err],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid!));
      });
      child.once('exit', (code, signal) => this.fire(spec.key, { exitCode: code, signal }));
      return { executor: this.name, key: spec.key, pid, startTicks: startTicksOf(pid, true) ?? '', statusPath };
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
  }
}
