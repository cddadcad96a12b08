// objects: the object store under load, on the real S3 server of scripts/s3-up.sh (Ceph RGW).
// (a) N instances each printing 64 KiB with RedirectInfo (stdout and stderr) to a bucket, SubmitJob to
//     SUCCEED, against 2N PutObjects of the same sizes (64 KiB and empty) by the S3 SDK at the same
//     concurrency, interleaved in the same run.
// (b) M instances on this host mapping the same input (100 MiB in 10 objects): the bytes the server
//     fetched from the store, counted by a TCP relay between it and RGW, against the input's size;
//     and the time to SUCCEED against one download of the input by the S3 SDK, same run.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { admin, bucketName, createBucket, removeBucket, rgwProblem, S3_ACCESS_KEY, S3_ENDPOINT, S3_REGION, S3_SECRET_KEY } from '../../test/s3/support.ts';
import { benchServer, sleep, stats, tempDir, waitJob, type Benchmark, type Figure } from '../lib.ts';

const KIB64 = 64 * 1024;
const CONCURRENCY = 8;
const INPUT_OBJECTS = 10;

/** A relay to RGW that counts the bytes RGW sent through it. */
async function countingRelay(target: URL): Promise<{ endpoint: string; received: () => number; close: () => void }> {
  let received = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    upstream.on('data', (d: Buffer) => {
      received += d.length;
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { endpoint: `http://127.0.0.1:${port}`, received: () => received, close: () => server.close() };
}

function configFile(endpoint: string): string {
  const f = path.join(tempDir('openbatch-bench-objects-cfg-'), 'config.json');
  const objectStore = { type: 's3', endpoint, region: S3_REGION, forcePathStyle: true, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY };
  fs.writeFileSync(f, JSON.stringify({ objectStore }), { mode: 0o600 });
  return f;
}

async function putsBaseline(bucket: string, n: number): Promise<number> {
  const body = Buffer.alloc(KIB64, 'x');
  const t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < 2 * n) {
      const i = next++;
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `baseline/${i}`, Body: i % 2 === 0 ? body : Buffer.alloc(0) }));
    }
  }));
  return Date.now() - t0;
}

async function downloadOnce(bucket: string, dir: string): Promise<number> {
  const t0 = Date.now();
  await Promise.all(Array.from({ length: INPUT_OBJECTS }, async (_, i) => {
    const r = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: `input/part-${i}` }));
    await fs.promises.writeFile(path.join(dir, `part-${i}`), await r.Body!.transformToByteArray());
  }));
  return Date.now() - t0;
}

export const objects: Benchmark = {
  name: 'objects',
  description: 'RedirectInfo of 1,000 × 64 KiB to RGW vs 2,000 PutObjects (target ≤ 1.2); 200 instances mapping one 100 MiB input: bytes fetched vs its size, time vs one download',
  async run(scale) {
    const why = await rgwProblem();
    if (why) {
      console.log(`  skipped: ${why}`);
      return [];
    }
    const n = scale.name === 'full' ? 1000 : 100;
    const m = scale.name === 'full' ? 200 : 20;
    const inputBytes = (scale.name === 'full' ? 100 : 10) * 2 ** 20;
    const bucket = await createBucket(`${bucketName('bench')}-1250000000`);
    const cos = `cos://${bucket}.cos.ap-guangzhou.myqcloud.com`;
    const relay = await countingRelay(new URL(S3_ENDPOINT));
    const srv = await benchServer({ slots: CONCURRENCY, args: ['--config', configFile(relay.endpoint)] });
    const ours: number[] = [];
    const bare: number[] = [];
    const base: number[] = [];
    const staged: number[] = [];
    const once: number[] = [];
    const fetched: number[] = [];
    try {
      const c = srv.client();
      const task = (over: Record<string, unknown>, num: number) => ({
        Placement: { Zone: 'ap-guangzhou-2' },
        Job: { JobName: 'bench', Tasks: [{ TaskName: 'A', TaskInstanceNum: num, ComputeEnv: { EnvData: { InstanceType: 'S1.SMALL1' } }, ...over }] },
      });
      // (a) logs
      for (let r = 0; r < scale.runs; r++) {
        base.push(await putsBaseline(bucket, n));
        // the same job without its logs shipped: what the processes alone take here
        const b0 = Date.now();
        const plain = await c.SubmitJob!(task({ Application: { DeliveryForm: 'LOCAL', Command: `head -c ${KIB64} /dev/zero` } }, n));
        if ((await waitJob(c, plain.JobId, 50)).JobState !== 'SUCCEED') throw new Error(`the benchmark job ${plain.JobId} failed`);
        bare.push(Date.now() - b0);
        const t0 = Date.now();
        const { JobId } = await c.SubmitJob!(task({
          Application: { DeliveryForm: 'LOCAL', Command: `head -c ${KIB64} /dev/zero` },
          RedirectInfo: { StdoutRedirectPath: `${cos}/logs-${r}/`, StderrRedirectPath: `${cos}/logs-${r}/` },
        }, n));
        const j = await waitJob(c, JobId, 50);
        if (j.JobState !== 'SUCCEED') throw new Error(`the benchmark job ${JobId} ended ${j.JobState}`);
        ours.push(Date.now() - t0);
      }
      // (b) one input for many instances
      const part = Math.ceil(inputBytes / INPUT_OBJECTS);
      for (let i = 0; i < INPUT_OBJECTS; i++) {
        await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `input/part-${i}`, Body: randomBytes(part) }));
      }
      for (let r = 0; r < scale.runs; r++) {
        const dir = tempDir('openbatch-bench-objects-dl-');
        once.push(await downloadOnce(bucket, dir));
        fs.rmSync(dir, { recursive: true, force: true });
        // a fresh server each run: its cache starts empty
        const s2 = await benchServer({ slots: CONCURRENCY, args: ['--config', configFile(relay.endpoint)] });
        try {
          const before = relay.received();
          const t0 = Date.now();
          const { JobId } = await s2.client().SubmitJob!(task({
            Application: { DeliveryForm: 'LOCAL', Command: 'test -s /bench/input/part-0' },
            InputMappings: [{ SourcePath: `${cos}/input/`, DestinationPath: '/bench/input/' }],
          }, m));
          const j = await waitJob(s2.client(), JobId, 50);
          if (j.JobState !== 'SUCCEED') throw new Error(`the benchmark job ${JobId} ended ${j.JobState}`);
          staged.push(Date.now() - t0);
          fetched.push(relay.received() - before);
        } finally {
          await s2.stop();
        }
        await sleep(100);
      }
    } finally {
      await srv.stop();
      relay.close();
      await removeBucket(bucket).catch(() => {});
    }
    const o = stats(ours), b = stats(base), pl = stats(bare), st = stats(staged), on = stats(once), f = stats(fetched.map((x) => x / 2 ** 20));
    const figures: Figure[] = [
      {
        benchmark: 'objects', metric: `${n} instances × 64 KiB stdout, RedirectInfo to RGW, SubmitJob → SUCCEED (C=${CONCURRENCY})`, unit: 'ms', ...o,
        baseline: { what: `${2 * n} PutObjects (64 KiB and empty) by the S3 SDK, ${CONCURRENCY} at once`, ...b }, ratio: o.median / b.median, target: '≤ 1.2',
      },
      {
        benchmark: 'objects', metric: `the same ${n} instances without RedirectInfo (the processes alone)`, unit: 'ms', ...pl,
        note: 'ours less this is what shipping the logs added',
      },
      {
        benchmark: 'objects', metric: `bytes fetched from RGW for ${m} instances mapping one ${inputBytes / 2 ** 20} MiB input`, unit: 'MiB', ...f,
        note: `the input is ${(inputBytes / 2 ** 20).toFixed(0)} MiB (responses' headers and the listing included)`,
      },
      {
        benchmark: 'objects', metric: `${m} instances mapping the ${inputBytes / 2 ** 20} MiB input, SubmitJob → SUCCEED`, unit: 'ms', ...st,
        baseline: { what: 'one download of the input by the S3 SDK', ...on }, ratio: st.median / on.median,
      },
    ];
    return figures;
  },
};
