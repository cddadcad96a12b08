import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // e2e files each start their own server; keep parallelism modest on a 2-core machine
    maxWorkers: 3,
  },
});
