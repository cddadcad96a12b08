// Table tests of the pure decision taken when an attempt has ended (src/domain/outcome.ts): every
// branch of decideAfterExit and of describeExit, with the exact reasons and details they give.
import { describe, expect, it } from 'vitest';
import { decideAfterExit, describeExit, type AttemptExit, type ExitFacts, type Outcome, type StopCause } from '../../src/domain/outcome.ts';

const ok: AttemptExit = { exitCode: 0, signal: null };
const code3: AttemptExit = { exitCode: 3, signal: null };
const killed: AttemptExit = { exitCode: null, signal: 'SIGKILL' };
const noStatus: AttemptExit = { exitCode: null, signal: null };

const timeout: StopCause = { reason: 'Timeout', detail: 'the attempt ran longer than Timeout (10 s) and was killed', final: false };
const terminated: StopCause = { reason: 'Terminated', detail: 'terminated by TerminateJob', final: true };
const nodeGone: StopCause = { reason: 'ComputeNodeTerminated', detail: 'compute node cn-1 was terminated', final: false, requeue: true };
// a requeue that is also final (no such cause exists today): requeue still wins
const nodeGoneFinal: StopCause = { ...nodeGone, final: true };

const EXIT3 = { reason: 'Exit code 3', detail: 'the application exited with code 3' };
const SIGKILL = { reason: 'Killed by signal SIGKILL', detail: 'the application was killed by signal SIGKILL' };
const LOST = { reason: 'Lost', detail: 'the attempt ended without an exit status' };
const TIMEOUT = { reason: timeout.reason, detail: timeout.detail };
const TERMINATED = { reason: terminated.reason, detail: terminated.detail };

function facts(over: Partial<ExitFacts>): ExitFacts {
  return { exit: code3, stop: null, retriesUsed: 0, maxRetry: 0, failedAction: 'TERMINATE', jobTerminating: false, ...over };
}

describe('decideAfterExit', () => {
  const cases: [string, Partial<ExitFacts>, Outcome][] = [
    // succeed: exit code 0 and not stopped, whatever the retries and the action
    ['exit 0, not stopped', { exit: ok }, { kind: 'succeed' }],
    ['exit 0, not stopped, INTERRUPT, retries used up', { exit: ok, failedAction: 'INTERRUPT', retriesUsed: 3, maxRetry: 3 }, { kind: 'succeed' }],
    ['exit 0 while the job terminates (not stopped)', { exit: ok, jobTerminating: true }, { kind: 'succeed' }],
    // requeue: the node was taken away; no retry is used, whatever the exit
    ['requeue, exit 0', { exit: ok, stop: nodeGone }, { kind: 'requeue', reason: nodeGone.reason, detail: nodeGone.detail }],
    ['requeue, killed, no retries left', { exit: killed, stop: nodeGone, retriesUsed: 2, maxRetry: 2 }, { kind: 'requeue', reason: nodeGone.reason, detail: nodeGone.detail }],
    ['requeue, job terminating', { exit: killed, stop: nodeGone, jobTerminating: true }, { kind: 'requeue', reason: nodeGone.reason, detail: nodeGone.detail }],
    ['requeue that is also final', { exit: killed, stop: nodeGoneFinal }, { kind: 'requeue', reason: nodeGone.reason, detail: nodeGone.detail }],
    // retry: failed by itself with retries left; retry numbers count from 1
    ['exit 3, first retry of 2', { maxRetry: 2 }, { kind: 'retry', ...EXIT3, retry: 1 }],
    ['exit 3, second retry of 2', { retriesUsed: 1, maxRetry: 2 }, { kind: 'retry', ...EXIT3, retry: 2 }],
    ['signal, retry', { exit: killed, maxRetry: 1 }, { kind: 'retry', ...SIGKILL, retry: 1 }],
    ['no status, retry', { exit: noStatus, maxRetry: 1 }, { kind: 'retry', ...LOST, retry: 1 }],
    ['retry is taken before FailedAction INTERRUPT', { maxRetry: 1, failedAction: 'INTERRUPT' }, { kind: 'retry', ...EXIT3, retry: 1 }],
    // a stop that is not final (Timeout) uses retries and gives its own reason, even after exit 0
    ['Timeout, retry', { exit: killed, stop: timeout, maxRetry: 1 }, { kind: 'retry', ...TIMEOUT, retry: 1 }],
    ['Timeout after exit 0, retry', { exit: ok, stop: timeout, maxRetry: 1 }, { kind: 'retry', ...TIMEOUT, retry: 1 }],
    // fail: retries used up, FailedAction decides between FAILED and FAILED_INTERRUPTED
    ['exit 3, no retries, TERMINATE', {}, { kind: 'fail', interrupt: false, ...EXIT3 }],
    ['exit 3, no retries, INTERRUPT', { failedAction: 'INTERRUPT' }, { kind: 'fail', interrupt: true, ...EXIT3 }],
    ['exit 3, no retries, FAST_INTERRUPT', { failedAction: 'FAST_INTERRUPT' }, { kind: 'fail', interrupt: true, ...EXIT3 }],
    ['exit 3, retries used up, TERMINATE', { retriesUsed: 2, maxRetry: 2 }, { kind: 'fail', interrupt: false, ...EXIT3 }],
    ['exit 3, retries used up, INTERRUPT', { retriesUsed: 2, maxRetry: 2, failedAction: 'INTERRUPT' }, { kind: 'fail', interrupt: true, ...EXIT3 }],
    ['exit 3, more retries used than allowed', { retriesUsed: 4, maxRetry: 2 }, { kind: 'fail', interrupt: false, ...EXIT3 }],
    ['signal, no retries', { exit: killed }, { kind: 'fail', interrupt: false, ...SIGKILL }],
    ['no status, no retries, FAST_INTERRUPT', { exit: noStatus, failedAction: 'FAST_INTERRUPT' }, { kind: 'fail', interrupt: true, ...LOST }],
    // final stops (terminations) are never retried and never interrupt
    ['final stop with retries left', { exit: killed, stop: terminated, maxRetry: 5 }, { kind: 'fail', interrupt: false, ...TERMINATED }],
    ['final stop after exit 0', { exit: ok, stop: terminated, maxRetry: 5 }, { kind: 'fail', interrupt: false, ...TERMINATED }],
    ['final stop, INTERRUPT', { exit: killed, stop: terminated, maxRetry: 5, failedAction: 'INTERRUPT' }, { kind: 'fail', interrupt: false, ...TERMINATED }],
    // a stop that is not final, retries used up: FAILED with its reason, never interrupted
    ['Timeout, no retries, INTERRUPT', { exit: killed, stop: timeout, failedAction: 'INTERRUPT' }, { kind: 'fail', interrupt: false, ...TIMEOUT }],
    ['Timeout, retries used up', { exit: killed, stop: timeout, retriesUsed: 1, maxRetry: 1 }, { kind: 'fail', interrupt: false, ...TIMEOUT }],
    // the job is terminating: nothing is retried
    ['job terminating, retries left', { maxRetry: 3, jobTerminating: true }, { kind: 'fail', interrupt: false, ...EXIT3 }],
    ['job terminating, retries left, INTERRUPT', { maxRetry: 3, jobTerminating: true, failedAction: 'INTERRUPT' }, { kind: 'fail', interrupt: true, ...EXIT3 }],
    ['job terminating, Timeout stop, retries left', { exit: killed, stop: timeout, maxRetry: 3, jobTerminating: true }, { kind: 'fail', interrupt: false, ...TIMEOUT }],
  ];
  it.each(cases)('%s', (_name, over, want) => {
    expect(decideAfterExit(facts(over))).toEqual(want);
  });

  it('words an out-of-memory failure with the instance type and memory it was given', () => {
    const exit = { exitCode: null, signal: 'SIGKILL', oom: true };
    expect(decideAfterExit(facts({ exit, maxRetry: 1, instanceType: 'S1.SMALL2', memGiB: 2 }))).toEqual({
      kind: 'retry', retry: 1, reason: 'OutOfMemory',
      detail: 'the attempt needed more than the 2 GiB of memory of its instance type S1.SMALL2 and was killed for memory (signal SIGKILL)',
    });
    expect(decideAfterExit(facts({ exit, instanceType: 'S1.SMALL2', memGiB: 2 }))).toMatchObject({ kind: 'fail', reason: 'OutOfMemory' });
  });

  it('lets a stop reason win over an out-of-memory exit', () => {
    const exit = { exitCode: null, signal: 'SIGKILL', oom: true };
    expect(decideAfterExit(facts({ exit, stop: terminated, memGiB: 2 }))).toEqual({ kind: 'fail', interrupt: false, ...TERMINATED });
  });
});

describe('describeExit', () => {
  const cases: [string, AttemptExit, string | undefined, number | undefined, { reason: string; detail: string }][] = [
    ['exit code', code3, undefined, undefined, EXIT3],
    ['exit code 0', ok, undefined, undefined, { reason: 'Exit code 0', detail: 'the application exited with code 0' }],
    ['exit code 255 on a known type (not OOM: no memory wording)', { exitCode: 255, signal: null }, 'S1.SMALL1', 1,
      { reason: 'Exit code 255', detail: 'the application exited with code 255' }],
    ['signal', { exitCode: null, signal: 'SIGTERM' }, undefined, undefined,
      { reason: 'Killed by signal SIGTERM', detail: 'the application was killed by signal SIGTERM' }],
    ['signal wins over an exit code', { exitCode: 1, signal: 'SIGSEGV' }, undefined, undefined,
      { reason: 'Killed by signal SIGSEGV', detail: 'the application was killed by signal SIGSEGV' }],
    ['no status (lost)', noStatus, undefined, undefined, LOST],
    ['OOM by signal, type and memory', { exitCode: null, signal: 'SIGKILL', oom: true }, 'S1.MEDIUM4', 4, {
      reason: 'OutOfMemory',
      detail: 'the attempt needed more than the 4 GiB of memory of its instance type S1.MEDIUM4 and was killed for memory (signal SIGKILL)',
    }],
    ['OOM by exit code, type and memory', { exitCode: 137, signal: null, oom: true }, 'S1.MEDIUM4', 4, {
      reason: 'OutOfMemory',
      detail: 'the attempt needed more than the 4 GiB of memory of its instance type S1.MEDIUM4 and was killed for memory (exit code 137)',
    }],
    ['OOM, memory without a type (a compute node of no known type)', { exitCode: null, signal: 'SIGKILL', oom: true }, undefined, 1.25, {
      reason: 'OutOfMemory',
      detail: 'the attempt needed more than the 1.3 GiB of memory of its instance type and was killed for memory (signal SIGKILL)',
    }],
    ['OOM, type without memory', { exitCode: 1, signal: null, oom: true }, 'S1.SMALL1', undefined, {
      reason: 'OutOfMemory',
      detail: 'the attempt needed more than its memory limit and was killed for memory (exit code 1)',
    }],
    ['OOM, neither', { exitCode: null, signal: 'SIGKILL', oom: true }, undefined, undefined, {
      reason: 'OutOfMemory',
      detail: 'the attempt needed more than its memory limit and was killed for memory (signal SIGKILL)',
    }],
    ['oom: false is an ordinary exit', { exitCode: 2, signal: null, oom: false }, 'S1.SMALL1', 1,
      { reason: 'Exit code 2', detail: 'the application exited with code 2' }],
  ];
  it.each(cases)('%s', (_name, exit, type, mem, want) => {
    expect(describeExit(exit, type, mem)).toEqual(want);
  });
});
