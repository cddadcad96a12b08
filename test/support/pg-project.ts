// Setup file of the vitest project `pg` (the e2e suite once more, on PostgreSQL): without a
// PostgreSQL that answers, every test of the project is skipped with the reason (said once on
// stderr by pgSkipReason), counted as skipped, never passed.
import { beforeAll, beforeEach } from 'vitest';
import { pgSkipReason } from './pg.ts';

let why: string | undefined;
beforeAll(async () => {
  why = await pgSkipReason();
});
beforeEach((ctx) => {
  if (why) ctx.skip(`no PostgreSQL: ${why}`);
});
