// The definitions the services stored, read back with their wire types (and changed: withEnvData).
// The store keeps them as JSON-able records it never looks into (store/types.ts: JobSpecData,
// TemplateRecord.info, EnvRecord.info); each was built by a service from a decoded, validated request
// (SubmitJob's Job and Placement through checkJob, a template's Task through checkTask,
// CreateComputeEnv's NamedComputeEnv and Placement, whose EnvData.InstanceTypes ModifyComputeEnv
// changes), so reading it back as that request's type is sound, and these are the only places that
// assert it. Typed domain definitions stored beside the wire echo would replace them.
import type { EnvDataInput, JobInput, NamedComputeEnvInput, PlacementInput, TaskInput } from '../api/models.ts';
import type { EnvRecord, JobRecord, TemplateRecord } from '../store/types.ts';

/** The Job of SubmitJob as checkJob returned it (its tasks with their defaults). */
export function storedJob(job: JobRecord): JobInput {
  return job.spec.job as JobInput;
}

/** The Placement of SubmitJob, as given. */
export function storedJobPlacement(job: JobRecord): PlacementInput {
  return job.spec.placement as PlacementInput;
}

/** A template's Task as checkTask returned it. */
export function storedTemplateTask(t: TemplateRecord): TaskInput {
  return t.info as TaskInput;
}

/** A named environment's definition: CreateComputeEnv's NamedComputeEnv with its defaults filled in,
 *  and its ClientToken if it had one (the store keeps that in a column of its own too). */
export type StoredComputeEnv = NamedComputeEnvInput & { ClientToken?: string };

export function storedComputeEnv(env: EnvRecord): StoredComputeEnv {
  return env.info.ComputeEnv as StoredComputeEnv;
}

/** The Placement of CreateComputeEnv, with ProjectId filled in. */
export function storedEnvPlacement(env: EnvRecord): PlacementInput {
  return env.info.Placement as PlacementInput;
}

/** The definition with another EnvData (ModifyComputeEnv), as the store keeps it. */
export function withEnvData(info: EnvRecord['info'], envData: EnvDataInput): EnvRecord['info'] {
  return { ...info, ComputeEnv: { ...info.ComputeEnv, EnvData: envData } };
}
