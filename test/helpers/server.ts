// Test-side wrapper of spawn-server.ts: servers a test file started are killed when the file ends,
// even if a test failed half-way.
import { afterAll } from 'vitest';
import { dropTestDatabases, removeCgroupParents, started } from './spawn-server.ts';

export * from './spawn-server.ts';

afterAll(async () => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  removeCgroupParents();
  await dropTestDatabases();
});
