// The data features end to end through the official SDK, for any object store a server can use: a
// job that reads its inputs from a bucket (a directory and a single object), runs a packaged program
// and writes its results and logs back; mapped paths private to each attempt (and the host's own
// untouched); outputs of an attempt that ended while the server was down uploaded by the next one;
// an environment's InputMappings given to its tasks; staging shown as STARTING, outside Timeout, and
// done again after a kill -9; and every fault (a missing input, a missing package, a package that is
// no .tar.gz, an upload the store refuses) ending the instance FAILED with a reason that names the
// path. A store fixture says how the server is configured and how the test puts and reads objects,
// as a user would.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startServer, tempDir, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/spawn-server.ts';

export interface DataStoreFixture {
  /** Arguments and environment of the server (its object store). */
  server(dataDir: string): { args?: string[]; env?: Record<string, string> };
  /** A bucket the test may use: `<name>-<appid>`, created where the store needs that. */
  bucket: string;
  put(key: string, body: Buffer | string): Promise<void>;
  /** The object's bytes, or undefined when it does not exist. */
  get(key: string): Promise<Buffer | undefined>;
  keys(prefix: string): Promise<string[]>;
  /** A bucket that does not exist. */
  missingBucket: string;
  /** A destination the store refuses to write to: its cos:// URL. */
  refusedPrefix(): Promise<string>;
  cleanup(): Promise<void>;
}

const WHY = process.getuid?.() === 0 ? '' : 'needs a server running as root (private mounts need a mount namespace per attempt)';

function tgz(files: Record<string, string>): Buffer {
  const d = tempDir('openbatch-pkg-');
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    fs.writeFileSync(path.join(d, name), body, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
  }
  const out = execFileSync('tar', ['-czf', '-', '-C', d, '.']);
  fs.rmSync(d, { recursive: true, force: true });
  return out;
}

/** An http package whose server answers (HEAD and GET) only once `release` is called. */
async function heldPackage(body: Buffer, name: string): Promise<{ url: string; release: () => void; close: () => void }> {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  const web = http.createServer((req, res) => {
    void held.then(() => {
      res.writeHead(200, { etag: `"${name}"`, 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(web.address() as AddressInfo).port}/${name}`, release, close: () => web.close() };
}

function task(over: Record<string, unknown>) {
  return {
    TaskName: 'A', TaskInstanceNum: 1,
    Application: { DeliveryForm: 'LOCAL', Command: 'true' },
    ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
    ...over,
  };
}

function job(t: Record<string, unknown>) {
  return { Placement: { Zone: 'ap-guangzhou-2' }, Job: { JobName: 'data', Tasks: [task(t)] } };
}

export function dataSuite(name: string, make: () => Promise<DataStoreFixture | string>): void {
  describe.skipIf(!!WHY)(`data through the SDK: ${name}`, () => {
    let fx: DataStoreFixture;
    let srv: TestServer;
    let c: BatchClient;
    let skip = '';
    let cos: string;
    const run = randomBytes(4).toString('hex');
    // a top-level directory that does not exist on the host: the mapped paths live below it
    const top = `/ob-data-${run}`;

    beforeAll(async () => {
      const got = await make();
      if (typeof got === 'string') {
        skip = got;
        console.warn(`data suite ${name} skipped: ${got}`);
        return;
      }
      fx = got;
      cos = `cos://${fx.bucket}.cos.ap-guangzhou.myqcloud.com`;
      const dataDir = tempDir();
      const s = fx.server(dataDir);
      srv = await startServer({ dataDir, ...(s.args ? { args: s.args } : {}), ...(s.env ? { env: s.env } : {}) });
      c = srv.client();
    }, 120_000);
    afterAll(async () => {
      await srv?.stop();
      await fx?.cleanup();
      fs.rmSync(top, { recursive: true, force: true });
    });

    async function instance(jobId: string, index = 0) {
      const r = await c.DescribeTask!({ JobId: jobId, TaskName: 'A' });
      return r.TaskInstanceSet.find((x: { TaskInstanceIndex: number }) => x.TaskInstanceIndex === index);
    }

    it('reads inputs from the bucket, runs the packaged program, writes results and logs back', async (t) => {
      if (skip) return t.skip();
      await fx.put(`${run}/in/a.txt`, 'alpha\n');
      await fx.put(`${run}/in/sub/b.txt`, 'beta\n');
      await fx.put(`${run}/ref/model.bin`, 'MODEL');
      await fx.put(`${run}/pkg/app.tar.gz`, tgz({
        'bin/run.sh': `#!/bin/sh\nset -e\nmkdir -p ${top}/out/sub\ncat ${top}/in/a.txt ${top}/in/sub/b.txt > ${top}/out/joined-$BATCH_TASK_INSTANCE_INDEX.txt\ncp ${top}/ref/model.bin ${top}/out/sub/model-$BATCH_TASK_INSTANCE_INDEX.bin\necho ran in $(pwd)\n`,
      }));
      const { JobId } = await c.SubmitJob!(job({
        TaskInstanceNum: 2,
        Application: { DeliveryForm: 'PACKAGE', PackagePath: `${cos}/${run}/pkg/app.tar.gz`, Command: './bin/run.sh' },
        InputMappings: [
          { SourcePath: `${cos}/${run}/in/`, DestinationPath: `${top}/in/` },
          { SourcePath: `${cos}/${run}/ref/model.bin`, DestinationPath: `${top}/ref/` },
        ],
        OutputMappings: [{ SourcePath: `${top}/out/`, DestinationPath: `${cos}/${run}/results/` }],
        OutputMappingConfigs: [{ Scene: 'COS', WorkerNum: 2, WorkerPartSize: 8 }],
        RedirectInfo: { StdoutRedirectPath: `${cos}/${run}/logs/`, StderrRedirectPath: `${cos}/${run}/logs/` },
      }));
      const done = await waitJobDone(c, JobId);
      expect(done.JobState, JSON.stringify(await instance(JobId))).toBe('SUCCEED');
      for (const i of [0, 1]) {
        expect((await fx.get(`${run}/results/joined-${i}.txt`))?.toString()).toBe('alpha\nbeta\n');
        expect((await fx.get(`${run}/results/sub/model-${i}.bin`))?.toString()).toBe('MODEL');
        expect((await fx.get(`${run}/logs/stdout.${JobId}.A.${i}.log`))?.toString()).toMatch(/^ran in \//);
      }
      // nothing of it on the host
      expect(fs.existsSync(`${top}/out/joined-0.txt`)).toBe(false);
      expect(fs.existsSync(`${top}/in/a.txt`)).toBe(false);
    });

    it("gives every task on a compute environment the environment's InputMappings", async (t) => {
      if (skip) return t.skip();
      await fx.put(`${run}/env-in/conf.txt`, 'from the environment');
      const { EnvId } = await c.CreateComputeEnv!({
        Placement: { Zone: 'ap-guangzhou-2' },
        ComputeEnv: {
          EnvName: `data-${run}`, DesiredComputeNodeCount: 1, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' },
          InputMappings: [{ SourcePath: `${cos}/${run}/env-in/`, DestinationPath: `${top}/env/` }],
        },
      });
      const { JobId } = await c.SubmitJob!({
        Placement: { Zone: 'ap-guangzhou-2' },
        Job: { JobName: 'env-data', Tasks: [{
          TaskName: 'A', EnvId, Application: { DeliveryForm: 'LOCAL', Command: `cat ${top}/env/conf.txt` },
          RedirectInfo: { StdoutRedirectPath: `${cos}/${run}/env-logs/` },
        }] },
      });
      expect((await waitJobDone(c, JobId, 120_000)).JobState, JSON.stringify(await instance(JobId))).toBe('SUCCEED');
      expect((await fx.get(`${run}/env-logs/stdout.${JobId}.A.0.log`))?.toString()).toBe('from the environment');
      await c.DeleteComputeEnv!({ EnvId });
    }, 150_000);

    it('keeps mapped paths private to each attempt: its own outputs only, inputs read-only', async (t) => {
      if (skip) return t.skip();
      await fx.put(`${run}/p-in/x.txt`, 'shared input');
      const probe = [
        `echo mine-$BATCH_TASK_INSTANCE_INDEX > ${top}/p-out/own-$BATCH_TASK_INSTANCE_INDEX`,
        'sleep 1',
        `ls ${top}/p-out`,
        `cat ${top}/p-in/x.txt; echo`,
        `if echo x > ${top}/p-in/x.txt 2>/dev/null; then echo INPUT-WRITABLE; else echo input-read-only; fi`,
      ].join('; ');
      const { JobId } = await c.SubmitJob!(job({
        TaskInstanceNum: 2,
        Application: { DeliveryForm: 'LOCAL', Command: probe },
        InputMappings: [{ SourcePath: `${cos}/${run}/p-in/`, DestinationPath: `${top}/p-in` }],
        OutputMappings: [{ SourcePath: `${top}/p-out`, DestinationPath: `${cos}/${run}/p-results/` }],
        RedirectInfo: { StdoutRedirectPath: `${cos}/${run}/p-logs/` },
      }));
      expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
      for (const i of [0, 1]) {
        const out = (await fx.get(`${run}/p-logs/stdout.${JobId}.A.${i}.log`))?.toString() ?? '';
        expect(out).toBe(`own-${i}\nshared input\ninput-read-only\n`);
      }
      expect(await fx.keys(`${run}/p-results/`)).toEqual([`${run}/p-results/own-0`, `${run}/p-results/own-1`]);
      expect(fs.existsSync(`${top}/p-out/own-0`)).toBe(false);
    });

    it('fails an instance whose input is missing, naming the path (and one whose bucket does not exist)', async (t) => {
      if (skip) return t.skip();
      for (const source of [`${cos}/${run}/no-such-dir/`, `${cos}/${run}/no-such-object.bin`, `cos://${fx.missingBucket}.cos.ap-guangzhou.myqcloud.com/x/`]) {
        const { JobId } = await c.SubmitJob!(job({ InputMappings: [{ SourcePath: source, DestinationPath: `${top}/m` }] }));
        expect((await waitJobDone(c, JobId)).JobState).toBe('FAILED');
        const inst = await instance(JobId);
        expect(inst.StateReason).toBe('InputMappingFailed');
        expect(inst.StateDetailedReason).toContain(source.replace(/\/$/, ''));
      }
    });

    it('fails an instance whose package is missing or no .tar.gz, saying so', async (t) => {
      if (skip) return t.skip();
      await fx.put(`${run}/pkg/broken.tgz`, 'not a gzip file');
      for (const [p, says] of [[`${cos}/${run}/pkg/none.tgz`, 'no object'], [`${cos}/${run}/pkg/broken.tgz`, 'could not be unpacked']] as const) {
        const { JobId } = await c.SubmitJob!(job({ Application: { DeliveryForm: 'PACKAGE', PackagePath: p, Command: 'true' } }));
        expect((await waitJobDone(c, JobId)).JobState).toBe('FAILED');
        const inst = await instance(JobId);
        expect(inst.StateReason).toBe('PackageFailed');
        expect(inst.StateDetailedReason).toContain(p);
        expect(inst.StateDetailedReason).toContain(says);
      }
    });

    it('fails an instance whose outputs the store refuses, though its command succeeded', async (t) => {
      if (skip) return t.skip();
      const dest = await fx.refusedPrefix();
      const { JobId } = await c.SubmitJob!(job({
        Application: { DeliveryForm: 'LOCAL', Command: `echo r > ${top}/r-out/r.txt` },
        OutputMappings: [{ SourcePath: `${top}/r-out/`, DestinationPath: dest }],
      }));
      expect((await waitJobDone(c, JobId, 120_000)).JobState).toBe('FAILED');
      const inst = await instance(JobId);
      expect(inst.StateReason).toBe('OutputMappingFailed');
      expect(inst.ExitCode).toBe(0);
      expect(inst.StateDetailedReason).toContain('r.txt');
    }, 150_000);

    it('uploads the outputs of an attempt that ended while the server was down', async (t) => {
      if (skip) return t.skip();
      const flag = path.join(tempDir('openbatch-data-flag-'), 'go');
      fs.chmodSync(path.dirname(flag), 0o777);
      const { JobId } = await c.SubmitJob!(job({
        Application: { DeliveryForm: 'LOCAL', Command: `while [ ! -e ${flag} ]; do sleep 0.05; done; echo after > ${top}/k-out/k.txt` },
        OutputMappings: [{ SourcePath: `${top}/k-out/`, DestinationPath: `${cos}/${run}/k-results/` }],
      }));
      await waitFor(async () => (await instance(JobId))?.TaskInstanceState === 'RUNNING' || undefined, 'the attempt to run');
      await srv.kill9();
      fs.writeFileSync(flag, '');
      await new Promise((r) => setTimeout(r, 500)); // it ends while no server watches
      const s = fx.server(srv.dataDir);
      srv = await startServer({ dataDir: srv.dataDir, ...(s.args ? { args: s.args } : {}), ...(s.env ? { env: s.env } : {}) });
      c = srv.client();
      expect((await waitJobDone(c, JobId)).JobState).toBe('SUCCEED');
      expect((await fx.get(`${run}/k-results/k.txt`))?.toString()).toBe('after\n');
    });

    it('shows STARTING with reason Staging while it stages, not counted against Timeout; TerminateJob ends it there', async (t) => {
      if (skip) return t.skip();
      const { url, release, close } = await heldPackage(tgz({ 'hello.sh': '#!/bin/sh\necho hello from the package\n' }), `${run}/app.tgz`);
      try {
        const app = { DeliveryForm: 'PACKAGE', PackagePath: url, Command: './hello.sh' };
        const { JobId } = await c.SubmitJob!(job({ Application: app, Timeout: 1, RedirectInfo: { StdoutRedirectPath: `${cos}/${run}/s-logs/` } }));
        const stopped = await c.SubmitJob!(job({ Application: app }));
        const staging = await waitFor(async () => {
          const i = await instance(JobId);
          return i?.TaskInstanceState === 'STARTING' && i.StateReason === 'Staging' ? i : undefined;
        }, 'the instance to stage');
        expect(staging.StateDetailedReason).toContain(url);
        await waitFor(async () => (await instance(stopped.JobId))?.StateReason === 'Staging' || undefined, 'the second job to stage');
        await c.TerminateJob!({ JobId: stopped.JobId });
        expect((await waitJobDone(c, stopped.JobId)).JobState).toBe('FAILED');
        await new Promise((r) => setTimeout(r, 1500)); // longer than its Timeout, all of it staging
        release();
        expect((await waitJobDone(c, JobId)).JobState, JSON.stringify(await instance(JobId))).toBe('SUCCEED');
        expect((await fx.get(`${run}/s-logs/stdout.${JobId}.A.0.log`))?.toString()).toBe('hello from the package\n');
      } finally {
        release();
        close();
      }
    });

    it('stages again after a kill -9 of the server in the middle of staging, without using a retry', async (t) => {
      if (skip) return t.skip();
      const { url, release, close } = await heldPackage(tgz({ 'go.sh': '#!/bin/sh\necho staged again\n' }), `${run}/k.tgz`);
      try {
        const { JobId } = await c.SubmitJob!(job({ Application: { DeliveryForm: 'PACKAGE', PackagePath: url, Command: './go.sh' }, MaxRetryCount: 0 }));
        await waitFor(async () => (await instance(JobId))?.StateReason === 'Staging' || undefined, 'the instance to stage');
        await srv.kill9();
        const s = fx.server(srv.dataDir);
        srv = await startServer({ dataDir: srv.dataDir, ...(s.args ? { args: s.args } : {}), ...(s.env ? { env: s.env } : {}) });
        c = srv.client();
        release();
        expect((await waitJobDone(c, JobId)).JobState, JSON.stringify(await instance(JobId))).toBe('SUCCEED');
      } finally {
        release();
        close();
      }
    });

    it('refuses bad mappings and packages at submission with the Tencent codes', async (t) => {
      if (skip) return t.skip();
      const cases: [Record<string, unknown>, string][] = [
        [{ InputMappings: [{ SourcePath: `${cos}/x/`, DestinationPath: 'relative/dir' }] }, 'InvalidParameterValue.LocalPath'],
        [{ InputMappings: [{ SourcePath: `${cos}/x/`, DestinationPath: '/data/../etc' }] }, 'InvalidParameterValue.LocalPath'],
        [{ InputMappings: [{ SourcePath: `${cos}/x/`, DestinationPath: '/proc/x' }] }, 'InvalidParameterValue.LocalPath'],
        [{ InputMappings: [{ SourcePath: 's3://bucket/x/', DestinationPath: '/data/x' }] }, 'InvalidParameterValue.RemoteStorageSchemeType'],
        [{ InputMappings: [{ SourcePath: `${cos}/x/../y/`, DestinationPath: '/data/x' }] }, 'InvalidParameterValue.RemoteStoragePath'],
        [{ OutputMappings: [{ SourcePath: '/data/o', DestinationPath: `${cos}/%2e%2e/o/` }] }, 'InvalidParameterValue.RemoteStoragePath'],
        [{ InputMappings: [{ SourcePath: `${cos}/x/`, DestinationPath: '/data/x' }], OutputMappings: [{ SourcePath: '/data/x/o', DestinationPath: `${cos}/o/` }] }, 'InvalidParameterValue.LocalPath'],
        [{ OutputMappingConfigs: [{ Scene: 'COS', WorkerNum: 0, WorkerPartSize: 8 }] }, 'InvalidParameterValue'],
        [{ Application: { DeliveryForm: 'PACKAGE', PackagePath: `${cos}/app.zip`, Command: 'x' } }, 'InvalidParameterValue.RemoteStoragePath'],
        [{ Application: { DeliveryForm: 'PACKAGE', Command: 'x' } }, 'MissingParameter'],
        [{ Application: { DeliveryForm: 'PACKAGE', PackagePath: `${cos}/app.tgz`, Command: 'x', Docker: { Image: 'busybox' } } }, 'UnsupportedOperation'],
      ];
      for (const [over, code] of cases) {
        const e = await errorOf(c.SubmitJob!(job(over)));
        expect(e.code, JSON.stringify(over)).toBe(code);
      }
    });
  });
}
