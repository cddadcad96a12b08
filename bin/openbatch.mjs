#!/usr/bin/env node
// Entry point of the `openbatch` command: runs the TypeScript sources directly (tsx), so that
// `npm ci && npx openbatch serve` works with no separate build step.
// The command line may carry a secret (--store postgres://user:password@…), and every user of the host
// can read it in /proc/<pid>/cmdline and ps: it is rewritten first of all, passwords masked.
process.title = ['openbatch', ...process.argv.slice(2)].join(' ').replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');

const { register } = await import('tsx/esm/api');
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
