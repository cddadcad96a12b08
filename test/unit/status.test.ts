// Status files of local attempts: every format a supervisor writes or wrote (the shim's pid file
// with its status appended, the shell supervisor's bare number), with and without the usage line, and
// the words of the shim's end event.
import { describe, expect, it } from 'vitest';
import { parseStatusText, parseUsage } from '../../src/executors/local/status.ts';

describe('status files', () => {
  it('reads the formats written before usage was recorded', () => {
    expect(parseStatusText('123 4567\nexit 3\n')).toEqual({ exitCode: 3, signal: null });
    expect(parseStatusText('123 4567\nsignal 9 oom\n')).toEqual({ exitCode: null, signal: 'SIGKILL', oom: true });
    expect(parseStatusText('exit 0\n')).toEqual({ exitCode: 0, signal: null });
    expect(parseStatusText('143\n')).toEqual({ exitCode: 143, signal: null });
    expect(parseStatusText('137 oom\n')).toEqual({ exitCode: 137, signal: null, oom: true });
  });

  it('reads what the attempt used from the line before the status', () => {
    expect(parseStatusText('123 4567\nusage cpu=3.014500 mem=52428800\nexit 0\n')).toEqual({
      exitCode: 0, signal: null, usage: { cpuSeconds: 3.0145, maxMemoryBytes: 52428800 },
    });
    expect(parseStatusText('123 4567\nusage cpu=0.010000 mem=1000\nsignal 15 oom\n')).toEqual({
      exitCode: null, signal: 'SIGTERM', oom: true, usage: { cpuSeconds: 0.01, maxMemoryBytes: 1000 },
    });
    // the shell supervisor without cgroups knows no memory peak
    expect(parseStatusText('usage cpu=1.250000\n4\n')).toEqual({ exitCode: 4, signal: null, usage: { cpuSeconds: 1.25 } });
    // words it does not know are skipped; a usage line without a valid cpu= gives no usage
    expect(parseStatusText('usage cpu=2 io=7 mem=9\nexit 1\n')?.usage).toEqual({ cpuSeconds: 2, maxMemoryBytes: 9 });
    expect(parseStatusText('usage mem=9\nexit 1\n')).toEqual({ exitCode: 1, signal: null });
    expect(parseStatusText('usage cpu=x\nexit 1\n')).toEqual({ exitCode: 1, signal: null });
  });

  it('has no status while the file is incomplete', () => {
    expect(parseStatusText('')).toBeUndefined();
    expect(parseStatusText('123 4567\n')).toBeUndefined();
    expect(parseStatusText('123 4567\nusage cpu=1.5 mem=2\n')).toBeUndefined();
    expect(parseStatusText('123 4567\nusage cpu=1.5 mem=2\nexit 3')).toBeUndefined();
    expect(parseStatusText('usage cpu=1.5\n4')).toBeUndefined();
  });

  it('reads the usage words of the shim\'s end event', () => {
    expect(parseUsage(['cpu=0.500000', 'mem=4096'])).toEqual({ cpuSeconds: 0.5, maxMemoryBytes: 4096 });
    expect(parseUsage(['oom', 'cpu=1.000000'])).toEqual({ cpuSeconds: 1 });
    expect(parseUsage([])).toBeUndefined(); // an older shim's event
    expect(parseUsage(['cpu=', 'mem=-1'])).toBeUndefined();
  });
});
