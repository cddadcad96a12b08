// One server per data dir. Its scheduler runs the jobs found there and its store keeps read caches
// that only it invalidates, so a second server on the same data dir must not start. The lock is a
// kernel file lock (SQLite's EXCLUSIVE locking mode on a small file of its own): the kernel drops it
// when the process ends, kill -9 included, so there is never a stale lock to clean up.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export interface DataDirLock {
  release(): void;
}

/** Take the data dir's lock, or say (undefined, holder pid if known) that another server holds it. */
export function lockDataDir(dir: string): DataDirLock | { heldBy: number | undefined } {
  const file = path.join(dir, 'server.lock');
  const pidFile = path.join(dir, 'server.pid');
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // the first write takes the EXCLUSIVE lock; in this mode it is kept until the connection closes
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS server (pid INTEGER); COMMIT');
  } catch (e) {
    db.close();
    if (!String((e as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY')) throw e;
    const pid = Number.parseInt(readOr(pidFile), 10);
    return { heldBy: Number.isFinite(pid) ? pid : undefined };
  }
  fs.writeFileSync(pidFile, `${process.pid}\n`);
  return {
    release() {
      if (!db.open) return;
      fs.rmSync(pidFile, { force: true });
      db.close();
    },
  };
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
