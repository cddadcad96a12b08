// Where the Slurm executor keeps things in the shared directory (the same path on the server and on
// every node): logs and working directories exactly as LocalLayout puts them, job scripts (and map,
// command and wrapper-error files) in scripts/<jobId>/, each attempt's status files in
// status/<jobId>/<key>.{start,exit}, and what stop() asked in status/<jobId>/stops; the copy of a
// launch group's seed directory (PACKAGE) that its elements copy into their working directories in
// seeds/<jobId>/<name>. The top-level directories are 0711 (nobody lists them), a job's own directories
// belong to its run-as user, 0700 (one account's attempts cannot see another's) — but seeds/<jobId> is
// root's (0711), so that the server fills a seed copy where no process of the user can redirect a
// write; the copy is given to the user once filled. Also reads and writes those status files.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LocalLayout, LocalLogs } from '../local/layout.ts';
import type { ExitInfo } from '../types.ts';

export class SlurmLayout extends LocalLayout {
  readonly scriptRoot: string;
  readonly statusRoot: string;
  readonly seedRoot: string;
  constructor(readonly sharedDir: string) {
    super(sharedDir);
    this.scriptRoot = path.join(sharedDir, 'scripts');
    this.statusRoot = path.join(sharedDir, 'status');
    this.seedRoot = path.join(sharedDir, 'seeds');
  }
  /** Where a job's seed copies go (root's, made when one is needed). */
  seedDir(jobId: string): string {
    return path.join(this.seedRoot, jobId);
  }
  scriptDir(jobId: string): string {
    return path.join(this.scriptRoot, jobId);
  }
  statusDir(jobId: string): string {
    return path.join(this.statusRoot, jobId);
  }
  statusFile(jobId: string, key: string, kind: 'start' | 'exit'): string {
    return path.join(this.statusRoot, jobId, `${key}.${kind}`);
  }
  /** What stop() asked of the job's attempts: lines `<key> term|kill`, appended. */
  stopFile(jobId: string): string {
    return path.join(this.statusRoot, jobId, 'stops');
  }
  /** The four per-job directories. */
  jobDirs(jobId: string): string[] {
    return [this.logRoot, this.workRoot, this.scriptRoot, this.statusRoot].map((r) => path.join(r, jobId));
  }
}

/** LocalLogs, whose removeJob also removes the job's scripts, status files and seed copies. */
export class SlurmLogs extends LocalLogs {
  constructor(override readonly layout: SlurmLayout) {
    super(layout);
  }
  override async removeJob(jobId: string): Promise<void> {
    await super.removeJob(jobId);
    await Promise.all([this.layout.scriptDir(jobId), this.layout.statusDir(jobId), this.layout.seedDir(jobId)].map((d) =>
      fs.promises.rm(d, { recursive: true, force: true }).catch(() => {})));
  }
}

export interface Owner {
  uid: number;
  gid: number;
}

/** mkdir that takes an existing directory as success (but not a file in its way). */
function ensureDir(dir: string, mode: number): boolean {
  try {
    fs.mkdirSync(dir, { mode });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(dir).isDirectory()) throw e;
    return false;
  }
}

/** The top-level directories (0711) and the job's own (0700, its user's). Throws when one cannot be
 *  made (a file in its way, a read-only or full disk). */
export function makeJobDirs(layout: SlurmLayout, jobId: string, owner: Owner | undefined): void {
  for (const root of [layout.logRoot, layout.workRoot, layout.scriptRoot, layout.statusRoot]) {
    fs.mkdirSync(path.dirname(root), { recursive: true });
    if (ensureDir(root, 0o711)) fs.chmodSync(root, 0o711);
  }
  for (const dir of layout.jobDirs(jobId)) {
    if (ensureDir(dir, 0o700)) {
      fs.chmodSync(dir, 0o700);
      if (owner) fs.chownSync(dir, owner.uid, owner.gid);
    }
  }
}

/** A file the elements read (map, command): written whole, then renamed into place, their user's. */
export function writeShared(file: string, data: string, owner: Owner | undefined): void {
  // the directory is the user's: a name they planted (a symlink to a file of root's) is never
  // followed — the temporary file is new (O_EXCL, a name they cannot guess), and rename(2) replaces
  // a link at `file` rather than writing through it
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeFileSync(fd, data);
    if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** What `<key>.start` says: where and when it started, and which array element ran it. */
export interface StartRecord {
  node: string;
  since: number;
  job: string;
  task: number;
}

export function parseStart(text: string): StartRecord | undefined {
  const m = /^(\S+) (\d+) (\d+) (\d+)\n/.exec(text);
  if (!m) return undefined;
  return { node: m[1]!, since: Number(m[2]), job: m[3]!, task: Number(m[4]) };
}

/** What `<key>.exit` says: sh's status (128+n for a death by signal n) and whether the wrapper was
 *  signalled while the command ran. */
export interface ExitRecord {
  status: number;
  signalled: boolean;
}

export function parseExit(text: string): ExitRecord | undefined {
  const m = /^(\d+)( sig)?\n/.exec(text);
  if (!m) return undefined;
  return { status: Number(m[1]), signalled: m[2] !== undefined };
}

export function exitInfoOf(r: ExitRecord): ExitInfo {
  return { exitCode: r.status, signal: null };
}

/** A file's text, or undefined when it does not exist (or is not complete yet). */
export function readQuietly(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The names in a job's status directory (empty when it does not exist). */
export async function listStatus(dir: string): Promise<Set<string>> {
  try {
    return new Set(await fs.promises.readdir(dir));
  } catch {
    return new Set();
  }
}

export function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // gone already
  }
}
