// Can a directory be written now? A real write, because access(2) does not see a file system that
// the kernel turned read-only after a disk error (ext4 errors=remount-ro).
import fs from 'node:fs';
import path from 'node:path';

/** The errno code (EROFS, ENOSPC, EACCES…) of a failed write in `dir`, or undefined if it worked. */
export function writeProblem(dir: string): string | undefined {
  const probe = path.join(dir, '.write-probe');
  try {
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EIO';
  }
}
