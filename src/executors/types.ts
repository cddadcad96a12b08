// The executor contract: what the scheduler asks of any engine that runs attempts (local processes,
// Slurm job arrays, Kubernetes Jobs). Engine-neutral: a handle is opaque JSON owned by the backend
// and persisted by the store; a launch is a group of instances of one task (one `sbatch --array`);
// observation is asynchronous and batched (pushed ends, plus observe() for re-adoption after a
// restart); stopping and its SIGTERM → SIGKILL grace are the executor's; so are where an attempt's
// working directory and logs live (AttemptLogs) and what capacity it offers.

import type { DataSpec } from '../domain/data-spec.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** A backend's identification of one launched attempt: JSON it can read back after a restart. It
 *  always names its executor. */
export type Handle = { readonly executor: string } & { readonly [k: string]: Json };

/** One execution of one task instance. */
export interface AttemptId {
  jobId: string;
  taskName: string;
  index: number;
  attempt: number;
}

/** An attempt the scheduler has started and whose end is not recorded yet. */
export interface RunningAttempt extends AttemptId {
  key: string;
  handle: Handle;
  /** The instance type of the task's compute environment, when it names one. */
  instanceType: string | undefined;
  /** When it started running (ms), when known. */
  startTime?: number;
}

/** vCPUs and memory an attempt may use; enforced where the executor can. */
export interface Resources {
  cpus: number;
  memoryBytes: number;
}

/** Instances of one task to start now, as one unit (a job array on a batch system). */
export interface LaunchGroup {
  jobId: string;
  taskName: string;
  /** The account the attempts belong to: attempts of different accounts cannot reach each other. */
  account: string;
  /** Shell command line; runs under `/bin/sh -c`. */
  command: string;
  /** The variables every instance gets (BATCH_* and the task's EnvVars). The executor adds
   *  BATCH_TASK_INSTANCE_INDEX per instance. The environment is built from these and the executor's
   *  documented base — never inherited from the server. */
  env: Record<string, string>;
  /** What the task's instance type promises (each instance may override it). */
  resources?: Resources;
  /** The task's limits, for engines that enforce them themselves (the scheduler also stops attempts
   *  that outlive Timeout, through stop()). 0: none. */
  limits: { timeoutSec: number; maxConcurrent: number };
  /** The engine queue to submit to (a Slurm partition), for an executor whose capacity is a queue. */
  queue?: string;
  /** What the attempts read from and write to object storage (staged by the staging executor, which
   *  turns it into seedDir and mounts for the engine). */
  data?: DataSpec;
  /** A directory of this server whose contents are copied into each instance's fresh working
   *  directory before its command starts, owned by the attempt's user (an unpacked PACKAGE). */
  seedDir?: string;
  instances: LaunchInstance[];
}

/** A path of this server that an attempt sees at another absolute path (`target`), privately: no
 *  other attempt and nothing on the host sees it there (the attempt's own mount namespace). A
 *  directory or a regular file; `readOnly` ones cannot be written through. Where `target` or its
 *  parents do not exist, they exist for the attempt only (the local executor leaves at most an empty
 *  top-level directory on the host as a mount point: docs/security.md). */
export interface MountSpec {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface LaunchInstance {
  /** The scheduler's name of the attempt (unique, filesystem-safe); every observation carries it. */
  key: string;
  index: number;
  attempt: number;
  /** Resources of the compute node it runs on, when that differs from the group's. */
  resources?: Resources;
  /** Paths it sees privately (InputMappings, OutputMappings), parents before children. An executor
   *  whose privateMounts() names a reason reports such an instance ok:false. */
  mounts?: MountSpec[];
}

/** How the start of one instance of a group went. `waiting`: the engine accepted it and queues it
 *  (a batch system's pending job); it runs when a later observation says `running`. Without it the
 *  attempt runs now. */
export type LaunchResult =
  | { key: string; ok: true; handle: Handle; waiting?: WaitInfo }
  | { key: string; ok: false; error: string };

/** Why an accepted attempt waits in the engine's queue (Slurm's pending reason), for StateReason and
 *  StateDetailedReason. */
export interface WaitInfo {
  reason: string;
  detail: string;
}

export interface ExitInfo {
  /** Exit code of the command, or null when it was killed by a signal (or has no status). */
  exitCode: number | null;
  signal: string | null;
  /** The attempt failed and its memory limit killed a process of it. */
  oom?: boolean;
  /** What the attempt used over its whole life, measured as it ended (an ended attempt cannot be
   *  read any more); absent where the executor cannot tell. */
  usage?: EndUsage;
  /** Why it ended, where the engine knows better than its exit status (cancelled in Slurm behind the
   *  service's back, Slurm's own time limit, its outputs not uploaded): StateReason and
   *  StateDetailedReason of a failure. An attempt with a cause fails even when its exit code is 0. */
  cause?: { reason: string; detail: string };
}

/** Resource use of an attempt over its whole life (for DescribeJobMonitorData's last sample). */
export interface EndUsage {
  /** CPU seconds it used. */
  cpuSeconds: number;
  /** Its peak memory, when known. */
  maxMemoryBytes?: number;
  /** How full the file system of its working directory was as it ended (0-100), when known. */
  diskPercent?: number;
}

/** What the executor knows of an attempt. `handle` is set when observe() found the attempt by its
 *  key (its launch was never recorded), and on the first `waiting`/`running` event of an attempt that
 *  was accepted before the engine could name it (its controller did not answer the submission).
 *  - `waiting`: accepted, queued by the engine (pushed when the reason changes);
 *  - `running`: runs (pushed when a waiting one starts), on `node` (the engine's name of the machine,
 *    when it has several) since `since` (ms, when known);
 *  - `lost`: gone without an exit status. `infrastructure`: the engine lost it for a reason outside
 *    the attempt (node failure, preemption, boot failure): it runs again without using a retry. */
export type Observation =
  | { key: string; state: 'waiting'; wait: WaitInfo; handle?: Handle }
  | { key: string; state: 'running'; handle?: Handle; node?: string; since?: number }
  | { key: string; state: 'exited'; exit: ExitInfo; handle?: Handle }
  | { key: string; state: 'lost'; reason: string; infrastructure?: boolean };

/** Why an attempt is stopped (a batch system may word its cancellation accordingly). */
export type StopReason = 'terminate' | 'timeout' | 'node-gone';

/** What the executor offers: a fixed number of local slots, or a queue that takes everything (the
 *  engine queues what it cannot run yet). */
export type Capacity = { kind: 'slots'; slots: number } | { kind: 'queue'; name: string };

/** Resource counters of a running attempt (for DescribeJobMonitorData). */
export interface Usage {
  /** CPU seconds used since the attempt started. */
  cpuSeconds: number;
  /** Memory in use now. */
  memoryBytes: number;
  /** Seconds since the attempt started, when known. */
  ageSeconds?: number;
  /** How full the file system of its working directory is (0-100), when known. */
  diskPercent?: number;
}

export type Stream = 'stdout' | 'stderr';

/** Where attempts' stdout/stderr live, and how the services read and delete them. */
export interface AttemptLogs {
  /** The last `maxBytes` of a stream (of a running attempt: what it wrote so far); undefined when the
   *  attempt has no such log (never started, or deleted). */
  tail(id: AttemptId, stream: Stream, maxBytes: number): Promise<Buffer | undefined>;
  /** Bytes [start, end) of a stream (end exclusive, clamped to its size). */
  read(id: AttemptId, stream: Stream, start: number, end?: number): Promise<Buffer | undefined>;
  /** A file this server can read that holds the stream once the attempt has ended (for shipping
   *  logs to RedirectInfo targets): created empty when the attempt wrote nothing. */
  settledFile(id: AttemptId, stream: Stream): Promise<string>;
  /** Remove everything the job's attempts left (logs, working directories). */
  removeJob(jobId: string): Promise<void>;
}

export interface Executor {
  readonly name: string;
  capacity(): Capacity;
  /** Start the group's instances: `started` is told of each as soon as it has started (it is RUNNING),
   *  was accepted into the engine's queue (`waiting`), or failed to start, in any order; the promise
   *  resolves after the last. */
  launch(group: LaunchGroup, started: (r: LaunchResult) => void): Promise<void>;
  /** The single listener of attempt ends (launched or observed ones) and, for a queue, of waiting
   *  attempts' changes (`waiting` reasons, `running`), called with batches. Nothing of a launched
   *  attempt is reported before `started` was told of it. */
  onEvents(listener: (events: Observation[]) => void): void;
  /** After a restart: how each attempt launched by an earlier service process is doing. `handle` null:
   *  its launch was never recorded; the executor looks for it by key. Running ones are watched from
   *  now on (their ends come through onEvents). */
  observe(attempts: readonly { key: string; handle: Handle | null }[]): Promise<Observation[]>;
  /** Stop an attempt: ask it to end, and force it after graceMs (0: at once). Its end comes through
   *  onEvents as usual. Safe to call on an attempt that already ended. */
  stop(key: string, handle: Handle, why: StopReason, graceMs: number): void;
  /** The attempt's end is recorded: drop what the executor kept for it (status files). */
  release(key: string, handle: Handle): void;
  /** Why attempts of this executor cannot have private mounts (LaunchInstance.mounts) — for the
   *  engine queue `queue`, when given — or undefined when they can. Asked at submission, so that a
   *  task that needs them is refused there rather than run unsafely. */
  privateMounts(queue?: string): string | undefined;
  /** Stop every attempt this engine runs on this host, because another replica leads now and has run
   *  them again elsewhere (an engine whose attempts any replica can take over, such as Slurm, has none
   *  to stop). Resolves with how many were stopped. */
  abandonAll?(): Promise<number>;
  /** Resource counters of running attempts (optional capability). */
  usage?(attempts: readonly { key: string; handle: Handle }[]): Promise<Map<string, Usage>>;
  readonly logs: AttemptLogs;
  /** Stop watching (service shutdown); running attempts keep running. */
  close(): Promise<void>;
}

/** The key of an attempt: `<jobId>.<taskName>.<index>.<attempt>` (task names are [A-Za-z0-9_-]). */
export function attemptKey(i: AttemptId): string {
  return `${i.jobId}.${i.taskName}.${i.index}.${i.attempt}`;
}
