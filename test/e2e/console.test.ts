// The web console (/console/) in a real browser: Chromium (/usr/bin/chromium, Debian package chromium,
// scripts/chromium-up.sh) driven by playwright-core against a real server. Signs in (a wrong key first:
// the API's AuthFailure shows as it comes), finds a running job on the Active tab and a finished one on
// the Finished tab, opens the finished job's DAG (a task that never started is drawn too), filters its
// grid to the FAILED instance, opens it from the canvas and reads attempt 1's stderr in the drawer.
// Then acts and watches it change live (no reload: a marker set on the window survives): retries a
// failed job and sees it SUCCEED, terminates a running one and sees it FAILED, tails a running
// attempt's log, deletes a finished job; submits jobs from the editor (YAML; an API refusal first)
// and from a task template.
// Without playwright-core or Chromium the file is skipped, saying why.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_ID, SECRET_KEY, simpleJob, startServer, waitFor, waitJobDone, type BatchClient, type TestServer } from '../helpers/server.ts';
import { chromiumOrWhy, launchChromium, type Any } from '../helpers/browser.ts';

const { chromium, why } = await chromiumOrWhy();
if (why) console.warn(`test/e2e/console.test.ts is skipped: ${why}`);

describe.skipIf(why !== '')('the console in Chromium', () => {
  let srv: TestServer;
  let c: BatchClient;
  let browser: Any;
  let page: Any;
  let finished: string;
  let running: string;
  let big: string;

  beforeAll(async () => {
    srv = await startServer({ slots: 4 });
    c = srv.client();
    // A: three instances, index 1 fails with a line on stderr; B depends on A and so never starts
    const job = simpleJob('if [ "$BATCH_TASK_INSTANCE_INDEX" = 1 ]; then echo "oops from instance 1" >&2; exit 3; fi; echo fine',
      { TaskName: 'A', TaskInstanceNum: 3 }, { JobName: 'console-dag' });
    const b = { ...job.Job.Tasks[0]!, TaskName: 'B', TaskInstanceNum: 2, Application: { DeliveryForm: 'LOCAL', Command: 'echo never' } };
    finished = (await c.SubmitJob!({ ...job, Job: { ...job.Job, Tasks: [...job.Job.Tasks, b], Dependences: [{ StartTask: 'A', EndTask: 'B' }] } })).JobId;
    running = (await c.SubmitJob!(simpleJob('sleep 120', {}, { JobName: 'console-running' }))).JobId;
    // a million instances waiting behind a task that sleeps: the grid must page, never read them all
    const prep = simpleJob('sleep 120', { TaskName: 'prep' }, { JobName: 'console-big' });
    const fan = { ...prep.Job.Tasks[0]!, TaskName: 'fanout', TaskInstanceNum: 1_000_000, Application: { DeliveryForm: 'LOCAL', Command: 'true' } };
    big = (await c.SubmitJob!({ ...prep, Job: { ...prep.Job, Tasks: [...prep.Job.Tasks, fan], Dependences: [{ StartTask: 'prep', EndTask: 'fanout' }] } })).JobId;
    await waitJobDone(c, finished);
    for (const j of [running, big]) await waitFor(async () => (await c.DescribeJob!({ JobId: j })).JobState === 'RUNNING', 'the sleeping jobs to run');
    browser = await launchChromium(chromium);
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    for (const j of [running, big]) if (j) await c?.TerminateJob!({ JobId: j }).catch(() => undefined);
    await srv?.stop();
  });

  it('signs in: a wrong key shows the API error, the right one shows the jobs', async () => {
    await page.goto(`${srv.url}/console/`);
    await page.fill('#secret-id', SECRET_ID);
    await page.fill('#secret-key', 'not-the-key');
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('#signin-error:has-text("AuthFailure.SignatureFailure")');
    expect(await page.textContent('#signin-error')).toMatch(/RequestId/);
    await page.fill('#secret-key', SECRET_KEY);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('#jobs-title');
    expect(await page.evaluate('location.hash')).toBe('#/jobs');
    expect(await page.evaluate("JSON.parse(sessionStorage.getItem('openbatch.console.credentials')).secretId")).toBe(SECRET_ID);
  });

  it('lists the running job as active and the finished one as finished, with counts per state', async () => {
    await page.waitForSelector(`tr[data-job="${running}"]`);
    expect(await page.$(`tr[data-job="${finished}"]`)).toBeNull();
    await page.waitForSelector('.counts button[data-state="RUNNING"]:has-text("2")');
    await page.click('#tab-finished');
    await page.waitForSelector(`tr[data-job="${finished}"]`);
    expect(await page.textContent(`tr[data-job="${finished}"]`)).toContain('FAILED');
    expect(await page.$(`tr[data-job="${running}"]`)).toBeNull();
    await page.waitForSelector('.counts button[data-state="FAILED"]:has-text("1")');
    // the name filter goes to the server (job-name): nothing matches another name
    await page.fill('#f-name', 'no-such-name');
    await page.click('form.filters button[type=submit]');
    await page.waitForSelector('#no-jobs');
    expect(await page.evaluate('location.hash')).toContain('name=no-such-name');
    await page.fill('#f-name', 'console-dag');
    await page.click('form.filters button[type=submit]');
    await page.waitForSelector(`tr[data-job="${finished}"]`);
  });

  it('opens the DAG of the finished job, the task that never started included', async () => {
    await page.click(`tr[data-job="${finished}"] a`);
    await page.waitForSelector('#dag g.node[data-task="A"][data-state="FAILED"]');
    await page.waitForSelector('#dag g.node[data-task="B"]');
    expect(await page.$$eval('#dag path.edge', (els: unknown[]) => els.length)).toBe(1);
    await page.waitForSelector('#dag g.node[data-task="A"]:has-text("2/3 ok · 1 failed")');
    expect(await page.evaluate('location.hash')).toBe(`#/jobs/${finished}`);
  });

  it('opens the failed instance from the grid and reads attempt 1\'s stderr', async () => {
    await page.focus('#dag g.node[data-task="A"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#grid-canvas[data-total="3"]');
    await page.click('#task-counts button[data-state="FAILED"]');
    await page.waitForSelector('#grid-canvas[data-total="1"]');
    await page.click('#grid-canvas', { position: { x: 5, y: 5 } });
    await page.waitForSelector('#drawer:not([hidden]) #attempts tr[data-attempt="1"]');
    expect(await page.textContent('#drawer-title')).toContain('instance 1');
    expect(await page.textContent('#attempts tr[data-attempt="1"]')).toContain('3');
    await page.click('#log-1-stderr');
    await page.waitForSelector('#log-info:has-text("the whole log")');
    expect(await page.textContent('#log')).toBe('oops from instance 1\n');
    expect(await page.evaluate('location.hash')).toContain('instance=1');
    expect(await page.evaluate('location.hash')).toContain('stream=STDERR');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#drawer[hidden]', { state: 'attached' });
  });

  it('filters the grid by exit code in the browser (over the loaded pages), saying so', async () => {
    await page.goto(`${srv.url}/console/#/jobs/${finished}?task=A`);
    await page.waitForSelector('#grid-canvas[data-total="3"][data-loaded-pages="1"]');
    expect(await page.textContent('#grid-exit-note')).toContain('DescribeTask has no exit-code filter');
    await page.fill('#grid-exit', '3');
    await page.press('#grid-exit', 'Enter');
    await page.waitForSelector('#grid-exit-note:has-text("exit code 3: 1 of the 3 loaded instance(s)")');
    // cell 0 (exit 0) is drawn as "no match", cell 1 (exit 3) in FAILED's colour
    expect(await pixel(5)).toBe('247,248,250');
    expect(await pixel(17)).toBe('214,69,69');
  });

  it('draws the grid of a 1,000,000-instance task from a few pages, aggregated, then zooms in to single instances', async () => {
    await page.goto(`${srv.url}/console/#/jobs/${big}?task=fanout`);
    await page.waitForSelector('#grid-canvas[data-total="1000000"]');
    expect(Number(await page.getAttribute('#grid-canvas', 'data-block'))).toBeGreaterThan(1);
    // what is in view is read page by page, at most 20 pages (of 1,000 instances) for one view
    await page.waitForSelector('#grid-more:not([hidden])');
    expect(Number(await page.getAttribute('#grid-canvas', 'data-loaded-pages'))).toBe(20);
    await page.focus('#grid-canvas');
    for (let i = 0; i < 3; i++) await page.keyboard.press('+');
    await page.waitForSelector('#grid-canvas[data-block="1"]');
    await page.waitForSelector('#grid-info:has-text("instance 0: PENDING")');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#no-attempts');
    expect(await page.textContent('#drawer-title')).toContain('fanout · instance 0');
    await page.keyboard.press('Escape');
  });

  /** The colour of the grid's canvas at (x, y) CSS pixels, as "r,g,b". */
  const pixel = (x: number, y = 5) => page.evaluate(`Array.from(document.querySelector('#grid-canvas').getContext('2d')
    .getImageData(${x} * devicePixelRatio, ${y} * devicePixelRatio, 1, 1).data.slice(0, 3)).join(',')`);

  /** Waits until `expr` is true in the page (evaluated from outside: page.waitForFunction's polling
   *  inside the page is refused by the console's CSP, which has no 'unsafe-eval'). */
  async function until(expr: string, what: string): Promise<void> {
    await waitFor(async () => (await page.evaluate(expr)) === true, what);
  }

  /** The job page of `id`, its event stream open, a marker on the window that a reload would lose. */
  async function openLive(id: string, query = ''): Promise<void> {
    await page.goto(`${srv.url}/console/#/jobs/${id}${query}`);
    await page.waitForSelector('#live-status[data-open="true"]');
    await page.evaluate('window.__noReload = 1');
  }
  const notReloaded = async () => expect(await page.evaluate('window.__noReload')).toBe(1);

  it('retries the failed instance of a job (confirmed) and the page turns SUCCEED live', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-retry-'));
    fs.chmodSync(dir, 0o1777);
    const id = (await c.SubmitJob!(simpleJob(`test -f ${dir}/$BATCH_TASK_INSTANCE_INDEX || { touch ${dir}/$BATCH_TASK_INSTANCE_INDEX; exit 1; }`,
      {}, { JobName: 'console-retry' }))).JobId;
    await waitJobDone(c, id);
    await openLive(id, '?task=A');
    await page.waitForSelector('#job-state[data-state="FAILED"]');
    await page.waitForSelector('#dag g.node[data-task="A"][data-state="FAILED"]');
    await page.waitForSelector('#grid-canvas[data-loaded-pages="1"]');
    expect(await pixel(5)).toBe('214,69,69');
    // terminate and delete say why they are refused; a Cancel changes nothing
    expect(await page.getAttribute('#terminate-job', 'disabled')).not.toBeNull();
    await page.click('#retry-job');
    await page.waitForSelector('dialog#confirm[open]');
    expect(await page.evaluate('document.activeElement.id')).toBe('confirm-no');
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog#confirm', { state: 'detached' });
    expect((await c.DescribeJob!({ JobId: id })).JobState).toBe('FAILED');
    await page.click('#retry-job');
    await page.click('#confirm-yes');
    await page.waitForSelector('#job-state[data-state="SUCCEED"]', { timeout: 20_000 });
    await page.waitForSelector('#dag g.node[data-task="A"][data-state="SUCCEED"]');
    await page.waitForSelector('#dag g.node[data-task="A"]:has-text("1/1 ok")');
    await page.waitForSelector('#task-state:has-text("SUCCEED")');
    await page.waitForSelector('#task-counts button[data-state="SUCCEED"]:has-text("1")');
    // the grid's cell was set from the instance's event (SUCCEED's colour), the page not read again
    await until(`Array.from(document.querySelector('#grid-canvas').getContext('2d')
      .getImageData(5 * devicePixelRatio, 5 * devicePixelRatio, 1, 1).data.slice(0, 3)).join(',') === '60,157,93'`, 'the cell to turn SUCCEED');
    await notReloaded();
    // RetryJobs on a job that is not FAILED: the button is disabled now, with the API's reason
    expect(await page.getAttribute('#retry-job', 'title')).toContain('only FAILED jobs can be retried');
    // the instance has two attempts: 1 failed, 2 succeeded
    await page.goto(`${srv.url}/console/#/jobs/${id}?task=A&instance=0`);
    await page.waitForSelector('#attempts tr[data-attempt="2"][data-state="SUCCEED"]');
    expect(await page.getAttribute('#terminate-instance', 'disabled')).not.toBeNull();
    // Delete job, then back on the list
    await page.click('#delete-job');
    await page.click('#confirm-yes');
    await page.waitForSelector('#jobs-title');
    expect(await page.evaluate('location.hash')).toBe('#/jobs');
    expect((await c.DescribeJobs!({ JobIds: [id] })).TotalCount).toBe(0);
  }, 60_000);

  it('terminates a running job (confirmed, from the keyboard) and sees it FAILED live', async () => {
    const id = (await c.SubmitJob!(simpleJob('sleep 60', {}, { JobName: 'console-terminate' }))).JobId;
    await waitFor(async () => (await c.DescribeJob!({ JobId: id })).JobState === 'RUNNING', 'the job to run');
    await openLive(id);
    await page.waitForSelector('#job-state[data-state="RUNNING"]');
    // Delete is refused by the API while it runs: the button says so
    expect(await page.getAttribute('#delete-job', 'disabled')).not.toBeNull();
    expect(await page.getAttribute('#delete-job', 'title')).toContain('RUNNING');
    await page.focus('#terminate-job');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog#confirm[open]');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('confirm-yes');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#job-state[data-state="FAILED"]', { timeout: 20_000 });
    await page.waitForSelector('#dag g.node[data-task="A"][data-state="FAILED"]');
    await notReloaded();
  }, 60_000);

  it('the jobs list shows a job submitted meanwhile, and its end, without a reload', async () => {
    await page.goto(`${srv.url}/console/#/jobs`);
    await page.waitForSelector('#live-status[data-open="true"]');
    await page.waitForSelector('#jobs-table');
    await page.evaluate('window.__noReload = 1');
    const id = (await c.SubmitJob!(simpleJob('sleep 2', {}, { JobName: 'console-list-live' }))).JobId;
    await page.waitForSelector(`tr[data-job="${id}"]`, { timeout: 10_000 });
    await page.waitForSelector(`tr[data-job="${id}"]`, { state: 'detached', timeout: 20_000 });
    await notReloaded();
  }, 60_000);

  it('the job page\'s event stream comes back after its server restarts (same port, same store) and shows what happened', async () => {
    // a server of its own: it is stopped and started again on the same port and data dir
    const first = await startServer({ slots: 2 });
    const port = first.port, dataDir = first.dataDir;
    let again: TestServer | undefined;
    const p2 = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    try {
      const id = (await first.client().SubmitJob!(simpleJob('sleep 60', {}, { JobName: 'console-resume' }))).JobId;
      await p2.goto(`${first.url}/console/`);
      await p2.fill('#secret-id', SECRET_ID);
      await p2.fill('#secret-key', SECRET_KEY);
      await p2.click('form.signin button[type=submit]');
      await p2.waitForSelector('#jobs-title');
      await p2.goto(`${first.url}/console/#/jobs/${id}`);
      await p2.waitForSelector('#live-status[data-open="true"]');
      await p2.waitForSelector('#job-state[data-state="RUNNING"]', { timeout: 20_000 });
      await p2.evaluate('window.__noReload = 1');
      await first.stop();
      await p2.waitForSelector('#live-status[data-open="false"]', { timeout: 20_000 });
      again = await startServer({ slots: 2, dataDir, args: ['--port', String(port)] });
      expect(again.port).toBe(port);
      await again.client().TerminateJob!({ JobId: id });
      await p2.waitForSelector('#live-status[data-open="true"]', { timeout: 20_000 });
      await p2.waitForSelector('#job-state[data-state="FAILED"]', { timeout: 20_000 });
      expect(await p2.evaluate('window.__noReload')).toBe(1);
    } finally {
      await p2.close();
      await again?.stop();
      await first.stop();
    }
  }, 90_000);

  it('shows the API\'s error as it comes when an action is refused', async () => {
    const id = (await c.SubmitJob!(simpleJob('sleep 60', {}, { JobName: 'console-refused' }))).JobId;
    await waitFor(async () => (await c.DescribeJob!({ JobId: id })).JobState === 'RUNNING', 'the job to run');
    await openLive(id, '?task=A&instance=0');
    await page.waitForSelector('#terminate-instance:not([disabled])');
    // the job is deleted behind the page's back: the instance's terminate is refused by the API
    await c.TerminateJob!({ JobId: id });
    await waitJobDone(c, id);
    await c.DeleteJob!({ JobId: id });
    await page.evaluate("document.querySelector('#terminate-instance').disabled = false");
    await page.click('#terminate-instance');
    await page.click('#confirm-yes');
    await page.waitForSelector('#drawer-action-out.error:has-text("ResourceNotFound")');
    expect(await page.textContent('#drawer-action-out')).toMatch(/RequestId \S+/);
  }, 60_000);

  it('submits a job written as YAML in the editor (the API\'s refusal shows first) and lands on its page', async () => {
    await page.goto(`${srv.url}/console/#/jobs`);
    await page.click('#nav-submit');
    await page.waitForSelector('#submit-editor');
    // no client-side rules: a bad TaskInstanceNum is the API's to refuse
    const yaml = (n: number) => [
      'JobName: console-yaml',
      'Tasks:',
      '  - TaskName: Y',
      `    TaskInstanceNum: ${n}`,
      '    Application: { DeliveryForm: LOCAL, Command: echo from yaml }',
      '    ComputeEnv: { EnvType: MANAGED, EnvData: { InstanceType: S1.SMALL1, ImageId: img-bd78fy2t } }',
    ].join('\n');
    await page.fill('#submit-editor', yaml(0));
    await page.click('#submit-job');
    await page.waitForSelector('#submit-out.error:has-text("InvalidParameter")');
    expect(await page.textContent('#submit-out')).toMatch(/TaskInstanceNum[\s\S]*RequestId/);
    await page.fill('#submit-editor', 'JobName: [unclosed');
    await page.click('#submit-job');
    await page.waitForSelector('#submit-out.error:has-text("neither JSON nor YAML")');
    await page.fill('#submit-editor', yaml(2));
    await page.focus('#submit-editor');
    await page.keyboard.press('Control+Enter');
    await page.waitForSelector('#job-title:has-text("console-yaml")');
    const id = /#\/jobs\/(job-\w+)/.exec(await page.evaluate('location.hash') as string)![1]!;
    await page.waitForSelector('#job-state[data-state="SUCCEED"]', { timeout: 20_000 });
    const j = await c.DescribeJob!({ JobId: id });
    expect(j.Zone).toBe('ap-guangzhou-1');
    expect(j.TaskSet.map((t: { TaskName: string }) => t.TaskName)).toEqual(['Y']);
  }, 60_000);

  it('submits a job from a task template', async () => {
    const { TaskTemplateId } = await c.CreateTaskTemplate!({
      TaskTemplateName: 'console-greet',
      TaskTemplateInfo: { TaskName: 'greet', TaskInstanceNum: 1, Application: { DeliveryForm: 'LOCAL', Command: 'echo hi $BATCH_TASK_INSTANCE_INDEX' },
        ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t' } } },
    });
    await page.goto(`${srv.url}/console/#/submit`);
    await page.waitForSelector(`#submit-template option[value="${TaskTemplateId}"]`, { state: 'attached' });
    await page.selectOption('#submit-template', TaskTemplateId);
    await until("document.querySelector('#submit-editor').value.includes('echo hi')", 'the editor to hold the template\'s job');
    const text = await page.inputValue('#submit-editor');
    expect(text).toContain('JobName: console-greet');
    expect(text).toContain('TaskName: greet');
    await page.fill('#submit-editor', text.replace('TaskInstanceNum: 1', 'TaskInstanceNum: 2'));
    await page.click('#submit-job');
    await page.waitForSelector('#job-title:has-text("console-greet")');
    await page.waitForSelector('#job-state[data-state="SUCCEED"]', { timeout: 20_000 });
    await page.waitForSelector('#dag g.node[data-task="greet"]:has-text("2/2 ok")');
  }, 60_000);

  it('tails the log of a running attempt: the lines come as it prints them, then it ends live', async () => {
    const id = (await c.SubmitJob!(simpleJob('sleep 1; for i in 1 2 3; do echo line$i; sleep 1; done', {}, { JobName: 'console-tail' }))).JobId;
    await waitFor(async () => (await c.DescribeJob!({ JobId: id })).JobState === 'RUNNING', 'the job to run');
    await openLive(id, '?task=A&instance=0');
    await page.waitForSelector('#log-info[data-tail="on"]');
    await page.waitForSelector('#log:has-text("line1")');
    expect(await page.textContent('#log')).not.toContain('line3');
    await page.waitForSelector('#log-info:has-text("the whole log")', { timeout: 20_000 });
    expect(await page.textContent('#log')).toBe('line1\nline2\nline3\n');
    // the instance's end came from the event stream: the attempts table says SUCCEED
    await page.waitForSelector('#attempts tr[data-attempt="1"][data-state="SUCCEED"]');
    await page.waitForSelector('#job-state[data-state="SUCCEED"]');
    await notReloaded();
  }, 60_000);

  it('is readable in a narrow window: the jobs list and the job page fit 390 px without scrolling sideways', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    try {
      await page.goto(`${srv.url}/console/#/jobs?tab=finished`);
      await page.waitForSelector(`tr[data-job="${finished}"]`, { state: 'attached' });
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await page.goto(`${srv.url}/console/#/jobs/${finished}?task=A`);
      await page.waitForSelector('#dag g.node[data-task="A"][data-state="FAILED"]');
      await page.waitForSelector('#grid-canvas');
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    } finally {
      await page.setViewportSize({ width: 1100, height: 900 });
    }
  });
});
