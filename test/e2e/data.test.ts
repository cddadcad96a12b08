// InputMappings, OutputMappings, PACKAGE and RedirectInfo end to end on the embedded object store:
// objects of bucket B, key K are the files <data-dir>/objects/B/K, where a user of the embedded store
// puts them (docs/objects.md); the refused destination is a key under an existing object (the
// embedded store cannot hold both `a` and `a/b`).
import fs from 'node:fs';
import path from 'node:path';
import { dataSuite, type DataStoreFixture } from '../support/data-suite.ts';

dataSuite('embedded store', async () => {
  const bucket = 'data-1250000000';
  let root = '';
  const file = (key: string) => path.join(root, bucket, ...key.split('/'));
  const put = async (key: string, body: Buffer | string) => {
    fs.mkdirSync(path.dirname(file(key)), { recursive: true });
    fs.writeFileSync(file(key), body);
  };
  const fx: DataStoreFixture = {
    bucket,
    missingBucket: 'nothing-here-1250000000',
    server(dataDir) {
      root = path.join(dataDir, 'objects');
      return {};
    },
    put,
    async get(key) {
      try {
        return fs.readFileSync(file(key));
      } catch {
        return undefined;
      }
    },
    async keys(prefix) {
      const out: string[] = [];
      const walk = (dir: string, rel: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walk(path.join(dir, e.name), r);
          else out.push(r);
        }
      };
      if (fs.existsSync(path.join(root, bucket))) walk(path.join(root, bucket), '');
      return out.filter((k) => k.startsWith(prefix)).sort();
    },
    async refusedPrefix() {
      await put('refused/blocker', 'an object where the outputs would need a directory');
      return `cos://${bucket}.cos.ap-guangzhou.myqcloud.com/refused/blocker/`;
    },
    async cleanup() {},
  };
  return fx;
});
