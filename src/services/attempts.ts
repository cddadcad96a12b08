// The attempts of an instance and the whole log of any of them: the DescribeAttempts and
// DescribeAttemptLog extension actions (docs/extensions.md). Logs are read by byte range through the
// executors' AttemptLogs (on a replica that did not run the attempt, fetched from the one that did),
// so that a client can page through a log of any size and follow a running attempt.
import { apiError } from '../domain/errors.ts';
import { checkJobId } from '../domain/ids.ts';
import { isFinished } from '../domain/states.ts';
import type { AttemptLogs, Stream } from '../executors/types.ts';
import type { AttemptRecord, InstanceRecord, Store, TaskRecord } from '../store/types.ts';
import type { AttemptView, ExtensionRequestOf, ExtensionResponseOf } from '../api/extension-models.ts';
import { checkTaskName } from './validate.ts';
import { instancesOf } from './jobs.ts';
import { isoOrEmpty } from './views.ts';
import type { Caller } from './types.ts';

/** The most bytes one DescribeAttemptLog answer carries, and what it carries when no Length is given. */
export const MAX_LOG_READ = 4 * 1024 * 1024;
export const DEFAULT_LOG_READ = 1024 * 1024;

export interface AttemptServiceDeps {
  store: Pick<Store, 'getJob' | 'getTask' | 'getInstance' | 'attemptsOf'>;
  logs: AttemptLogs;
}

export class AttemptService {
  constructor(private readonly d: AttemptServiceDeps) {}

  async describeAttempts(c: Caller, req: ExtensionRequestOf<'DescribeAttempts'>): Promise<ExtensionResponseOf<'DescribeAttempts'>> {
    const { inst, records } = await this.instance(c, req.JobId, req.TaskName, req.TaskInstanceIndex);
    const set = records.map((a) => attemptView(a, inst));
    return { TotalCount: set.length, AttemptSet: set };
  }

  async describeAttemptLog(c: Caller, req: ExtensionRequestOf<'DescribeAttemptLog'>): Promise<ExtensionResponseOf<'DescribeAttemptLog'>> {
    const streamName = req.Stream ?? 'STDOUT';
    if (streamName !== 'STDOUT' && streamName !== 'STDERR') {
      throw apiError('InvalidParameterValue', { param: 'Stream', problem: `must be STDOUT or STDERR; got ${JSON.stringify(streamName)}` });
    }
    const offset = req.Offset ?? 0;
    if (offset < 0) throw apiError('InvalidParameterValue', { param: 'Offset', problem: `must be 0 or more; got ${offset}` });
    const length = req.Length ?? DEFAULT_LOG_READ;
    if (length < 1 || length > MAX_LOG_READ) {
      throw apiError('InvalidParameterValue', { param: 'Length', problem: `must be between 1 and ${MAX_LOG_READ}; got ${length}` });
    }
    const { job, task, inst, records } = await this.instance(c, req.JobId, req.TaskName, req.TaskInstanceIndex);
    const latest = inst?.attempt ?? 0;
    if (latest === 0) {
      throw apiError('ResourceNotFound.TaskInstance', { jobId: job, taskName: task.name, index: req.TaskInstanceIndex, why: 'it has not started yet: it has no attempt' });
    }
    const n = req.Attempt ?? latest;
    if (n < 1 || n > latest) {
      throw apiError('InvalidParameterValue', { param: 'Attempt', problem: `must be between 1 and ${latest} (the attempts of this instance so far); got ${n}` });
    }
    // whether the attempt has ended is read before its log: a log read after the end is whole
    const rec = records.find((a) => a.attempt === n);
    const ended = n < latest || rec?.endTime != null || (inst !== undefined && isFinished(inst.state));
    const stream: Stream = streamName === 'STDOUT' ? 'stdout' : 'stderr';
    const id = { jobId: job, taskName: task.name, index: req.TaskInstanceIndex, attempt: n };
    // one byte more than asked tells whether more follows
    const got = (await this.d.logs.read(id, stream, offset, offset + length + 1)) ?? Buffer.alloc(0);
    const content = got.subarray(0, length);
    const more = got.length > length;
    return {
      Attempt: n,
      Stream: streamName,
      Offset: offset,
      NextOffset: offset + content.length,
      Content: content.toString('base64'),
      More: more,
      Complete: ended && !more,
    };
  }

  private async instance(c: Caller, jobId: string, taskName: string, index: number): Promise<{ job: string; task: TaskRecord; inst: InstanceRecord | undefined; records: AttemptRecord[] }> {
    checkJobId(jobId);
    checkTaskName(taskName, 'TaskName');
    const job = await this.d.store.getJob(c.account, c.region, jobId);
    if (!job) throw apiError('ResourceNotFound.Job', { jobId });
    const task = await this.d.store.getTask(job.id, taskName);
    if (!task) throw apiError('ResourceNotFound.Task', { jobId: job.id, taskName });
    if (index >= task.instanceNum) {
      throw apiError('ResourceNotFound.TaskInstance', { jobId: job.id, taskName: task.name, index, why: instancesOf(task) });
    }
    const [inst, records] = await Promise.all([this.d.store.getInstance(job.id, task.name, index), this.d.store.attemptsOf(job.id, task.name, index)]);
    return { job: job.id, task, inst, records };
  }
}

/** An attempt as DescribeAttempts shows it; the instance's final state names the last one's outcome. */
export function attemptView(a: AttemptRecord, inst: InstanceRecord | undefined): AttemptView {
  let state: string;
  if (a.endTime === null) state = a.runningTime === null ? 'STARTING' : 'RUNNING';
  else if (inst && inst.attempt === a.attempt && isFinished(inst.state)) state = inst.state;
  else state = a.exitCode === 0 && a.signal === null ? 'SUCCEED' : 'FAILED';
  return {
    Attempt: a.attempt,
    State: state,
    LaunchTime: isoOrEmpty(a.launchTime),
    RunningTime: a.runningTime === null ? null : isoOrEmpty(a.runningTime),
    EndTime: a.endTime === null ? null : isoOrEmpty(a.endTime),
    ExitCode: a.exitCode,
    Signal: a.signal,
    StateReason: a.reason === '' ? null : a.reason,
    ComputeNodeId: a.nodeId,
  };
}
