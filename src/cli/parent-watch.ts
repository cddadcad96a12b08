// Parent watch of `openbatch serve`: when npm (npx, npm start) launched the server and the process
// that launched it goes away, the server stops as on SIGTERM instead of living on as an orphan that
// holds the port and the data dir. Owns only the detection; the CLI decides what stopping means.

// Taken when the CLI is loaded, so that a parent that exits while the server starts is seen too.
const ppidAtLoad = process.ppid;

/**
 * Whether npm's script runner started this process (or an ancestor of it). npm runs `npx X` /
 * `npm exec X` and `npm start` / `npm run X` through `sh -c`: a SIGTERM sent to the npm process is
 * passed on to that sh only, which dies of it, npm exits with it, and the server is left running.
 * The runner (@npmcli/run-script) sets npm_lifecycle_event in the command's environment (`npx`,
 * `start`, ...), and so do yarn and pnpm for their scripts. npm_command would do for npm alone;
 * npm_execpath is set by other tools too. Like any environment variable it is inherited: a server
 * started in the background by an npm script that then ends stops with it.
 */
export function launchedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.npm_lifecycle_event);
}

/**
 * Calls `onOrphaned` once, when this process has been re-parented (its parent exited; the new
 * parent is init or a subreaper, whatever its pid). Linux could signal us when the parent dies
 * (prctl PR_SET_PDEATHSIG), but Node has no way to set it, so this polls process.ppid (a fresh
 * getppid() on each read) every `everyMs`. The timer is unref'd: it never keeps the process alive.
 * Returns a function that stops the watch.
 */
export function watchParent(onOrphaned: () => void, everyMs = 500): () => void {
  const timer = setInterval(() => {
    if (process.ppid === ppidAtLoad) return;
    clearInterval(timer);
    onOrphaned();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
