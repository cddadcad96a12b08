// console: the web console in Chromium (/usr/bin/chromium driven by playwright-core) against a real
// server holding a job whose task has N (1,000,000; --small 100,000) instances waiting behind a
// sleeping task. Measures (a) the first load: the bytes of index.html, app.js and app.css as
// transferred (gzipped when the browser takes it, as Chromium does) and the time from the navigation's start until the
// sign-in form is in the document (the page's own clock: a MutationObserver installed first), in a fresh
// browser context each run (no cache), once on a fresh server (whose first request bundles the console
// with esbuild) and then warm; (b) from setting the task page's hash until the instance grid has drawn
// its first page (the canvas' data-first-draw-at, set by grid.ts) and until the view is drawn with all
// the pages it may load (data-settled-at: 20 pages of 1,000). Skipped, saying why, without
// playwright-core or Chromium.
import { benchServer, sleep, stats, type Benchmark, type Figure } from '../lib.ts';
import { SECRET_ID, SECRET_KEY } from '../../test/helpers/spawn-server.ts';
import { chromiumOrWhy, launchChromium, type Any } from '../../test/helpers/browser.ts';

const FILES = ['index.html', 'app.js', 'app.css'];

/** The console file a response is ("/console/" is index.html), or undefined. */
function fileOf(url: string): string | undefined {
  const p = new URL(url).pathname;
  if (p === '/console/' || p === '/console/index.html') return 'index.html';
  return FILES.find((f) => p === `/console/${f}`);
}

export const consoleBench: Benchmark = {
  name: 'console',
  description: 'the web console in Chromium: first-load bytes and time to the sign-in form; time until the grid of a 1,000,000-instance task is drawn',
  async run(s) {
    const { chromium, why } = await chromiumOrWhy();
    if (why) {
      console.log(`  skipped: ${why}`);
      return [];
    }
    const n = s.name === 'full' ? 1_000_000 : 100_000;
    const srv = await benchServer({ slots: 4 });
    let browser: Any;
    let jobId = '';
    const c = srv.client();
    try {
      const task = (TaskName: string, num: number, Command: string) => ({
        TaskName, TaskInstanceNum: num, Application: { DeliveryForm: 'LOCAL', Command }, ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } },
      });
      jobId = (await c.SubmitJob!({
        Placement: { Zone: 'ap-guangzhou-2' },
        Job: { JobName: 'console-bench', Tasks: [task('prep', 1, 'sleep 3600'), task('fanout', n, 'true')], Dependences: [{ StartTask: 'prep', EndTask: 'fanout' }] },
      })).JobId;
      for (let i = 0; (await c.DescribeJob!({ JobId: jobId })).JobState !== 'RUNNING'; i++) {
        if (i > 600) throw new Error('the job did not start running within 60 s');
        await sleep(100);
      }
      browser = await launchChromium(chromium);

      /** One fresh context: the first load, then sign-in, then the task page. */
      const once = async () => {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await ctx.newPage();
        const responses: Any[] = [];
        page.on('response', (r: Any) => { if (fileOf(r.url())) responses.push(r); });
        // the moment the form is in the document, in the page's own clock (from its navigation start)
        await page.addInitScript(() => {
          new MutationObserver((_, obs) => {
            if (document.getElementById('secret-id')) {
              (window as unknown as { formAt: number }).formAt = performance.now();
              obs.disconnect();
            }
          }).observe(document, { childList: true, subtree: true });
        });
        await page.goto(`${srv.url}/console/`);
        await page.waitForSelector('#secret-id', { state: 'visible' });
        const signInMs = (await page.evaluate('window.formAt')) as number;
        await page.waitForLoadState('load');
        const bytes: Record<string, number> = {};
        for (const r of responses) {
          const sz = await r.request().sizes();
          bytes[fileOf(r.url())!] = sz.responseBodySize + sz.responseHeadersSize;
        }
        await page.fill('#secret-id', SECRET_ID);
        await page.fill('#secret-key', SECRET_KEY);
        await page.click('form.signin button[type=submit]');
        await page.waitForSelector('#jobs-title');
        const t = await page.evaluate(async (hash: string) => {
          const start = performance.now();
          location.hash = hash;
          for (;;) {
            const cv = document.getElementById('grid-canvas');
            if (cv?.dataset.settledAt && cv.dataset.firstDrawAt) {
              return { first: Number(cv.dataset.firstDrawAt) - start, settled: Number(cv.dataset.settledAt) - start, pages: Number(cv.dataset.loadedPages), total: Number(cv.dataset.total) };
            }
            await new Promise((r) => setTimeout(r, 5));
          }
        }, `#/jobs/${jobId}?task=fanout`);
        if (t.total !== n) throw new Error(`the grid shows ${t.total} instances, not ${n}`);
        await ctx.close();
        return { signInMs, bytes, ...t };
      };

      const cold = await once();
      const warm = [];
      for (let i = 0; i < s.runs; i++) warm.push(await once());
      const total = (b: Record<string, number>) => FILES.reduce((x, f) => x + (b[f] ?? 0), 0);
      const fig = (metric: string, unit: string, xs: number[], extra: Partial<Figure> = {}): Figure => ({ benchmark: 'console', metric, unit, ...stats(xs), ...extra });
      const b = warm[0]!.bytes;
      return [
        fig('first load: index.html + app.js + app.css as transferred', 'KB', warm.map((w) => total(w.bytes) / 1024),
          { note: FILES.map((f) => `${f} ${((b[f] ?? 0) / 1024).toFixed(1)} KB`).join(', ') + ' (bodies and headers, as transferred)' }),
        fig('time to the sign-in form, fresh server (bundles the console on this first request)', 'ms', [cold.signInMs]),
        fig('time to the sign-in form, warm server, no browser cache', 'ms', warm.map((w) => w.signInMs)),
        fig(`task page of ${n.toLocaleString('en')} instances: until the grid's first draw`, 'ms', warm.map((w) => w.first)),
        fig(`task page of ${n.toLocaleString('en')} instances: until the view is drawn with its ${warm[0]!.pages} pages`, 'ms', warm.map((w) => w.settled),
          { note: `DescribeTask Limit 1000, one page at a time; cold run ${cold.settled.toFixed(0)} ms` }),
      ];
    } finally {
      await browser?.close().catch(() => undefined);
      if (jobId) await c.TerminateJob!({ JobId: jobId }).catch(() => undefined);
      await srv.stop();
    }
  },
};
