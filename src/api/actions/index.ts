// The typed registry of all 30 Batch actions: one file per action. A missing action fails the type check.
import type { Services } from '../../services/index.ts';
import type { ActionRegistry } from './types.ts';
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
import { CreateComputeEnv } from './CreateComputeEnv.ts';
import { DescribeComputeEnv } from './DescribeComputeEnv.ts';
import { DescribeComputeEnvs } from './DescribeComputeEnvs.ts';
import { DescribeComputeEnvCreateInfo } from './DescribeComputeEnvCreateInfo.ts';
import { DescribeComputeEnvCreateInfos } from './DescribeComputeEnvCreateInfos.ts';
import { DescribeComputeEnvActivities } from './DescribeComputeEnvActivities.ts';
import { ModifyComputeEnv } from './ModifyComputeEnv.ts';
import { DeleteComputeEnv } from './DeleteComputeEnv.ts';
import { AttachInstances } from './AttachInstances.ts';
import { DetachInstances } from './DetachInstances.ts';
import { TerminateComputeNode } from './TerminateComputeNode.ts';
import { TerminateComputeNodes } from './TerminateComputeNodes.ts';

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
    CreateComputeEnv: CreateComputeEnv(s),
    DescribeComputeEnv: DescribeComputeEnv(s),
    DescribeComputeEnvs: DescribeComputeEnvs(s),
    DescribeComputeEnvCreateInfo: DescribeComputeEnvCreateInfo(s),
    DescribeComputeEnvCreateInfos: DescribeComputeEnvCreateInfos(s),
    DescribeComputeEnvActivities: DescribeComputeEnvActivities(s),
    ModifyComputeEnv: ModifyComputeEnv(s),
    DeleteComputeEnv: DeleteComputeEnv(s),
    AttachInstances: AttachInstances(s),
    DetachInstances: DetachInstances(s),
    TerminateComputeNode: TerminateComputeNode(s),
    TerminateComputeNodes: TerminateComputeNodes(s),
    DescribeAvailableCvmInstanceTypes: DescribeAvailableCvmInstanceTypes(s),
    DescribeCvmZoneInstanceConfigInfos: DescribeCvmZoneInstanceConfigInfos(s),
    DescribeInstanceCategories: DescribeInstanceCategories(s),
  };
}
