// Task templates through the official SDK: create, describe (ids, filters, paging), modify, delete,
// validation exactly like SubmitJob's tasks, secrets masked, owner and region scoping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startServer, tempDir, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;
beforeAll(async () => {
  srv = await startServer();
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});

const task = (over: Record<string, unknown> = {}) => ({
  TaskName: 'render',
  TaskInstanceNum: 4,
  Application: { DeliveryForm: 'LOCAL', Command: 'echo $BATCH_TASK_INSTANCE_INDEX' },
  ComputeEnv: { EnvType: 'MANAGED', EnvData: { InstanceType: 'S1.SMALL1', ImageId: 'img-bd78fy2t', LoginSettings: { Password: 'Passw0rd!x' } } },
  ...over,
});
const code = async (p: Promise<unknown>) => (await errorOf(p)).code;

describe('task templates', () => {
  it('creates, describes, modifies and deletes a template', async () => {
    const { TaskTemplateId } = await c.CreateTaskTemplate!({
      TaskTemplateName: 'render-frames', TaskTemplateInfo: task(), TaskTemplateDescription: 'renders frames',
      Tags: [{ Key: 'team', Value: 'vfx' }],
    });
    expect(TaskTemplateId).toMatch(/^task-tmpl-[a-z0-9]{8}$/);
    const d = await c.DescribeTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] });
    expect(d.TotalCount).toBe(1);
    const v = d.TaskTemplateSet[0];
    expect(Object.keys(v).sort()).toEqual(['CreateTime', 'Tags', 'TaskTemplateDescription', 'TaskTemplateId', 'TaskTemplateInfo', 'TaskTemplateName']);
    expect(v.TaskTemplateName).toBe('render-frames');
    expect(v.TaskTemplateDescription).toBe('renders frames');
    expect(v.CreateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(v.Tags).toEqual([{ Key: 'team', Value: 'vfx' }]);
    expect(v.TaskTemplateInfo).toMatchObject({ TaskName: 'render', TaskInstanceNum: 4, MaxRetryCount: 0, FailedAction: 'TERMINATE', Timeout: 86400 });
    expect(v.TaskTemplateInfo.ComputeEnv.EnvData.LoginSettings.Password).not.toBe('Passw0rd!x');
    expect(v.TaskTemplateInfo.ComputeEnv.EnvData.LoginSettings.Password).toMatch(/\*/);

    await c.ModifyTaskTemplate!({ TaskTemplateId, TaskTemplateName: 'render-v2' });
    await c.ModifyTaskTemplate!({ TaskTemplateId, TaskTemplateInfo: task({ TaskInstanceNum: 8 }) });
    const m = (await c.DescribeTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] })).TaskTemplateSet[0];
    expect(m.TaskTemplateName).toBe('render-v2');
    expect(m.TaskTemplateDescription).toBe('renders frames');
    expect(m.TaskTemplateInfo.TaskInstanceNum).toBe(8);
    expect(m.Tags).toEqual([{ Key: 'team', Value: 'vfx' }]);

    await c.DeleteTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] });
    expect((await c.DescribeTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] })).TotalCount).toBe(0);
    expect(await code(c.ModifyTaskTemplate!({ TaskTemplateId, TaskTemplateName: 'x' }))).toBe('ResourceNotFound.TaskTemplate');
    expect(await code(c.DeleteTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] }))).toBe('ResourceNotFound.TaskTemplate');
  });

  it('filters by name and tags, pages with the full TotalCount', async () => {
    const mk = (name: string, tags: { Key: string; Value: string }[]) =>
      c.CreateTaskTemplate!({ TaskTemplateName: name, TaskTemplateInfo: task(), Tags: tags }).then((r) => r.TaskTemplateId as string);
    const a = await mk('tpl-a', [{ Key: 'env', Value: 'prod' }]);
    const b = await mk('tpl-b', [{ Key: 'env', Value: 'dev' }, { Key: 'owner', Value: 'me' }]);
    const ids = async (Filters: unknown) => ((await c.DescribeTaskTemplates!({ Filters })).TaskTemplateSet as { TaskTemplateId: string }[]).map((t) => t.TaskTemplateId).sort();
    expect(await ids([{ Name: 'task-template-name', Values: ['tpl-a', 'tpl-b'] }])).toEqual([a, b].sort());
    expect(await ids([{ Name: 'tag-key', Values: ['owner'] }])).toEqual([b]);
    expect(await ids([{ Name: 'tag-value', Values: ['prod'] }])).toEqual([a]);
    expect(await ids([{ Name: 'tag:env', Values: ['dev'] }])).toEqual([b]);
    expect(await ids([{ Name: 'tag:env', Values: ['dev'] }, { Name: 'task-template-name', Values: ['tpl-a'] }])).toEqual([]);
    const page = await c.DescribeTaskTemplates!({ Offset: 1, Limit: 1 });
    const all = await c.DescribeTaskTemplates!({});
    expect(page.TotalCount).toBe(all.TotalCount);
    expect(page.TaskTemplateSet).toHaveLength(1);
    expect(page.TaskTemplateSet[0].TaskTemplateId).toBe(all.TaskTemplateSet[1].TaskTemplateId);
    // delete is all or none
    expect(await code(c.DeleteTaskTemplates!({ TaskTemplateIds: [a, 'task-tmpl-zzzzzzzz'] }))).toBe('ResourceNotFound.TaskTemplate');
    expect((await c.DescribeTaskTemplates!({ TaskTemplateIds: [a] })).TotalCount).toBe(1);
    await c.DeleteTaskTemplates!({ TaskTemplateIds: [a, b] });
  });

  it('validates like SubmitJob and answers the template error codes', async () => {
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: 'x'.repeat(61), TaskTemplateInfo: task() }))).toBe('InvalidParameter.TaskTemplateNameTooLong');
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: '  ', TaskTemplateInfo: task() }))).toBe('InvalidParameter.TaskTemplateName');
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: 'ok', TaskTemplateInfo: task({ MaxRetryCount: 9 }) }))).toBe('InvalidParameterValue.MaxRetryCount');
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: 'ok', TaskTemplateInfo: task({ EnvId: 'env-abcdefgh' }) }))).toBe('AllowedOneAttributeInEnvIdAndComputeEnv');
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: 'ok', TaskTemplateInfo: task({ ComputeEnv: undefined, EnvId: 'env-abcdefgh' }) }))).toBe('ResourceNotFound.ComputeEnv');
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: 'ok', TaskTemplateInfo: task({ TaskName: 'a b' }) }))).toBe('InvalidParameter.TaskName');
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: 'ok', TaskTemplateInfo: task({ RedirectInfo: { StdoutRedirectPath: 'oss://x/' } }) }))).toBe('InvalidParameterValue.RemoteStorageSchemeType');
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: 'ok', TaskTemplateInfo: task(), TaskTemplateDescription: 'd'.repeat(201) }))).toBe('InvalidParameterValue');
    expect(await code(c.CreateTaskTemplate!({ TaskTemplateName: 'ok' }))).toBe('MissingParameter');
    const { TaskTemplateId } = await c.CreateTaskTemplate!({ TaskTemplateName: 'ok', TaskTemplateInfo: task() });
    expect(await code(c.ModifyTaskTemplate!({ TaskTemplateId }))).toBe('InvalidParameterAtLeastOneAttribute');
    expect(await code(c.ModifyTaskTemplate!({ TaskTemplateId, TaskTemplateDescription: 'd'.repeat(201) }))).toBe('InvalidParameter.TaskTemplateDescriptionTooLong');
    expect(await code(c.ModifyTaskTemplate!({ TaskTemplateId, TaskTemplateInfo: task({ TaskInstanceNum: 0 }) }))).toBe('InvalidParameterValue.TaskInstanceNum');
    expect(await code(c.ModifyTaskTemplate!({ TaskTemplateId: 'tmpl-1', TaskTemplateName: 'x' }))).toBe('InvalidParameter.TaskTemplateIdMalformed');
    expect(await code(c.DescribeTaskTemplates!({ TaskTemplateIds: ['nope'] }))).toBe('InvalidParameter.TaskTemplateIdMalformed');
    expect(await code(c.DescribeTaskTemplates!({ TaskTemplateIds: [TaskTemplateId], Filters: [{ Name: 'tag-key', Values: ['x'] }] }))).toBe('InvalidParameter.InvalidParameterCombination');
    expect(await code(c.DescribeTaskTemplates!({ Filters: [{ Name: 'color', Values: ['x'] }] }))).toBe('InvalidFilter');
    expect(await code(c.DescribeTaskTemplates!({ Limit: 0 }))).toBe('InvalidParameterValue');
    expect(await code(c.DescribeTaskTemplates!({ Limit: 101 }))).toBe('InvalidParameterValue');
    expect(await code(c.DeleteTaskTemplates!({ TaskTemplateIds: ['bad'] }))).toBe('InvalidParameter.TaskTemplateIdMalformed');
    // templates belong to an account and a region
    expect((await srv.client({ region: 'ap-shanghai' }).DescribeTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] })).TotalCount).toBe(0);
    expect(await code(srv.client({ region: 'ap-shanghai' }).DeleteTaskTemplates!({ TaskTemplateIds: [TaskTemplateId] }))).toBe('ResourceNotFound.TaskTemplate');
  });

  it('enforces the per-account template quota', async () => {
    const dataDir = tempDir();
    const fsMod = await import('node:fs');
    const cfg = `${dataDir}/config.json`;
    fsMod.writeFileSync(cfg, JSON.stringify({ limits: { maxTaskTemplates: 2 } }));
    const small = await startServer({ dataDir, args: ['--config', cfg] });
    try {
      const sc = small.client();
      await sc.CreateTaskTemplate!({ TaskTemplateName: 'one', TaskTemplateInfo: task() });
      await sc.CreateTaskTemplate!({ TaskTemplateName: 'two', TaskTemplateInfo: task() });
      expect(await code(sc.CreateTaskTemplate!({ TaskTemplateName: 'three', TaskTemplateInfo: task() }))).toBe('LimitExceeded.TaskTemplateQuota');
    } finally {
      await small.stop();
    }
  });
});
