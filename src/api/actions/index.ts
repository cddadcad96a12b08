// The typed registry of all 30 Batch actions: one file per action. A missing action fails the type check.
import type { Logger } from '../../lib/logger.ts';
import type { ActionName, RequestOf } from '../models.ts';
import type { Services } from '../../services/index.ts';
import { SubmitJob } from './SubmitJob.ts';
import { DescribeJob } from './DescribeJob.ts';
import { DescribeJobs } from './DescribeJobs.ts';
import { DescribeJobSubmitInfo } from './DescribeJobSubmitInfo.ts';
import { DescribeTask } from './DescribeTask.ts';
import { DescribeTaskLogs } from './DescribeTaskLogs.ts';
import { TerminateJob } from './TerminateJob.ts';
import { TerminateTaskInstance } from './TerminateTaskInstance.ts';
import { RetryJobs } from './RetryJobs.ts';
import { DeleteJob } from './DeleteJob.ts';
import { DescribeAvailableCvmInstanceTypes } from './DescribeAvailableCvmInstanceTypes.ts';
import { DescribeCvmZoneInstanceConfigInfos } from './DescribeCvmZoneInstanceConfigInfos.ts';
import { DescribeInstanceCategories } from './DescribeInstanceCategories.ts';
import { CreateTaskTemplate } from './CreateTaskTemplate.ts';
import { DescribeTaskTemplates } from './DescribeTaskTemplates.ts';
import { ModifyTaskTemplate } from './ModifyTaskTemplate.ts';
import { DeleteTaskTemplates } from './DeleteTaskTemplates.ts';
import { DescribeJobMonitorData } from './DescribeJobMonitorData.ts';
import { notYetBuilt } from './not-yet-built.ts';

export interface ActionContext {
  account: string;
  region: string;
  requestId: string;
  log: Logger;
}

export type ActionHandler<A extends ActionName> = (ctx: ActionContext, req: RequestOf<A>) => Promise<Record<string, unknown>>;
export type ActionRegistry = { [A in ActionName]: ActionHandler<A> };
export type ActionFactory<A extends ActionName> = (s: Services) => ActionHandler<A>;

export function buildActions(s: Services): ActionRegistry {
  return {
    SubmitJob: SubmitJob(s),
    DescribeJob: DescribeJob(s),
    DescribeJobs: DescribeJobs(s),
    DescribeJobSubmitInfo: DescribeJobSubmitInfo(s),
    DescribeTask: DescribeTask(s),
    DescribeTaskLogs: DescribeTaskLogs(s),
    TerminateJob: TerminateJob(s),
    TerminateTaskInstance: TerminateTaskInstance(s),
    RetryJobs: RetryJobs(s),
    DeleteJob: DeleteJob(s),
    DescribeJobMonitorData: DescribeJobMonitorData(s),
    CreateTaskTemplate: CreateTaskTemplate(s),
    DescribeTaskTemplates: DescribeTaskTemplates(s),
    ModifyTaskTemplate: ModifyTaskTemplate(s),
    DeleteTaskTemplates: DeleteTaskTemplates(s),
    CreateComputeEnv: notYetBuilt('CreateComputeEnv', 'named compute environments'),
    DescribeComputeEnv: notYetBuilt('DescribeComputeEnv', 'named compute environments'),
    DescribeComputeEnvs: notYetBuilt('DescribeComputeEnvs', 'named compute environments'),
    DescribeComputeEnvCreateInfo: notYetBuilt('DescribeComputeEnvCreateInfo', 'named compute environments'),
    DescribeComputeEnvCreateInfos: notYetBuilt('DescribeComputeEnvCreateInfos', 'named compute environments'),
    DescribeComputeEnvActivities: notYetBuilt('DescribeComputeEnvActivities', 'named compute environments'),
    ModifyComputeEnv: notYetBuilt('ModifyComputeEnv', 'named compute environments'),
    DeleteComputeEnv: notYetBuilt('DeleteComputeEnv', 'named compute environments'),
    AttachInstances: notYetBuilt('AttachInstances', 'attached instances'),
    DetachInstances: notYetBuilt('DetachInstances', 'attached instances'),
    TerminateComputeNode: notYetBuilt('TerminateComputeNode', 'compute nodes'),
    TerminateComputeNodes: notYetBuilt('TerminateComputeNodes', 'compute nodes'),
    DescribeAvailableCvmInstanceTypes: DescribeAvailableCvmInstanceTypes(s),
    DescribeCvmZoneInstanceConfigInfos: DescribeCvmZoneInstanceConfigInfos(s),
    DescribeInstanceCategories: DescribeInstanceCategories(s),
  };
}
