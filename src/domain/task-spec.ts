// What the scheduler needs to run a task, derived from the stored task definition (wire shape with
// defaults filled in). Pure.
import { dataSpecOf, type DataSpec } from './data-spec.ts';
import { DEFAULT_STDERR_FILE, DEFAULT_STDOUT_FILE } from './log-paths.ts';

export type FailedAction = 'TERMINATE' | 'INTERRUPT' | 'FAST_INTERRUPT';

export interface RedirectSpec {
  stdoutPath: string;
  stderrPath: string;
  stdoutFile: string;
  stderrFile: string;
}

export interface RunSpec {
  command: string;
  envVars: { Name: string; Value: string }[];
  instanceNum: number;
  /** 0 = unlimited */
  maxConcurrent: number;
  maxRetry: number;
  timeoutSec: number;
  failedAction: FailedAction;
  redirect: RedirectSpec | null;
  redirectLocal: RedirectSpec | null;
  /** InputMappings, OutputMappings, PACKAGE (null: none). */
  data: DataSpec | null;
}

export const DEFAULT_TIMEOUT_SEC = 86_400;

type Obj = Record<string, unknown>;

export function runSpecOf(task: Obj): RunSpec {
  const app = (task.Application ?? {}) as Obj;
  const ri = task.RedirectInfo as Obj | undefined;
  const rl = task.RedirectLocalInfo as Obj | undefined;
  return {
    command: String(app.Command ?? ''),
    envVars: (task.EnvVars as { Name: string; Value: string }[] | undefined) ?? [],
    instanceNum: Number(task.TaskInstanceNum ?? 1),
    maxConcurrent: Number(task.MaxConcurrentNum ?? 0),
    maxRetry: Number(task.MaxRetryCount ?? 0),
    timeoutSec: Number(task.Timeout ?? DEFAULT_TIMEOUT_SEC),
    failedAction: (task.FailedAction as FailedAction | undefined) ?? 'TERMINATE',
    redirect: redirectOf(ri, 'StdoutRedirectPath', 'StderrRedirectPath', 'StdoutRedirectFileName', 'StderrRedirectFileName'),
    redirectLocal: redirectOf(rl, 'StdoutLocalPath', 'StderrLocalPath', 'StdoutLocalFileName', 'StderrLocalFileName'),
    data: dataSpecOf(task),
  };
}

function redirectOf(o: Obj | undefined, op: string, ep: string, of: string, ef: string): RedirectSpec | null {
  if (!o) return null;
  const stdoutPath = (o[op] as string | undefined) ?? '';
  const stderrPath = (o[ep] as string | undefined) ?? '';
  if (stdoutPath === '' && stderrPath === '') return null;
  return {
    stdoutPath,
    stderrPath,
    stdoutFile: (o[of] as string | undefined) || DEFAULT_STDOUT_FILE,
    stderrFile: (o[ef] as string | undefined) || DEFAULT_STDERR_FILE,
  };
}

/** An attempt that has ended, with the files that hold its logs (for shipping them to RedirectInfo
 *  and RedirectLocalInfo targets before its end is recorded). */
export interface FinishedAttempt {
  jobId: string;
  taskName: string;
  index: number;
  attempt: number;
  spec: RunSpec;
  stdoutFile: string;
  stderrFile: string;
}
