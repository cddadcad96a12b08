// The typed registry of all 30 Batch actions: each action is its service's method, which takes the
// decoded request (RequestOf) and returns the response members (ResponseOf) of the action. A missing
// action fails the type check.
import type { Services } from '../../services/index.ts';
import type { ActionRegistry, ExtensionRegistry } from './types.ts';
import type { AttemptService } from '../../services/attempts.ts';

export function buildActions(s: Services): ActionRegistry {
  return {
    // Jobs and tasks
    /** Submit a job (a DAG of tasks); returns its JobId. */
    SubmitJob: (ctx, req) => s.jobs.submitJob(ctx, req),
    /** Full view of one job. */
    DescribeJob: (ctx, req) => s.jobs.describeJob(ctx, req),
    /** Paged list of jobs by JobIds or Filters. */
    DescribeJobs: (ctx, req) => s.jobs.describeJobs(ctx, req),
    /** The job definition as submitted (secrets masked). */
    DescribeJobSubmitInfo: (ctx, req) => s.jobs.describeJobSubmitInfo(ctx, req),
    /** One task with a page of its instances. */
    DescribeTask: (ctx, req) => s.jobs.describeTask(ctx, req),
    /** Stdout/stderr tails of task instances. */
    DescribeTaskLogs: (ctx, req) => s.jobs.describeTaskLogs(ctx, req),
    /** Terminate every instance of a job. */
    TerminateJob: (ctx, req) => s.jobs.terminateJob(ctx, req),
    /** Terminate one task instance. */
    TerminateTaskInstance: (ctx, req) => s.jobs.terminateTaskInstance(ctx, req),
    /** Re-run the failed instances of FAILED jobs. */
    RetryJobs: (ctx, req) => s.jobs.retryJobs(ctx, req),
    /** Delete a finished job. */
    DeleteJob: (ctx, req) => s.jobs.deleteJob(ctx, req),
    /** Resource samples of one task instance. */
    DescribeJobMonitorData: (ctx, req) => s.monitor.describe(ctx, req),
    // Task templates
    /** Store a reusable Task definition under a name. */
    CreateTaskTemplate: (ctx, req) => s.templates.create(ctx, req),
    /** Paged list of task templates by IDs or Filters. */
    DescribeTaskTemplates: (ctx, req) => s.templates.describe(ctx, req),
    /** Change the name, description or task of a template. */
    ModifyTaskTemplate: (ctx, req) => s.templates.modify(ctx, req),
    /** Delete task templates (all or none). */
    DeleteTaskTemplates: (ctx, req) => s.templates.delete(ctx, req),
    // Compute environments
    /** Create a named compute environment of DesiredComputeNodeCount nodes. */
    CreateComputeEnv: (ctx, req) => s.envs.create(ctx, req),
    /** One compute environment with every node. */
    DescribeComputeEnv: (ctx, req) => s.envs.describe(ctx, req),
    /** Paged list of compute environments. */
    DescribeComputeEnvs: (ctx, req) => s.envs.describeEnvs(ctx, req),
    /** The creation parameters of one environment (secrets masked). */
    DescribeComputeEnvCreateInfo: (ctx, req) => s.envs.describeCreateInfo(ctx, req),
    /** Paged list of creation parameters. */
    DescribeComputeEnvCreateInfos: (ctx, req) => s.envs.describeCreateInfos(ctx, req),
    /** Node create/terminate activities of an environment. */
    DescribeComputeEnvActivities: (ctx, req) => s.envs.describeActivities(ctx, req),
    /** Scale an environment, rename it, change its instance types. */
    ModifyComputeEnv: (ctx, req) => s.envs.modify(ctx, req),
    /** Delete an environment (its nodes drain first). */
    DeleteComputeEnv: (ctx, req) => s.envs.delete(ctx, req),
    // Compute nodes and attached instances
    /** Add operator-declared instances to an environment. */
    AttachInstances: (ctx, req) => s.envs.attach(ctx, req),
    /** Remove attached instances from an environment. */
    DetachInstances: (ctx, req) => s.envs.detach(ctx, req),
    /** Destroy one compute node; what ran on it runs again elsewhere. */
    TerminateComputeNode: (ctx, req) => s.envs.terminateNode(ctx, req),
    /** Destroy several compute nodes (no node twice). */
    TerminateComputeNodes: (ctx, req) => s.envs.terminateNodes(ctx, req),
    // Read-only catalogue
    /** Instance types usable by Batch, per zone. */
    DescribeAvailableCvmInstanceTypes: (ctx, req) => s.catalogue.describeAvailableCvmInstanceTypes(ctx, req),
    /** Per-zone instance-type catalogue with stock and price. */
    DescribeCvmZoneInstanceConfigInfos: (ctx, req) => s.catalogue.describeCvmZoneInstanceConfigInfos(ctx, req),
    /** Instance categories and their families. */
    DescribeInstanceCategories: (ctx, req) => s.catalogue.describeInstanceCategories(ctx, req),
  };
}

/** The extension actions (docs/extensions.md). */
export function buildExtensions(s: { attempts: AttemptService }): ExtensionRegistry {
  return {
    /** Every attempt of one instance: number, times, exit, reason, node. */
    DescribeAttempts: (ctx, req) => s.attempts.describeAttempts(ctx, req),
    /** A byte range of one attempt's whole stdout or stderr. */
    DescribeAttemptLog: (ctx, req) => s.attempts.describeAttemptLog(ctx, req),
  };
}
