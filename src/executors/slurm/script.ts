// The job script of one Slurm job array (one launch group, one attempt number) and its --array
// expression. Each array element runs one instance: it finds its instance index (its array task id,
// or a line of the map file when the indexes are too large for MaxArraySize), refuses to run an
// attempt that has run already (its status files exist), creates its working directory, writes
// `<key>.start` (node, start ms, array job id, array task id) atomically, copies the group's seed
// directory (PACKAGE) into the working directory when it has one (cp -PRp as the element's user: its
// files, modes kept, symlinks as symlinks; a failed copy is exit status 73 and a line in the
// attempt's stderr log, the command not run), runs the command under
// `/bin/sh -c` in that directory with an environment built from nothing (Slurm's own SLURM_*/SLURMD_*
// variables, the documented base, the group's variables, the instance index) and its streams to the
// log files, survives TERM/INT/HUP (the command gets them; the wrapper waits for it) and writes
// `<key>.exit` atomically: `<status>[ sig]` (sh's status: 128+n for a death by signal n; ` sig` when
// the wrapper itself was signalled meanwhile, i.e. Slurm or someone stopped the element).
// Every value is single-quoted: any bytes but NUL survive.
import { MAX_ARG_STRLEN } from '../../lib/exec-limits.ts';

/** Single-quoted for sh: any bytes but NUL. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `1,4,7-9` from the indexes (sorted, without duplicates). */
export function compressIndexes(indexes: readonly number[]): string {
  const xs = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    parts.push(j > i ? `${xs[i]}-${xs[j]}` : String(xs[i]));
    i = j + 1;
  }
  return parts.join(',');
}

/** The longest --array expression written out; a more scattered set of indexes gets a map file. */
export const MAX_ARRAY_EXPR = 8192;

export interface ArrayPlan {
  /** The --array value (without the %N throttle). */
  spec: string;
  /** Array task id → instance index, one per line (task id = line number - 1); undefined: the task id
   *  is the index. */
  map?: number[];
}

/** How the indexes become array task ids: themselves when they all fit under MaxArraySize (and their
 *  expression is short), else 0..n-1 and a map. */
export function planArray(indexes: readonly number[], maxArraySize: number): ArrayPlan {
  const sorted = [...indexes].sort((a, b) => a - b);
  const largest = sorted[sorted.length - 1] ?? 0;
  if (largest < maxArraySize) {
    const spec = compressIndexes(sorted);
    if (spec.length <= MAX_ARRAY_EXPR) return { spec };
  }
  return { spec: sorted.length === 1 ? '0' : `0-${sorted.length - 1}`, map: sorted };
}

export interface ScriptInput {
  jobId: string;
  taskName: string;
  attempt: number;
  /** The --array expression (written into the script: an element is found by key from it). */
  arraySpec: string;
  command: string;
  /** The group's variables (BATCH_TASK_INSTANCE_INDEX is added per element). */
  env: Record<string, string>;
  /** HOME of the user the elements run as. */
  home: string;
  /** Where the key's status files go (status/<jobId>). */
  statusDir: string;
  /** logs/<jobId>/<task> and work/<jobId>/<task>. */
  logTaskDir: string;
  workTaskDir: string;
  /** The map file (planArray gave a map). */
  mapFile?: string;
  /** A file holding the command, when it is too long to be one argument. */
  commandFile?: string;
  /** A copy of the group's seed directory (the user's, readable on the nodes), copied into each
   *  element's working directory before its command runs. */
  seedDir?: string;
}

/** The --array expression and whether a map file gives the indexes, from a script's header. */
export function scriptHeader(text: string): { spec: string; map: boolean } | undefined {
  const m = /^# openbatch-array ([0-9,-]+)( map)?$/m.exec(text);
  return m ? { spec: m[1]!, map: m[2] !== undefined } : undefined;
}

/** Whether an --array expression (without throttle) holds n. */
export function inArraySpec(spec: string, n: number): boolean {
  return spec.split(',').some((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? a === n : a! <= n && n <= b;
  });
}

export const BASE_PATH = '/usr/local/bin:/usr/bin:/bin';
export const BASE_LANG = 'C.UTF-8';
/** Exit codes of the wrapper itself (visible in sacct/squeue; the tracker never reads them). */
const EX_NOINDEX = 70, EX_CANTCREATE = 73, EX_RAN = 75;

/** A command needs a file when it cannot be one argument of an exec. */
export function needsCommandFile(command: string): boolean {
  return !(command.length * 3 < MAX_ARG_STRLEN || Buffer.byteLength(command) < MAX_ARG_STRLEN);
}

/** What cannot be put into an environment (a NUL byte, a name with `=`), or undefined. */
export function envProblem(command: string, env: Record<string, string>): string | undefined {
  if (command.includes('\0')) return 'the command contains a NUL byte';
  for (const [k, v] of Object.entries(env)) {
    if (k === '' || k.includes('=') || k.includes('\0')) return `the environment variable name ${JSON.stringify(k)} is not valid`;
    if (v.includes('\0')) return `the value of the environment variable ${k} contains a NUL byte`;
  }
  return undefined;
}

export function jobScript(s: ScriptInput): string {
  const keyHead = shq(`${s.jobId}.${s.taskName}.`);
  const dot = shq(`.${s.attempt}`);
  const index = s.mapFile
    ? `_ob_i=$(sed -n "$((_ob_t + 1))p" ${shq(s.mapFile)})`
    : '_ob_i=$_ob_t';
  const vars = [
    `PATH=${BASE_PATH}`, `HOME=${s.home}`, `LANG=${BASE_LANG}`,
  ].map(shq);
  const own = Object.entries(s.env).map(([k, v]) => shq(`${k}=${v}`));
  const run = s.commandFile
    ? `/bin/sh /proc/self/fd/3 3< ${shq(s.commandFile)}`
    : `/bin/sh -c ${shq(s.command)}`;
  const exec = `env -i -- "$@" ${run} > "$_ob_log.stdout" 2> "$_ob_log.stderr"\n_ob_rc=$?`;
  // the seed is copied as the element's user, in the working directory the element made
  const body = s.seedDir
    ? `if cp -PRp ${shq(s.seedDir)}/. . 2>> "$_ob_log.stderr"; then\n${exec}\nelse\n`
      + `  echo "openbatch: could not copy the package into the working directory $_ob_wd" >> "$_ob_log.stderr"; _ob_rc=${EX_CANTCREATE}\nfi`
    : exec;
  return `#!/bin/sh
# OpenBatch: job ${s.jobId}, task ${s.taskName}, attempt ${s.attempt} (src/executors/slurm/script.ts)
# openbatch-array ${s.arraySpec}${s.mapFile ? ' map' : ''}
PATH=/usr/bin:/bin:/usr/local/bin
umask 077
_ob_t=\${SLURM_ARRAY_TASK_ID:?not started as an element of a Slurm job array}
${index}
case $_ob_i in ''|*[!0-9]*) echo "openbatch: array task $_ob_t has no instance" >&2; exit ${EX_NOINDEX};; esac
_ob_key=${keyHead}"$_ob_i"${dot}
_ob_st=${shq(s.statusDir)}/$_ob_key
_ob_wd=${shq(s.workTaskDir)}/"$_ob_i"${dot}
_ob_log=${shq(s.logTaskDir)}/"$_ob_i"${dot}
if [ -e "$_ob_st.exit" ] || [ -e "$_ob_st.start" ]; then
  echo "openbatch: $_ob_key has run already: not running it again" >&2; exit ${EX_RAN}
fi
mkdir -p "$_ob_wd" ${shq(s.logTaskDir)} || exit ${EX_CANTCREATE}
_ob_now=$(date +%s%3N 2>/dev/null)
case $_ob_now in ''|*[!0-9]*) _ob_now=$(date +%s)000;; esac
printf '%s %s %s %s\\n' "\${SLURMD_NODENAME:-$(uname -n)}" "$_ob_now" "\${SLURM_ARRAY_JOB_ID:-}" "$_ob_t" > "$_ob_st.start.$$" || exit ${EX_CANTCREATE}
if ! ln "$_ob_st.start.$$" "$_ob_st.start" 2>/dev/null; then
  rm -f "$_ob_st.start.$$"; echo "openbatch: $_ob_key has started already: not running it again" >&2; exit ${EX_RAN}
fi
rm -f "$_ob_st.start.$$"
set --
for _ob_n in $(env | sed -n 's/^\\(SLURMD\\{0,1\\}_[A-Za-z0-9_]*\\)=.*/\\1/p'); do
  eval "[ -n \\"\\\${$_ob_n+x}\\" ]" || continue
  eval "_ob_v=\\$$_ob_n"
  set -- "$@" "$_ob_n=$_ob_v"
done
set -- "$@" ${vars.join(' ')} "TMPDIR=$_ob_wd"${own.length > 0 ? ` ${own.join(' ')}` : ''} "BATCH_TASK_INSTANCE_INDEX=$_ob_i"
cd "$_ob_wd" || exit ${EX_CANTCREATE}
_ob_sig=
trap '_ob_sig=" sig"' TERM INT HUP
${body}
printf '%s%s\\n' "$_ob_rc" "$_ob_sig" > "$_ob_st.exit.$$" && mv -f "$_ob_st.exit.$$" "$_ob_st.exit"
exit "$_ob_rc"
`;
}
