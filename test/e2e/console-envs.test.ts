// The console's compute environment, template and timeline pages in a real browser (Chromium at
// /usr/bin/chromium driven by playwright-core) against a real server: an environment of 2 nodes, each
// running one instance of a job's task C, shown on the env page with what each node runs (found with
// signed calls only), its activities paged and filtered to one node, its metrics; the templates list
// with TaskTemplateInfo as JSON; the job page's timeline (a bar per task, and per instance of the
// selected task, with the node it ran on). With CONSOLE_SCREENSHOTS=1 it also writes each page as a PNG
// to docs/console/ (1280×800); the page checks run either way. Skipped, saying why, without
// playwright-core or Chromium.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SECRET_ID, SECRET_KEY, simpleJob, startServer, waitFor, type BatchClient, type TestServer } from '../helpers/server.ts';
import { chromiumOrWhy, launchChromium, type Any } from '../helpers/browser.ts';

const SHOTS = process.env.CONSOLE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/console') : '';
const { chromium, why } = await chromiumOrWhy();
if (why) console.warn(`test/e2e/console-envs.test.ts is skipped: ${why}`);

describe.skipIf(why !== '')('the console: environments, templates, timeline', () => {
  let srv: TestServer;
  let c: BatchClient;
  let browser: Any;
  let page: Any;
  let envId: string;
  let jobId: string;
  let templateId: string;
  let nodes: { ComputeNodeId: string; ComputeNodeInstanceId: string }[];

  /** With CONSOLE_SCREENSHOTS=1: the page as docs/console/<name>.png. */
  async function shot(name: string): Promise<void> {
    if (!SHOTS) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  }

  beforeAll(async () => {
    srv = await startServer({ slots: 4 });
    c = srv.client();
    envId = (await c.CreateComputeEnv!({
      ComputeEnv: { EnvName: 'render-pool', EnvType: 'MANAGED', DesiredComputeNodeCount: 2, EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' }, Tags: [{ Key: 'team', Value: 'vfx' }] },
      Placement: { Zone: 'ap-guangzhou-3' },
    })).EnvId;
    await waitFor(async () => (await c.DescribeComputeEnv!({ EnvId: envId })).ComputeNodeMetrics.RunningCount === 2, 'the 2 nodes to run');
    templateId = (await c.CreateTaskTemplate!({
      TaskTemplateName: 'render-frames', TaskTemplateDescription: 'renders one frame per instance',
      TaskTemplateInfo: simpleJob('render --frame $BATCH_TASK_INSTANCE_INDEX', { TaskName: 'render', TaskInstanceNum: 4 }).Job.Tasks[0],
    })).TaskTemplateId;
    // A: three instances, index 1 fails; B after A (never starts); C: two instances running on the env's nodes
    const job = simpleJob('sleep $((BATCH_TASK_INSTANCE_INDEX + 1)); if [ "$BATCH_TASK_INSTANCE_INDEX" = 1 ]; then echo "oops from instance 1" >&2; exit 3; fi; echo "frame $BATCH_TASK_INSTANCE_INDEX done"',
      { TaskName: 'A', TaskInstanceNum: 3 }, { JobName: 'console-mixed' });
    const a = job.Job.Tasks[0]!;
    const b = { ...a, TaskName: 'B', TaskInstanceNum: 2, Application: { DeliveryForm: 'LOCAL', Command: 'echo never' } };
    const cTask = { ...a, TaskName: 'C', TaskInstanceNum: 2, ComputeEnv: undefined, EnvId: envId, Application: { DeliveryForm: 'LOCAL', Command: 'echo working; sleep 300' } };
    jobId = (await c.SubmitJob!({ ...job, Job: { ...job.Job, Tasks: [a, b, cTask], Dependences: [{ StartTask: 'A', EndTask: 'B' }] } })).JobId;
    await waitFor(async () => {
      const [ta, tc] = await Promise.all(['A', 'C'].map((TaskName) => c.DescribeTask!({ JobId: jobId, TaskName, Limit: 0 })));
      return ta.TaskState === 'FAILED' && tc.TaskInstanceMetrics.RunningCount === 2;
    }, 'task A to fail and the 2 instances of C to run');
    nodes = (await c.DescribeComputeEnv!({ EnvId: envId })).ComputeNodeSet;
    browser = await launchChromium(chromium);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (jobId) await c?.TerminateJob!({ JobId: jobId }).catch(() => undefined);
    await srv?.stop();
  });

  it('signs in and lists the environment with its node counts', async () => {
    await page.goto(`${srv.url}/console/`);
    await page.waitForSelector('#secret-id');
    await shot('signin');
    await page.fill('#secret-id', SECRET_ID);
    await page.fill('#secret-key', SECRET_KEY);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector(`tr[data-job="${jobId}"]`);
    await shot('jobs');
    await page.click('#nav a[href="#/envs"]');
    await page.waitForSelector(`tr[data-env="${envId}"]`);
    const row = await page.textContent(`tr[data-env="${envId}"]`);
    expect(row).toContain('render-pool');
    expect(row).toContain('MANAGED');
    expect(row).toContain('ap-guangzhou-3');
    expect(await page.textContent(`tr[data-env="${envId}"] [data-metric="RunningCount"]`)).toContain('2');
    expect(await page.textContent('#envs-pager')).toContain('page 1 of 1');
    await shot('envs');
    // the name filter is the API's env-name Filter
    await page.fill('#f-env-name', 'no-such-env');
    await page.click('form.filters button[type=submit]');
    await page.waitForSelector('#no-envs');
    expect(await page.evaluate('location.hash')).toBe('#/envs?name=no-such-env');
  });

  it('shows the env page: metrics, both nodes with what each runs, activities paged and filtered by node', async () => {
    await page.goto(`${srv.url}/console/#/envs/${envId}`);
    await page.waitForSelector('#nodes-table');
    expect(await page.textContent('#env-capacity')).toContain('2 node(s) · 2 vCPU · 2 GiB');
    expect(await page.textContent('#env-metrics [data-metric="RunningCount"]')).toContain('2');
    for (const n of nodes) {
      const tr = `#nodes-table tr[data-node="${n.ComputeNodeId}"]`;
      expect(await page.textContent(tr)).toContain(n.ComputeNodeInstanceId);
      await page.waitForSelector(`${tr} .node-runs a`);
      expect(await page.textContent(`${tr} .node-runs`)).toMatch(/console-mixed · C\[[01]\] RUNNING/);
    }
    // the two instances of C, one on each node
    const runs = await page.$$eval('#nodes-table .node-runs a', (as: Any[]) => as.map((a) => a.getAttribute('href')).sort());
    expect(runs).toEqual([`#/jobs/${jobId}?task=C&instance=0`, `#/jobs/${jobId}?task=C&instance=1`]);
    expect(await page.textContent('#runs-note')).toContain('1 task(s) on this environment');
    await page.waitForSelector('#activities-table');
    expect(await page.$$eval('#activities-table tr[data-activity]', (r: Any[]) => r.length)).toBe(2);
    expect(await page.textContent('#activities-table')).toContain('CreateComputeEnv: the capacity is 2');
    await shot('env');
    const one = nodes[0]!.ComputeNodeId;
    await page.click(`#nodes-table tr[data-node="${one}"] .node-acts`);
    await page.waitForSelector('#all-activities');
    expect(await page.$$eval('#activities-table tr[data-activity]', (r: Any[]) => r.length)).toBe(1);
    expect(await page.textContent('#activities-table tr[data-activity]')).toContain(one);
    expect(await page.evaluate('location.hash')).toBe(`#/envs/${envId}?node=${one}`);
    await page.click('#all-activities');
    await page.waitForFunction(() => document.querySelectorAll('#activities-table tr[data-activity]').length === 2);
    // a link of a node goes to that instance of the job
    await page.click(`#nodes-table tr[data-node="${one}"] .node-runs a`);
    await page.waitForSelector('#drawer:not([hidden]) #attempts tr[data-attempt="1"]');
    expect(await page.textContent('#drawer-title')).toContain('C · instance');
    await page.keyboard.press('Escape');
  });

  it('an unknown environment shows the API error', async () => {
    await page.goto(`${srv.url}/console/#/envs/env-00000000`);
    await page.waitForSelector('.env .error');
    expect(await page.textContent('.env .error')).toContain('ResourceNotFound.ComputeEnv');
  });

  it('lists the templates with their TaskTemplateInfo as JSON', async () => {
    await page.click('#nav a[href="#/templates"]');
    await page.waitForSelector(`li[data-template="${templateId}"]`);
    const card = await page.textContent(`li[data-template="${templateId}"]`);
    expect(card).toContain('render-frames');
    expect(card).toContain('renders one frame per instance');
    const info = JSON.parse(await page.textContent(`li[data-template="${templateId}"] pre.json`));
    expect(info).toMatchObject({ TaskName: 'render', TaskInstanceNum: 4, Application: { Command: 'render --frame $BATCH_TASK_INSTANCE_INDEX' } });
    expect(await page.textContent('#templates-pager')).toContain('1 template(s)');
    await shot('templates');
  });

  it('the submit page starts from the template: the editor holds a job built from its TaskTemplateInfo', async () => {
    await page.click('#nav a[href="#/submit"]');
    await page.waitForSelector(`#submit-template option[value="${templateId}"]`, { state: 'attached' });
    await page.selectOption('#submit-template', templateId);
    await expect.poll(async () => page.inputValue('#submit-editor'), { timeout: 10_000 }).toContain('render --frame');
    await shot('submit');
  });

  it('the job page: DAG, grid and timeline, a bar per task and per instance with its node; the drawer with a log', async () => {
    await page.goto(`${srv.url}/console/#/jobs/${jobId}?task=A`);
    await page.waitForSelector('#grid-canvas[data-total="3"]');
    await page.waitForSelector('#dag g.node[data-task="A"]:has-text("2/3 ok · 1 failed")');
    await page.waitForSelector('#tl-tasks .tl-row[data-task="A"] .tl-bar[data-state="FAILED"]');
    await page.waitForSelector('#tl-tasks .tl-row[data-task="C"] .tl-bar[data-state="RUNNING"]');
    expect(await page.$$eval('#tl-tasks .tl-row[data-task]', (r: Any[]) => r.map((x) => x.dataset.task))).toEqual(['A', 'B', 'C']);
    expect(await page.getAttribute('#tl-tasks .tl-row[data-task="C"] .tl-bar', 'title')).toContain('not ended');
    await page.waitForSelector('#tl-canvas[data-bars="3"]');
    await page.hover('#tl-canvas', { position: { x: 20, y: 18 } });
    await page.waitForSelector('#tl-info:has-text("on node ins-")');
    const failed = await page.textContent('#tl-info');
    expect(failed).toMatch(/^instance 1: FAILED on node ins-[a-z0-9]{8} · launched .* · ended .* · exit code 3$/);
    expect(await page.getAttribute('#tl-canvas', 'title')).toBe(failed);
    if (SHOTS) {
      fs.mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, 'job.png'), fullPage: true });
    }
    // C's instances ran on the env's nodes, and say so
    await page.click('#tl-tasks .tl-row[data-task="C"] a');
    await page.waitForSelector('#tl-canvas[data-bars="2"]');
    await page.focus('#tl-canvas');
    await page.keyboard.press('ArrowDown');
    const running = await page.textContent('#tl-info');
    expect(running).toMatch(/^instance 0: RUNNING on node ins-[a-z0-9]{8} · launched .* · still running$/);
    expect(nodes.map((n) => n.ComputeNodeInstanceId)).toContain(/on node (ins-[a-z0-9]{8})/.exec(running)![1]);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#drawer:not([hidden]) #attempts tr[data-attempt="1"]');
    expect(await page.textContent('#drawer-title')).toContain('C · instance 0');
    await page.keyboard.press('Escape');
    // the failed instance's stderr in the drawer
    await page.goto(`${srv.url}/console/#/jobs/${jobId}?task=A&instance=1&attempt=1&stream=STDERR`);
    await page.waitForSelector('#log-info:has-text("the whole log")');
    expect(await page.textContent('#log')).toBe('oops from instance 1\n');
    await shot('drawer');
    await page.keyboard.press('Escape');
  });

  it('the env page follows its nodes live: a node being deleted shows without a reload', async () => {
    await page.goto(`${srv.url}/console/#/envs/${envId}`);
    await page.waitForSelector('#nodes-table');
    await page.evaluate('window.__notReloaded = true');
    // both nodes run an instance of C: scaling in marks one DELETING (it finishes its instance first)
    await c.ModifyComputeEnv!({ EnvId: envId, DesiredComputeNodeCount: 1 });
    await page.waitForSelector('#nodes-table tr[data-node]:has-text("DELETING")', { timeout: 15_000 });
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    expect(await page.textContent('#activities-table')).toContain('ModifyComputeEnv: decrease the capacity from 2 to 1');
  });
});
