// The chaos test at CI scale (npm run chaos runs 2,000 instances and 10 stops per signal).
import { describe, expect, it } from 'vitest';
import { chaos } from '../../chaos/chaos.ts';
import '../helpers/server.ts'; // kills leftover servers when the file ends

describe('chaos', () => {
  it.each(['SIGKILL', 'SIGTERM'] as const)('loses nothing and runs nothing twice when the server gets %s three times', async (signal) => {
    const r = await chaos({ instances: 150, kills: 3, signal, slots: 8, minMs: 200, maxMs: 900, seed: 42 });
    expect(r.problems).toEqual([]);
    expect(r.jobState).toBe('SUCCEED');
    expect(r.executions).toBe(r.expectedExecutions);
  }, 300_000);
});
