// Sends an attempt's captured stdout/stderr to the task's RedirectInfo (cos:// objects) and
// RedirectLocalInfo (files on the compute node's filesystem) once the attempt has ended.
// The plain object/file name always holds the latest attempt; before it is replaced, the previous
// attempt's object is kept as `<name>.<attempt>` so earlier attempts' logs are never overwritten.
// Objects go to the BucketRef of the `cos://` path (bucket, region, endpoint host).
import fs from 'node:fs/promises';
import path from 'node:path';
import { resolveFileName } from '../domain/log-paths.ts';
import { resolveLocalFile } from './node-files.ts';
import type { RedirectSpec } from '../domain/task-spec.ts';
import { bucketRef, joinKey, parseCosUrl } from '../objectstore/cos-url.ts';
import { isNoSuchKey, type BucketRef, type ObjectStore } from '../objectstore/types.ts';
import type { FinishedAttempt } from '../domain/task-spec.ts';

/** Attempts whose logs are shipped at once; the others wait their turn. Short attempts end faster
 *  than an object store takes their logs: without a bound, hundreds of uploads would compete for the
 *  store (and its connections) and each would go slower. */
export const SHIP_CONCURRENCY = 8;

export class LogShipper {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly objects: ObjectStore,
    private readonly localRoot: string,
    private readonly concurrency = SHIP_CONCURRENCY,
  ) {}

  async ship(a: FinishedAttempt): Promise<void> {
    if (this.active >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.active += 1;
    try {
      await this.shipNow(a);
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }

  private async shipNow(a: FinishedAttempt): Promise<void> {
    const vars = { jobId: a.jobId, taskName: a.taskName, index: a.index };
    const r = a.spec.redirect;
    if (r) {
      // both streams at once: an object store takes requests in parallel
      await Promise.all([
        this.toObject(r.stdoutPath, r.stdoutFile, vars, a.stdoutFile, a.attempt),
        this.toObject(r.stderrPath, r.stderrFile, vars, a.stderrFile, a.attempt),
      ]);
    }
    const l = a.spec.redirectLocal;
    if (l) {
      await this.toLocal(l.stdoutPath, l.stdoutFile, vars, a.stdoutFile, a.attempt);
      await this.toLocal(l.stderrPath, l.stderrFile, vars, a.stderrFile, a.attempt);
    }
  }

  private async toObject(url: RedirectSpec['stdoutPath'], tmpl: string, vars: { jobId: string; taskName: string; index: number }, src: string, attempt: number): Promise<void> {
    if (!url) return;
    const loc = parseCosUrl(url, 'RedirectInfo');
    const bucket = bucketRef(loc);
    const name = resolveFileName(tmpl, vars, 'RedirectInfo file name', 'InvalidParameterValue.RemoteStoragePath');
    const key = joinKey(loc.prefix, name);
    if (attempt > 1) await this.keepPrevious(bucket, key, `${key}.${attempt - 1}`);
    await this.objects.putFile(bucket, key, await existingOrEmpty(src));
  }

  /**
   * Moves the previous attempt's object `key` aside to `kept` before the put replaces `key`.
   * Design: rename is not atomic on S3 (CopyObject, then DeleteObject). Until the put lands, readers
   * may see `key` and `kept` both holding the previous attempt: harmless, both are its log. If the
   * rename fails after the copy (the delete failed, or the call was cut off), `kept` is complete and
   * `key` still holds the same bytes, which the put is about to replace anyway: so that counts as
   * done. A `key` gone between the head and the rename leaves nothing to keep. A crash between the
   * copy and the delete leaves both objects and this attempt's logs unshipped, as a crash before the
   * rename would; a later attempt then keeps the plain name's (older) log again, under the number of
   * the attempt before it. The fs store's rename is atomic, so there only the last two cases occur.
   */
  private async keepPrevious(bucket: BucketRef, key: string, kept: string): Promise<void> {
    if (!(await this.objects.head(bucket, key))) return;
    const keptBefore = await this.objects.head(bucket, kept);
    try {
      await this.objects.rename(bucket, key, kept);
    } catch (e) {
      if (isNoSuchKey(e)) return;
      // only a `kept` that the failed rename itself wrote proves the copy landed
      if (keptBefore === undefined && (await this.objects.head(bucket, kept).catch(() => undefined))) return;
      throw e;
    }
  }

  private async toLocal(dir: string, tmpl: string, vars: { jobId: string; taskName: string; index: number }, src: string, attempt: number): Promise<void> {
    if (!dir) return;
    const name = resolveFileName(tmpl, vars, 'RedirectLocalInfo file name', 'InvalidParameterValue.LocalPath');
    const dest = await resolveLocalFile(this.localRoot, dir, name);
    if (attempt > 1) await fs.rename(dest, `${dest}.${attempt - 1}`).catch(() => {});
    const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.tmp-${process.pid}`);
    await fs.copyFile(await existingOrEmpty(src), tmp);
    await fs.rename(tmp, dest);
  }
}

/** An attempt that never wrote anything may have no log file; ship an empty one. */
async function existingOrEmpty(file: string): Promise<string> {
  try {
    await fs.access(file);
  } catch {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, '');
  }
  return file;
}
