// Executor contract: a backend that runs attempts (one execution of one task instance).
// Handles are plain JSON so they can be persisted and re-adopted after the service restarts.

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
  resources?: { cpus: number; memoryBytes: number };
  /** Working directory of the attempt; the executor creates it if missing. */
  cwd: string;
  /** Files that receive stdout / stderr while the attempt runs (created/truncated by the executor). */
  stdoutPath: string;
  stderrPath: string;
}

/** JSON-serialisable identification of a launched attempt; persisted in the store. */
export interface AttemptHandle {
  executor: string;
  key: string;
  pid: number;
  /** Process start time as the OS reports it (e.g. /proc/<pid>/stat field 22), to detect PID reuse. */
  startTicks: string;
  /** Where the supervisor writes the exit status once the command has ended. */
  statusPath: string;
  /** The name of the attempt's cgroups below the executor's cgroup parents, when it has some. */
  cgroup?: string;
}

export interface ExitInfo {
  /** Exit code of the command, or null when it was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  /** The attempt failed and its memory limit killed a process of it (counted by its memory cgroup). */
  oom?: boolean;
}

export type AdoptResult =
  | { kind: 'running' }          // still running; onExit will fire for it later
  | { kind: 'exited'; exit: ExitInfo } // ended while we were not watching; here is how
  | { kind: 'lost' };            // no trace of it: neither running nor a recorded status

export interface Executor {
  readonly name: string;
  /** Start an attempt. Resolves once the process exists (the attempt is RUNNING). */
  launch(spec: AttemptSpec): Promise<AttemptHandle>;
  /** Register the single exit listener (called once per attempt that ends, launched or adopted;
   *  for a launched attempt, never before its launch() promise has resolved). */
  onExit(listener: (key: string, exit: ExitInfo) => void): void;
  /** Signal the attempt's whole process group. Safe to call on an attempt that already ended. */
  kill(handle: AttemptHandle, signal: NodeJS.Signals): void;
  /** After a restart: take back an attempt launched by an earlier service process. */
  adopt(handle: AttemptHandle): AdoptResult;
  /** After a restart: the handle of an attempt whose start was never recorded, if it did start. */
  recover?(key: string): AttemptHandle | undefined;
  /** Stop watching (service shutdown); running attempts keep running. */
  close(): Promise<void>;
}
