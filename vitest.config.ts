import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: ['test/slurm/**', 'test/s3/**'],
          // e2e files each start their own server; keep parallelism modest on a 2-core machine
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          // the e2e suite once more with every server's store on PostgreSQL (test/helpers/spawn-server.ts:
          // a fresh database per data dir). Left out: the store-fault tests (faults of the SQLite file
          // and its disk) and the long chaos/load/fuzz runs, which have PostgreSQL runs of their own
          // (npm run chaos -- --store postgres), and the files that run on PostgreSQL already.
          name: 'pg',
          include: ['test/e2e/**/*.test.ts'],
          exclude: [
            'test/e2e/store-faults.test.ts', 'test/e2e/chaos.test.ts', 'test/e2e/load.test.ts', 'test/e2e/fuzz.test.ts',
            'test/e2e/replica-logs.test.ts', 'test/e2e/store-secrets.test.ts',
          ],
          env: { OPENBATCH_TEST_STORE: 'postgres' },
          setupFiles: ['test/support/pg-project.ts'],
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          // the real S3 server of scripts/s3-up.sh (Ceph RGW): each file makes buckets of its own, so
          // they run beside the main project, in its workers (one group must have one maxWorkers)
          name: 's3',
          include: ['test/s3/**/*.test.ts'],
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          // one Slurm cluster for all: its files run one at a time (one fills every CPU of the node,
          // one restarts slurmctld), after the rest
          name: 'slurm',
          include: ['test/slurm/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
