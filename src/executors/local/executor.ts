// Local executor, portable variant: each attempt runs under a tiny /bin/sh supervisor spawned by Node
// in its own session and process group, stdout/stderr going straight to files. The supervisor runs the
// attempt, waits for it and writes its exit status to `<stateDir>/<key>.status`, so the attempt
// survives a restart or kill -9 of the service and is re-adopted. Used when the C shim
// (shim-executor.ts) cannot be built; it costs a fork of the Node process per attempt, and its
// isolation uses util-linux programs (unshare, mount, setpriv) instead of system calls. The supervisor
// also records what the attempt used (its cgroups' counters, or its own children's CPU time).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { LocalHandle as AttemptHandle, AttemptSpec } from './attempt.ts';
import { LocalExecutorBase } from './base.ts';
import { readStatus, startTicksOf } from './status.ts';

export type { LocalExecutorOptions } from './base.ts';
export { startTicksOf } from './status.ts';

/**
 * $0 = label (shows the attempt key in ps), $1 = the status file, $2 = the attempt's cgroup dirs
 * (newline-separated, may be empty), $3 = a command file to open as fd 3 ('' for none), then the
 * attempt's argv: a chain of programs that each set one thing up and exec the next (see chain()).
 * TERM/INT/HUP are trapped with a handler (handlers, unlike ignored signals, are reset in the child),
 * so when the process group is asked to stop the attempt gets the signal and the supervisor still
 * records how it ended. When the attempt failed and its memory cgroup killed for memory, the status
 * says ` oom`; what the attempt left in its cgroups is killed and the cgroups removed. Before the
 * status line comes `usage cpu=<s>[ mem=<bytes>]`, what the attempt used: its cgroups' counters (its
 * whole tree: cpuacct.usage or cpu.stat usage_usec, memory.max_usage_in_bytes or memory.peak) read
 * before they are removed, else the CPU time of the children this shell waited for (cutime + cstime,
 * fields 16 and 17 of /proc/$$/stat, in clock ticks of 1/100 s) and no memory. Both lines are written
 * with one printf to a fresh file: a reader sees either nothing or the whole status (it requires
 * the trailing newline). sh reports death by signal n as 128+n; that is recorded as is. Only absolute
 * paths: the supervisor runs as root with the attempt's variables nowhere in its own environment.
 * First of all it writes `<its pid> <its start time>` (field 22 of /proc/$$/stat) to `<key>.pid`
 * beside the status file, so that an attempt whose start the service never recorded is found by its
 * key after a restart (as the shim's pid file does).
 */
const SUPERVISOR = `trap 'ob_sig=1' TERM INT HUP
IFS='
'
ob_status=$1 ob_cgs=$2
read -r ob_st < /proc/$$/stat
ob_ticks() { shift 19; ob_t=$1; }
IFS=' '
ob_ticks \${ob_st##*') '}
IFS='
'
printf '%s %s\\n' "$$" "$ob_t" > "\${ob_status%.status}.pid" || exit 125
[ -z "$3" ] || exec 3< "$3" || exit 125
shift 3
"$@"
ob_rc=$?
ob_oom= ob_us= ob_mem=
for d in $ob_cgs; do
  [ -r "$d/cpuacct.usage" ] && read -r v < "$d/cpuacct.usage" && ob_us=$((v / 1000))
  if [ -r "$d/cpu.stat" ]; then
    while IFS=' ' read -r k v; do [ "$k" = usage_usec ] && ob_us=$v; done < "$d/cpu.stat"
  fi
  for f in memory.max_usage_in_bytes memory.peak; do [ -r "$d/$f" ] && read -r v < "$d/$f" && ob_mem=$v; done
  if [ "$ob_rc" != 0 ]; then
    for f in memory.oom_control memory.events; do
      [ -r "$d/$f" ] || continue
      while IFS=' ' read -r k v; do [ "$k" = oom_kill ] && [ "$v" != 0 ] && ob_oom=' oom'; done < "$d/$f"
    done
  fi
  n=0
  while [ -d "$d" ] && ! /bin/rmdir "$d" 2>/dev/null && [ $n -lt 200 ]; do
    while read -r p; do kill -9 "$p" 2>/dev/null; done < "$d/cgroup.procs"
    /bin/sleep 0.05
    n=$((n + 1))
  done
done
if [ -z "$ob_us" ] && read -r ob_st < /proc/$$/stat; then
  IFS=' '
  set -- \${ob_st##*') '}
  ob_us=$(((\${14} + \${15}) * 10000))
fi
if [ -n "$ob_us" ]; then
  ob_f=$((ob_us % 1000000 + 1000000))
  printf 'usage cpu=%s.%s%s\\n%s%s\\n' "$((ob_us / 1000000))" "\${ob_f#1}" "\${ob_mem:+ mem=$ob_mem}" "$ob_rc" "$ob_oom"
else
  printf '%s%s\\n' "$ob_rc" "$ob_oom"
fi > "$ob_status"
exit "$ob_rc"`;

/** Joins the attempt's cgroups (its pid stays through the execs that follow). */
const JOIN = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; n=$((n - 1)); done; exec "$@"';

/** In the attempt's new mount namespace: covers the hidden paths (directories with an empty tmpfs,
 *  files with an empty file only root may read, kept in the first tmpfs) and binds the working
 *  directory back when it lies below one of them (the shell's cwd still refers to it). $1 = mount,
 *  $2 = cwd, $3 = how many hidden paths follow (a directory first). */
const HIDE = `mnt=$1 cwd=$2 n=$3; shift 3; cd "$cwd" || exit 125
void=
while [ "$n" -gt 0 ]; do
  h=$1; shift; n=$((n - 1))
  if [ -d "$h" ]; then
    "$mnt" -t tmpfs -o size=64k,mode=0711,nosuid,nodev,noexec tmpfs "$h" || exit 125
    [ -n "$void" ] || { void=$h/.hidden; : > "$void" && /bin/chmod 000 "$void" || exit 125; }
    case "$cwd" in "$h"/*) /bin/mkdir -p "$cwd" && "$mnt" --no-canonicalize --bind /proc/self/cwd "$cwd" && cd "$cwd" || exit 125;; esac
  elif [ -e "$h" ]; then
    [ -n "$void" ] || exit 125
    "$mnt" --bind "$void" "$h" || exit 125
  fi
done
exec "$@"`;

/** util-linux and coreutils programs the chain needs, by absolute path (found once). */
export function findTools(): { unshare?: string; mount?: string; setpriv?: string; env?: string; nice?: string } {
  const find = (name: string) => ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => path.join(d, name)).find((p) => fs.existsSync(p));
  return { unshare: find('unshare'), mount: find('mount'), setpriv: find('setpriv'), env: find('env'), nice: find('nice') };
}

export class LocalExecutor extends LocalExecutorBase {
  private readonly tools = findTools();
  protected override readonly keepsPidFile = true;

  override privateMounts(): string | undefined {
    return 'the /bin/sh launcher cannot give attempts private mounts (the C shim can: the server needs a C compiler to build it)';
  }

  async launchAttempt(spec: AttemptSpec): Promise<AttemptHandle> {
    if (spec.mounts && spec.mounts.length > 0) throw new Error(`the attempt cannot have private mounts: ${this.privateMounts()}`);
    const user = this.userOf(spec);
    const cgroups = this.prepareCgroups(spec);
    this.prepareWorkDir(spec, user);
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
      const cmdfile = this.commandFile(spec);
      const argv = ['-c', SUPERVISOR, `openbatch-attempt:${spec.key}`, statusPath, cgroups.join('\n'), cmdfile, ...this.chain(spec, user, cgroups, cmdfile)];
      // `nice` execs the supervisor in place: the pid (and its start time) stays the attempt's.
      const nice = this.o.nice ?? 0;
      const niceBin = this.tools.nice ?? 'nice';
      const child = spawn(nice > 0 ? niceBin : '/bin/sh', nice > 0 ? ['-n', String(nice), '/bin/sh', ...argv] : argv, {
        cwd: spec.cwd,
        env: { PATH: '/usr/bin:/bin' },
        detached: true,
        stdio: ['ignore', out, err],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid!));
      });
      // the status file has what the exit code cannot tell (an OOM kill)
      child.once('exit', (code, signal) => this.fire(spec.key, readStatus(statusPath) ?? { exitCode: code, signal }));
      const handle: AttemptHandle = { executor: this.name, key: spec.key, pid, startTicks: startTicksOf(pid, true) ?? '', statusPath };
      if (cgroups.length > 0) handle.cgroup = spec.key; // a cgroup per attempt, removed by its supervisor
      return handle;
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
  }

  /** The programs that set the attempt up, each exec'ing the next, ending with its command. */
  private chain(spec: AttemptSpec, user: ReturnType<LocalExecutorBase['userOf']>, cgroups: string[], cmdfile: string): string[] {
    const t = this.tools;
    const need = (p: string | undefined, what: string) => {
      if (!p) throw new Error(`${what} is needed to isolate attempts and is not on this machine`);
      return p;
    };
    const argv: string[] = [];
    if (cgroups.length > 0) argv.push('/bin/sh', '-c', JOIN, 'join', String(cgroups.length), ...cgroups);
    const hide = this.isolation.hide;
    if (hide.length > 0) {
      argv.push(need(t.unshare, 'unshare (util-linux)'), '--mount', '--propagation', 'slave', '/bin/sh', '-c', HIDE, 'hide', need(t.mount, 'mount'), spec.cwd, String(hide.length), ...hide);
    }
    if (user) {
      const groups = user.groups.length > 0 ? ['--groups', user.groups.join(',')] : ['--clear-groups'];
      argv.push(need(t.setpriv, 'setpriv (util-linux)'), '--reuid', String(user.uid), '--regid', String(user.gid), ...groups, '--inh-caps=-all', '--');
    }
    const env = Object.entries(this.attemptEnv(spec, user)).map(([k, v]) => `${k}=${v}`);
    argv.push(t.env ?? '/usr/bin/env', '-i', ...env, '/bin/sh', ...(cmdfile ? ['/proc/self/fd/3'] : ['-c', spec.command]));
    return argv;
  }

  /** The attempt's cgroups with its limits (the chain joins them). */
  private prepareCgroups(spec: AttemptSpec): string[] {
    const layout = this.isolation.cgroups;
    if (!layout) return [];
    const dirs = layout.parents.map((p) => path.join(p, spec.key));
    const r = spec.resources;
    const limits: [string, string][] = r
      ? [
          ['memory.limit_in_bytes', String(Math.floor(r.memoryBytes))], ['memory.memsw.limit_in_bytes', String(Math.floor(r.memoryBytes))],
          ['memory.max', String(Math.floor(r.memoryBytes))], ['memory.swap.max', '0'],
          ['cpu.cfs_quota_us', String(Math.round(r.cpus * 100_000))], ['cpu.max', `${Math.round(r.cpus * 100_000)} 100000`],
        ]
      : [];
    if (this.isolation.pidsMax > 0) limits.push(['pids.max', String(this.isolation.pidsMax)]);
    for (const d of dirs) {
      fs.mkdirSync(d, { recursive: true });
      for (const [file, v] of limits) if (fs.existsSync(path.join(d, file))) fs.writeFileSync(path.join(d, file), v);
    }
    return dirs;
  }

  /** The working directory: parents traversable but not listable (0711), its own for its user. */
  private prepareWorkDir(spec: AttemptSpec, user: ReturnType<LocalExecutorBase['userOf']>): void {
    const made = fs.mkdirSync(spec.cwd, { recursive: true, mode: 0o711 });
    // our umask (077) took the others' bits: give the new parents theirs
    if (made) for (let d = path.dirname(spec.cwd); d.length >= made.length; d = path.dirname(d)) fs.chmodSync(d, 0o711);
    fs.chmodSync(spec.cwd, 0o700);
    if (user) fs.chownSync(spec.cwd, user.uid, user.gid);
  }
}
