// Task templates: reusable Task definitions (CreateTaskTemplate, DescribeTaskTemplates,
// ModifyTaskTemplate, DeleteTaskTemplates). A template's task is validated exactly like a task of
// SubmitJob; secrets in it are masked when it is shown.
import { apiError } from '../domain/errors.ts';
import type { Limits } from '../config/config.ts';
import { checkTemplateId, newId } from '../domain/ids.ts';
import type { Clock } from '../lib/clock.ts';
import { isoSeconds } from '../lib/clock.ts';
import type { Store, TemplateRecord } from '../store/types.ts';
import { checkFilters, checkPage } from './filters.ts';
import type { Caller } from './types.ts';
import { checkTags, checkTask, maxLen, type CheckedTask, type ValidationContext } from './validate.ts';
import { maskSecrets } from './views.ts';
import { storedTemplateTask } from './stored.ts';
import type { RequestOf, ResponseOf, TaskInput, TaskTemplateView } from '../api/models.ts';

export const TEMPLATE_FILTERS = ['task-template-name', 'tag-key', 'tag-value'];
const MAX_NAME = 60;
const MAX_DESCRIPTION = 200;

export interface TemplateServiceDeps {
  store: Store;
  clock: Clock;
  limits: Limits;
  localRoot: string;
  /** Whether a named compute environment exists for the caller (EnvId tasks). */
  envExists: (c: Caller, envId: string) => Promise<boolean> | boolean;
  knownInstanceType?: (t: string) => boolean;
  /** See ValidationContext.envBytes. */
  envBytes?: number;
}

export class TemplateService {
  constructor(private readonly d: TemplateServiceDeps) {}

  private ctx(c: Caller): ValidationContext {
    return { region: c.region, limits: this.d.limits, localRoot: this.d.localRoot, knownInstanceType: this.d.knownInstanceType, envBytes: this.d.envBytes };
  }

  private async checkInfo(c: Caller, info: TaskInput): Promise<CheckedTask> {
    const envIds = new Map<string, boolean>();
    if (typeof info.EnvId === 'string') envIds.set(info.EnvId, await this.d.envExists(c, info.EnvId));
    return checkTask(info, this.ctx(c), 'TaskTemplateInfo', { envExists: (id) => envIds.get(id) ?? false });
  }

  async create(c: Caller, req: RequestOf<'CreateTaskTemplate'>): Promise<ResponseOf<'CreateTaskTemplate'>> {
    checkName(req.TaskTemplateName);
    checkDescription(req.TaskTemplateDescription);
    checkTags(req.Tags, this.d.limits, 'Tags');
    const info = await this.checkInfo(c, req.TaskTemplateInfo);
    const t: TemplateRecord = {
      id: newId('task-tmpl'),
      account: c.account,
      region: c.region,
      name: req.TaskTemplateName,
      description: req.TaskTemplateDescription ?? '',
      info,
      createTime: this.d.clock.now(),
      tags: req.Tags ?? [],
    };
    if (!(await this.d.store.insertTemplate(t, this.d.limits.maxTaskTemplates))) {
      throw apiError('LimitExceeded.TaskTemplateQuota', { max: this.d.limits.maxTaskTemplates, region: c.region });
    }
    return { TaskTemplateId: t.id };
  }

  async describe(c: Caller, req: RequestOf<'DescribeTaskTemplates'>): Promise<ResponseOf<'DescribeTaskTemplates'>> {
    const { offset, limit } = checkPage(req.Offset, req.Limit, 20, 100, 1);
    if (req.TaskTemplateIds !== undefined && req.Filters !== undefined) {
      throw apiError('InvalidParameter.InvalidParameterCombination', { detail: 'TaskTemplateIds and Filters cannot be given together.' });
    }
    const ids = req.TaskTemplateIds;
    if (ids) {
      if (ids.length > 100) throw apiError('InvalidParameterValue.LimitExceeded', { param: 'TaskTemplateIds', problem: `has ${ids.length} entries; at most 100 are allowed` });
      ids.forEach((id, i) => checkTemplateId(id, `TaskTemplateIds.${i}`));
    }
    const filters = checkFilters(req.Filters, (n) => TEMPLATE_FILTERS.includes(n) || n.startsWith('tag:'), this.d.limits);
    const { total, templates } = await this.d.store.listTemplates(c.account, c.region, { ids, filters, offset, limit });
    return { TaskTemplateSet: templates.map(view), TotalCount: total };
  }

  async modify(c: Caller, req: RequestOf<'ModifyTaskTemplate'>): Promise<ResponseOf<'ModifyTaskTemplate'>> {
    checkTemplateId(req.TaskTemplateId);
    if (req.TaskTemplateName === undefined && req.TaskTemplateDescription === undefined && req.TaskTemplateInfo === undefined) {
      throw apiError('InvalidParameterAtLeastOneAttribute', { params: 'TaskTemplateName, TaskTemplateDescription and TaskTemplateInfo' });
    }
    if (req.TaskTemplateName !== undefined) checkName(req.TaskTemplateName);
    checkDescription(req.TaskTemplateDescription, 'InvalidParameter.TaskTemplateDescriptionTooLong');
    const [t] = await this.d.store.getTemplates(c.account, c.region, [req.TaskTemplateId]);
    if (!t) throw apiError('ResourceNotFound.TaskTemplate', { templateIds: req.TaskTemplateId, done: 'changed' });
    const info = req.TaskTemplateInfo !== undefined ? await this.checkInfo(c, req.TaskTemplateInfo) : t.info;
    await this.d.store.updateTemplate({
      ...t,
      name: req.TaskTemplateName ?? t.name,
      description: req.TaskTemplateDescription ?? t.description,
      info,
    });
    return {};
  }

  async delete(c: Caller, req: RequestOf<'DeleteTaskTemplates'>): Promise<ResponseOf<'DeleteTaskTemplates'>> {
    const ids = [...new Set(req.TaskTemplateIds)];
    if (ids.length === 0) throw apiError('InvalidParameterValue', { param: 'TaskTemplateIds', problem: 'must name at least one template' });
    if (ids.length > 100) throw apiError('InvalidParameterValue.LimitExceeded', { param: 'TaskTemplateIds', problem: `has ${ids.length} entries; at most 100 are allowed` });
    ids.forEach((id, i) => checkTemplateId(id, `TaskTemplateIds.${i}`));
    const missing = await this.d.store.deleteTemplates(c.account, c.region, ids);
    if (missing.length > 0) {
      throw apiError('ResourceNotFound.TaskTemplate', { templateIds: missing.join(', '), done: 'deleted' });
    }
    return {};
  }
}

function checkName(name: string): void {
  if (name.trim() === '') throw apiError('InvalidParameter.TaskTemplateName', { param: 'TaskTemplateName', problem: 'must not be empty' });
  maxLen(name, MAX_NAME, 'InvalidParameter.TaskTemplateNameTooLong', 'TaskTemplateName');
  if (/[\u0000-\u001f\u007f]/.test(name)) throw apiError('InvalidParameter.TaskTemplateName', { param: 'TaskTemplateName', problem: 'must not contain control characters' });
}

function checkDescription(d: string | undefined, code: 'InvalidParameterValue' | 'InvalidParameter.TaskTemplateDescriptionTooLong' = 'InvalidParameterValue'): void {
  maxLen(d, MAX_DESCRIPTION, code, 'TaskTemplateDescription');
}

function view(t: TemplateRecord): TaskTemplateView {
  return {
    TaskTemplateId: t.id,
    TaskTemplateName: t.name,
    TaskTemplateDescription: t.description,
    TaskTemplateInfo: maskSecrets(storedTemplateTask(t)),
    CreateTime: isoSeconds(t.createTime),
    Tags: t.tags,
  };
}
