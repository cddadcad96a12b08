// What a task asks of object storage besides its logs: InputMappings (objects it sees at local paths
// before its command runs, including those of its named compute environment), OutputMappings (local
// directories uploaded after it ends, with OutputMappingConfigs), a PACKAGE to unpack into its working
// directory, and the COS credentials of its Authentications to do all that with. Derived from the
// stored task (wire shape); pure.

export interface InputSpec {
  /** `cos://…` — an object, or a "directory" (key prefix) when it ends with `/` or names no object. */
  source: string;
  /** Absolute local path where the attempt sees it. */
  target: string;
  /** Where it was given, for reasons (`InputMappings.0`, `ComputeEnv InputMappings.1`). */
  param: string;
}

export interface OutputSpec {
  /** Absolute local directory the attempt writes into. */
  source: string;
  /** `cos://…/` prefix its files go under, keeping their relative paths. */
  target: string;
  param: string;
}

export interface DataSpec {
  inputs: InputSpec[];
  outputs: OutputSpec[];
  /** OutputMappingConfigs (Scene COS): parallel uploads and multipart part size (MB). */
  upload: { workers: number; partMB: number };
  /** PackagePath of a PACKAGE application (`cos://…` or `http(s)://…`, a .tgz / .tar.gz). */
  packagePath: string | null;
  /** The first Authentications entry of Scene COS (the task's, else its environment's). */
  credentials: { secretId: string; secretKey: string } | null;
}

/** Where the environment's own data settings are kept in a stored task (copied at submission from
 *  the named compute environment, whose later changes do not reach submitted jobs). */
export const ENV_DATA_FIELD = 'EnvDataMappings';

/** Defaults of OutputMappingConfigs: 4 workers, 8 MB parts. */
export const DEFAULT_UPLOAD = { workers: 4, partMB: 8 };

type Obj = Record<string, unknown>;
type Mapping = { SourcePath: string; DestinationPath: string };
type Auth = { Scene: string; SecretId: string; SecretKey: string };

/** The task's data features, or null when it has none (the common case: nothing is staged). */
export function dataSpecOf(task: Obj): DataSpec | null {
  const app = (task.Application ?? {}) as Obj;
  const env = (task[ENV_DATA_FIELD] ?? {}) as { InputMappings?: Mapping[]; Authentications?: Auth[] };
  const inputs: InputSpec[] = [
    ...(env.InputMappings ?? []).map((m, i) => ({ source: m.SourcePath, target: m.DestinationPath, param: `ComputeEnv InputMappings.${i}` })),
    ...((task.InputMappings as Mapping[] | undefined) ?? []).map((m, i) => ({ source: m.SourcePath, target: m.DestinationPath, param: `InputMappings.${i}` })),
  ];
  const outputs: OutputSpec[] = ((task.OutputMappings as Mapping[] | undefined) ?? []).map((m, i) => ({
    source: m.SourcePath, target: m.DestinationPath, param: `OutputMappings.${i}`,
  }));
  const packagePath = app.DeliveryForm === 'PACKAGE' && typeof app.PackagePath === 'string' ? app.PackagePath : null;
  if (inputs.length === 0 && outputs.length === 0 && packagePath === null) return null;
  const cfg = ((task.OutputMappingConfigs as { Scene: string; WorkerNum: number; WorkerPartSize: number }[] | undefined) ?? []).find((c) => c.Scene === 'COS');
  const auth = [...((task.Authentications as Auth[] | undefined) ?? []), ...(env.Authentications ?? [])].find((a) => a.Scene === 'COS');
  return {
    inputs, outputs, packagePath,
    upload: { workers: cfg?.WorkerNum || DEFAULT_UPLOAD.workers, partMB: cfg?.WorkerPartSize || DEFAULT_UPLOAD.partMB },
    credentials: auth ? { secretId: auth.SecretId, secretKey: auth.SecretKey } : null,
  };
}

/** A local path as mappings take it: absolute, without a trailing `/` (except `/` itself). */
export function normalTarget(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}
