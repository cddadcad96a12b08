// The seed directory of a launch group (an unpacked PACKAGE) copied into an attempt's fresh working
// directory before its command starts, owned by the attempt's user. Directories, regular files (their
// permission bits kept: executables stay executable; setuid, setgid and sticky bits dropped) and
// symlinks (copied as symlinks, never followed); anything else (a FIFO, a socket, a device) is refused.
// COMPAT: the dropped bits and the refused kinds (docs/compat.md, Mappings and packages).
//
// A server running as root copies into a directory its user cannot enter yet: the working directory is
// made root's, 0700, in parents that are root's (0711), filled, every entry given to the user, and the
// working directory itself given last. Until then no process of the user (another attempt of its
// account) can reach a path root writes to, so none can redirect a write with a symlink, nor run a
// copy before it is the user's.
import fs from 'node:fs';
import path from 'node:path';

export interface Owner {
  uid: number;
  gid: number;
}

/** Entries copied at once (each is one or a few calls on the thread pool). */
const BATCH = 16;

/** The working directory, made fresh: its missing parents 0711 (traversable, not listable), itself
 *  0700. Owned by root until `give()` hands it over (see above). */
export async function makeWorkDir(cwd: string): Promise<void> {
  const parent = path.dirname(cwd);
  const made = await fs.promises.mkdir(parent, { recursive: true, mode: 0o711 });
  // our umask (077) took the others' bits: give the new parents theirs
  if (made) for (let d = parent; d.length >= made.length; d = path.dirname(d)) await fs.promises.chmod(d, 0o711);
  try {
    await fs.promises.mkdir(cwd, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`the working directory ${cwd} exists already`);
    throw e;
  }
  await fs.promises.chmod(cwd, 0o700);
}

/** Copy the contents of `seed` into the fresh working directory `cwd` and give it all to `owner`
 *  (undefined: the server's own user keeps it). Throws saying what could not be copied. */
export async function seedWorkDir(seed: string, cwd: string, owner: Owner | undefined): Promise<void> {
  const st = await fs.promises.stat(seed);
  if (!st.isDirectory()) throw new Error(`${seed} is not a directory`);
  await makeWorkDir(cwd);
  await copyTree(seed, cwd, owner);
  if (owner) await fs.promises.chown(cwd, owner.uid, owner.gid);
}

async function copyTree(from: string, to: string, owner: Owner | undefined): Promise<void> {
  const entries = await fs.promises.readdir(from, { withFileTypes: true });
  for (let at = 0; at < entries.length; at += BATCH) {
    await Promise.all(entries.slice(at, at + BATCH).map((e) => copyEntry(path.join(from, e.name), path.join(to, e.name), owner)));
  }
}

async function copyEntry(src: string, dst: string, owner: Owner | undefined): Promise<void> {
  const st = await fs.promises.lstat(src);
  const mode = st.mode & 0o777;
  if (st.isSymbolicLink()) {
    await fs.promises.symlink(await fs.promises.readlink(src), dst);
    if (owner) await fs.promises.lchown(dst, owner.uid, owner.gid);
    return;
  }
  if (st.isDirectory()) {
    await fs.promises.mkdir(dst, { mode: 0o700 });
    await copyTree(src, dst, owner);
  } else if (st.isFile()) {
    await fs.promises.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
  } else {
    throw new Error(`${src} is not a regular file, directory or symlink`);
  }
  if (owner) await fs.promises.chown(dst, owner.uid, owner.gid);
  await fs.promises.chmod(dst, mode);
}
