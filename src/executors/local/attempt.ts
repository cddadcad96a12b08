// One local attempt as the local launchers see it: what to start (AttemptSpec, built by the local
// executor from a LaunchGroup), the handle persisted for it, and what re-adoption finds.
import type { ExitInfo, MountSpec, Resources } from '../types.ts';

export interface AttemptSpec {
  /** Unique, filesystem-safe key of the attempt, e.g. `job-abcd1234.A.0.1` (job, task, index, attempt). */
  key: string;
  /** Shell command line; runs under `/bin/sh -c` (one too long for an argument: `/bin/sh <file>`). */
  command: string;
  /** The attempt's own variables (BATCH_* and the task's EnvVars). Its environment is built from
   *  these and the executor's documented base — never inherited from the server. */
  env: Record<string, string>;
  /** The account the attempt belongs to: attempts of different accounts cannot reach each other. */
  account: string;
  /** What the attempt's instance type promises; enforced where the executor can. */
  resources?: Resources;
  /** Working directory of the attempt; the executor creates it if missing. */
  cwd: string;
  /** Files that receive stdout / stderr while the attempt runs (created/truncated by the executor). */
  stdoutPath: string;
  stderrPath: string;
  /** Paths it sees privately (a launcher that cannot give them refuses the attempt). */
  mounts?: MountSpec[];
}

/** The local executor's handle (JSON, persisted in the store). */
export interface LocalHandle {
  executor: string;
  key: string;
  pid: number;
  /** Process start time as the OS reports it (/proc/<pid>/stat field 22), to detect PID reuse. */
  startTicks: string;
  /** Where the supervisor writes the exit status once the command has ended. */
  statusPath: string;
  /** The name of the attempt's cgroups below the executor's cgroup parents, when it has some. */
  cgroup?: string;
  /** The replica whose host runs it (LocalExecutorOptions.owner); absent: made before replicas. */
  owner?: string;
}

export type AdoptResult =
  | { kind: 'running' }          // still running; its end is reported later
  | { kind: 'exited'; exit: ExitInfo } // ended while we were not watching; here is how
  | { kind: 'lost' };            // no trace of it: neither running nor a recorded status
