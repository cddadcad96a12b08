#!/usr/bin/env node
// Entry point of the `openbatch` command: runs the TypeScript sources directly (tsx), so that
// `npm ci && npx openbatch serve` works with no separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
