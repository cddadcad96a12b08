// The staging of one group's attempts (<dataDir>/staging/<jobId>/<key>/): before they start, their
// inputs resolved once for the group (through the host's cache), their package unpacked, and for
// each attempt its own output directories (owned by its user) and the private mounts that show all
// of them at the mapped paths; a manifest per attempt says what it pins in the cache and where its
// outputs go, so that uploads happen after its end even across a restart of the server. After the
// end is recorded, cleanup() removes the attempt's directory.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { normalTarget, type DataSpec } from '../domain/data-spec.ts';
import type { LaunchGroup, MountSpec } from '../executors/types.ts';
import type { ObjectStore } from '../objectstore/types.ts';
import type { ObjectCache } from './cache.ts';
import { resolveInput, resolvePackage, uploadDir, type TransferContext } from './transfer.ts';

export interface StagerOptions {
  root: string;
  store: ObjectStore;
  cache: ObjectCache;
  /** The user an account's attempts run as (undefined: the server's own). */
  userOf: (account: string) => { uid: number; gid: number } | undefined;
}

/** What an attempt's staging left for later (JSON, 0600, in its staging directory). */
interface Manifest {
  pins: string[];
  outputs: { dir: string; target: string; param: string }[];
  upload: DataSpec['upload'];
  credentials: DataSpec['credentials'];
}

export interface PreparedGroup {
  seedDir?: string;
  mounts: Map<string, MountSpec[]>;
  /** Keys of attempts that have outputs to upload when they end. */
  withOutputs: Set<string>;
}

/** Why an attempt failed in staging: StateReason and StateDetailedReason. */
export interface StagingFailure {
  reason: string;
  detail: string;
}

export class Stager {
  /** Manifests of attempts staged or found (by key). */
  private readonly manifests = new Map<string, Manifest>();
  /** Jobs with a staging directory, as found after a restart (asked once per job). */
  private readonly jobsHere = new Map<string, boolean>();

  constructor(private readonly o: StagerOptions) {
    fs.mkdirSync(o.root, { recursive: true, mode: 0o700 });
  }

  /** Stages the group; `progress` hears what is being staged (for StateDetailedReason). */
  async prepare(g: LaunchGroup, progress: (detail: string) => void, signal?: AbortSignal): Promise<PreparedGroup> {
    const data = g.data!;
    const ctx: TransferContext = {
      store: this.o.store, cache: this.o.cache, ...(signal ? { signal } : {}),
      ...(data.credentials ? { credentials: data.credentials } : {}),
    };
    const user = this.o.userOf(g.account);
    const shared: MountSpec[] = [];
    const pins: string[] = [];
    for (const input of data.inputs) {
      progress(`staging ${input.param}: ${input.source} to ${input.target}`);
      const got = await failingAs('InputMappingFailed', `${input.param} ${input.source}`, () => resolveInput(input.source, ctx));
      const base = path.posix.basename(input.source);
      const target = got.kind === 'file' && input.target.endsWith('/') ? `${normalTarget(input.target)}/${base}` : normalTarget(input.target);
      shared.push({ source: got.path, target, readOnly: true });
      pins.push(got.path);
    }
    let seedDir: string | undefined;
    if (data.packagePath !== null) {
      progress(`staging Application.PackagePath: ${data.packagePath}`);
      seedDir = await failingAs('PackageFailed', `Application.PackagePath ${data.packagePath}`, () => resolvePackage(data.packagePath!, user, ctx));
      pins.push(seedDir);
    }
    const mounts = new Map<string, MountSpec[]>();
    const withOutputs = new Set<string>();
    for (const i of g.instances) {
      const dir = this.dirOf(g.jobId, i.key);
      await fsp.rm(dir, { recursive: true, force: true }); // what a run of this key cut short left
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      const own: MountSpec[] = [];
      const outputs: Manifest['outputs'] = [];
      for (const [n, o] of data.outputs.entries()) {
        const out = path.join(dir, 'out', String(n));
        await fsp.mkdir(out, { recursive: true, mode: 0o700 });
        if (user) await fsp.chown(out, user.uid, user.gid);
        own.push({ source: out, target: normalTarget(o.source), readOnly: false });
        outputs.push({ dir: out, target: o.target, param: o.param });
      }
      const m: Manifest = { pins, outputs, upload: data.upload, credentials: data.credentials };
      await fsp.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m), { mode: 0o600 });
      this.manifests.set(i.key, m);
      this.o.cache.pin(pins);
      if (outputs.length > 0) withOutputs.add(i.key);
      mounts.set(i.key, [...shared, ...own].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)));
    }
    return { ...(seedDir ? { seedDir } : {}), mounts, withOutputs };
  }

  /** After a restart: whether the attempt was staged here (and whether it has outputs). */
  found(jobId: string, key: string): { outputs: boolean } | undefined {
    let m = this.manifests.get(key);
    if (!m) {
      let here = this.jobsHere.get(jobId);
      if (here === undefined) this.jobsHere.set(jobId, (here = fs.existsSync(path.join(this.o.root, jobId))));
      if (!here) return undefined;
      try {
        m = JSON.parse(fs.readFileSync(path.join(this.dirOf(jobId, key), 'manifest.json'), 'utf8')) as Manifest;
      } catch {
        return undefined;
      }
      this.manifests.set(key, m);
      this.o.cache.pin(m.pins);
    }
    return { outputs: m.outputs.length > 0 };
  }

  /** Uploads the attempt's outputs; undefined when all of them reached the store. */
  async collect(key: string, signal?: AbortSignal): Promise<StagingFailure | undefined> {
    const m = this.manifests.get(key);
    if (!m) return undefined;
    const ctx: TransferContext = {
      store: this.o.store, cache: this.o.cache, ...(signal ? { signal } : {}),
      ...(m.credentials ? { credentials: m.credentials } : {}),
    };
    for (const o of m.outputs) {
      try {
        await uploadDir(o.dir, o.target, m.upload, ctx);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        return { reason: 'OutputMappingFailed', detail: `the outputs of ${o.param} could not be uploaded to ${o.target}: ${msg}` };
      }
    }
    return undefined;
  }

  /** The attempt's end is recorded: its directory goes, and what it pinned may be evicted. */
  async cleanup(jobId: string, key: string): Promise<void> {
    const m = this.manifests.get(key);
    this.manifests.delete(key);
    if (m) this.o.cache.unpin(m.pins);
    await fsp.rm(this.dirOf(jobId, key), { recursive: true, force: true });
  }

  /** Everything the job's attempts left here (DeleteJob). */
  async removeJob(jobId: string): Promise<void> {
    await fsp.rm(path.join(this.o.root, jobId), { recursive: true, force: true });
  }

  private dirOf(jobId: string, key: string): string {
    return path.join(this.o.root, jobId, key);
  }
}

async function failingAs<T>(reason: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new StagingFailed({ reason, detail: `${what} could not be staged: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/** A staging of a group that failed: every attempt of it fails with this. */
export class StagingFailed extends Error {
  constructor(readonly failure: StagingFailure) {
    super(failure.detail);
    this.name = 'StagingFailed';
  }
}
