import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import querystring from 'node:querystring';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { AbstractClient } from 'tencentcloud-sdk-nodejs/tencentcloud/common/abstract_client.js';
import { Client } from 'tencentcloud-sdk-nodejs/tencentcloud/services/batch/v20170312/batch_client.js';
import type * as SDK from 'tencentcloud-sdk-nodejs/tencentcloud/services/batch/v20170312/batch_models.js';
import {
  ACTION_NAMES,
  REQUESTS,
  isActionName,
  type ActionName,
  type RequestOf,
  type ResponseOf,
  type TaskInput,
  type PlacementInput,
  type NamedComputeEnvInput,
  type FilterInput,
} from '../../src/api/models.ts';
import { decodeFlat, decodeJson } from '../../src/api/schema.ts';

// ---------------------------------------------------------------------------------------------------
// Fixture: the request_params (and published flattened forms) of every example in
// /work/shared/api/examples/*.json, copied into the repository (tests never read ../shared).

interface ExampleEntry {
  title: string;
  request_params?: Record<string, unknown>;
  request_flat?: [string, string][];
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/example-requests.json', import.meta.url), 'utf8'),
) as { actions: Record<string, ExampleEntry[]> };

function fixtureCases(): { action: ActionName; entry: ExampleEntry }[] {
  const out: { action: ActionName; entry: ExampleEntry }[] = [];
  for (const [action, entries] of Object.entries(fixture.actions)) {
    if (!isActionName(action)) throw new Error(`fixture has unknown action ${action}`);
    for (const entry of entries) out.push({ action, entry });
  }
  return out;
}
const CASES = fixtureCases();
const WITH_PARAMS = CASES.filter((c) => c.entry.request_params !== undefined).map(
  (c) => [`${c.action}: ${c.entry.title}`, c.action, c.entry.request_params as Record<string, unknown>] as const,
);
const WITH_FLAT = CASES.filter((c) => c.entry.request_flat !== undefined).map(
  (c) => [`${c.action}: ${c.entry.title}`, c.action, c.entry] as const,
);

// ---------------------------------------------------------------------------------------------------
// The SDK's own flattening (AbstractClient#mergeData, used for v1-signature requests), then the wire
// encoding (querystring.stringify) and the server-side parse (URLSearchParams).

const mergeData = (AbstractClient.prototype as unknown as { mergeData(data: unknown, prefix?: string): Record<string, unknown> })
  .mergeData;

function sdkFlatten(req: unknown): Map<string, string> {
  const merged = mergeData.call(AbstractClient.prototype, req);
  const wire = querystring.stringify(merged as querystring.ParsedUrlQueryInput);
  return new Map(new URLSearchParams(wire));
}

// ---------------------------------------------------------------------------------------------------

describe('action list', () => {
  it('has 30 distinct actions, each with a request schema named after it', () => {
    expect(ACTION_NAMES).toHaveLength(30);
    expect(new Set(ACTION_NAMES).size).toBe(30);
    expect(Object.keys(REQUESTS).sort()).toEqual([...ACTION_NAMES].sort());
    for (const a of ACTION_NAMES) expect(REQUESTS[a].name).toBe(a);
    expect(isActionName('SubmitJob')).toBe(true);
    expect(isActionName('submitJob')).toBe(false);
    expect(isActionName('constructor')).toBe(false);
  });

  it('equals the methods of the SDK batch Client', () => {
    const methods = Object.getOwnPropertyNames(Client.prototype).filter((n) => n !== 'constructor');
    expect([...ACTION_NAMES].sort()).toEqual(methods.sort());
  });

  it('equals the methods declared in batch_client.d.ts', () => {
    const require = createRequire(import.meta.url);
    const js = require.resolve('tencentcloud-sdk-nodejs/tencentcloud/services/batch/v20170312/batch_client.js');
    const dts = readFileSync(js.replace(/\.js$/, '.d.ts'), 'utf8');
    const declared = [...dts.matchAll(/^\s{4}([A-Z][A-Za-z0-9]*)\(req\??:/gm)].map((m) => m[1] as string);
    expect(declared.sort()).toEqual([...ACTION_NAMES].sort());
  });

  it('has at least one published example per action in the fixture', () => {
    expect(Object.keys(fixture.actions).sort()).toEqual([...ACTION_NAMES].sort());
    for (const a of ACTION_NAMES) {
      expect(fixture.actions[a]?.some((e) => e.request_params !== undefined), a).toBe(true);
    }
    expect(WITH_PARAMS.length).toBeGreaterThanOrEqual(31);
  });
});

describe('published examples (JSON)', () => {
  it.each(WITH_PARAMS)('%s decodes to a deep-equal value', (_title, action, params) => {
    const decoded = decodeJson(REQUESTS[action], structuredClone(params));
    expect(decoded).toEqual(params);
  });
});

describe('published examples (flattened)', () => {
  it.each(WITH_PARAMS)('%s: decodeFlat(SDK mergeData(x)) equals decodeJson(x)', (_title, action, params) => {
    const schema = REQUESTS[action];
    expect(decodeFlat(schema, sdkFlatten(params))).toEqual(decodeJson(schema, params));
  });

  it.each(WITH_FLAT)('%s: the published GET form decodes, and matches its JSON form', (_title, action, entry) => {
    const schema = REQUESTS[action];
    const params = new Map(entry.request_flat);
    const decoded = decodeFlat(schema, params);
    if (entry.request_params !== undefined) expect(decoded).toEqual(decodeJson(schema, entry.request_params));
    // and the SDK flattens the decoded value back to exactly the published names and texts
    expect(sdkFlatten(decoded)).toEqual(params);
  });

  it('flattens booleans, floats and nested arrays the way the decoder expects', () => {
    const x: RequestOf<'SubmitJob'> = {
      Placement: { Zone: 'ap-guangzhou-2', ProjectId: 0, HostIds: ['host-1', 'host-2'] },
      Job: {
        Priority: 0,
        Tasks: [
          {
            TaskName: 'a b&c=d',
            Application: { DeliveryForm: 'LOCAL', Commands: [{ Command: 'echo 1' }, { Command: 'echo ü' }] },
            RestartComputeNode: false,
            ComputeEnv: {
              EnvData: {
                DataDisks: [{ DiskSize: 50, DeleteWithInstance: true, Encrypt: false }],
                EnhancedService: { MonitorService: { Enabled: false } },
                InstanceTypeOptions: { CPU: 2, Memory: 4, InstanceCategories: ['ALL'] },
                VirtualPrivateClouds: [{ VpcId: 'vpc-1', SubnetId: 'subnet-1', PrivateIpAddresses: ['10.0.0.1'] }],
              },
            },
          },
        ],
        Notifications: [{ TopicName: 't', EventConfigs: [{ EventName: 'JOB_FAILED', EventVars: [{ Name: 'k', Value: 'v' }] }] }],
        Dependences: [],
      },
    };
    const flat = sdkFlatten(x);
    expect(flat.get('Job.Tasks.0.ComputeEnv.EnvData.DataDisks.0.DeleteWithInstance')).toBe('true');
    // empty arrays are simply not sent (§a.3), so they decode as absent
    const { Dependences: _dropped, ...jobWithoutEmpty } = x.Job;
    expect(decodeFlat(REQUESTS.SubmitJob, flat)).toEqual({ ...x, Job: jobWithoutEmpty });
  });
});

// ---------------------------------------------------------------------------------------------------
// The real SDK client against a local capture server: what it puts on the wire for every example, in
// TC3 POST (JSON), TC3 GET and v1 HmacSHA256 GET, decodes to the example value.

const COMMON_PARAMS = new Set([
  'Action',
  'Version',
  'Region',
  'Timestamp',
  'Nonce',
  'SecretId',
  'SignatureMethod',
  'Signature',
  'Token',
  'Language',
  'RequestClient',
]);

describe('the official Node SDK on the wire', () => {
  let server: http.Server;
  let port = 0;
  let last: { method: string; url: string; body: string } | undefined;

  beforeAll(async () => {
    server = http.createServer((rq, rs) => {
      const chunks: Buffer[] = [];
      rq.on('data', (c: Buffer) => chunks.push(c));
      rq.on('end', () => {
        last = { method: rq.method ?? '', url: rq.url ?? '', body: Buffer.concat(chunks).toString('utf8') };
        rs.writeHead(200, { 'Content-Type': 'application/json' });
        rs.end(JSON.stringify({ Response: { RequestId: '00000000-0000-4000-8000-000000000000' } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function client(signMethod: 'TC3-HMAC-SHA256' | 'HmacSHA256', reqMethod: 'GET' | 'POST'): Client {
    return new Client({
      credential: { secretId: 'AKIDexample', secretKey: 'example-secret' },
      region: 'ap-guangzhou',
      profile: {
        signMethod,
        httpProfile: { endpoint: `127.0.0.1:${port}`, protocol: 'http://', reqMethod, agent: new http.Agent() },
      },
    });
  }

  async function send(c: Client, action: ActionName, params: unknown): Promise<{ method: string; url: string; body: string }> {
    last = undefined;
    const call = (c as unknown as Record<string, (req: unknown) => Promise<unknown>>)[action];
    if (call === undefined) throw new Error(`no SDK method ${action}`);
    await call.call(c, structuredClone(params));
    if (last === undefined) throw new Error('nothing captured');
    return last;
  }

  function queryParams(url: string): Map<string, string> {
    const q = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    const out = new Map<string, string>();
    for (const [k, v] of new URLSearchParams(q)) if (!COMMON_PARAMS.has(k)) out.set(k, v);
    return out;
  }

  it.each(WITH_PARAMS)('%s', async (_title, action, params) => {
    const schema = REQUESTS[action];
    const expected = decodeJson(schema, params);

    const post = await send(client('TC3-HMAC-SHA256', 'POST'), action, params);
    expect(post.method).toBe('POST');
    expect(decodeJson(schema, JSON.parse(post.body))).toEqual(expected);

    const tc3Get = await send(client('TC3-HMAC-SHA256', 'GET'), action, params);
    expect(tc3Get.method).toBe('GET');
    expect(decodeFlat(schema, queryParams(tc3Get.url))).toEqual(expected);

    const v1Get = await send(client('HmacSHA256', 'GET'), action, params);
    expect(new URLSearchParams(v1Get.url.slice(v1Get.url.indexOf('?') + 1)).get('Action')).toBe(action);
    expect(decodeFlat(schema, queryParams(v1Get.url))).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------------------------------
// Type level: the inferred request types are what the SDK's types say clients send.

type SdkRequests = {
  SubmitJob: SDK.SubmitJobRequest;
  DescribeJob: SDK.DescribeJobRequest;
  DescribeJobs: SDK.DescribeJobsRequest;
  DescribeJobSubmitInfo: SDK.DescribeJobSubmitInfoRequest;
  DescribeTask: SDK.DescribeTaskRequest;
  DescribeTaskLogs: SDK.DescribeTaskLogsRequest;
  DescribeJobMonitorData: SDK.DescribeJobMonitorDataRequest;
  TerminateJob: SDK.TerminateJobRequest;
  TerminateTaskInstance: SDK.TerminateTaskInstanceRequest;
  RetryJobs: SDK.RetryJobsRequest;
  DeleteJob: SDK.DeleteJobRequest;
  CreateTaskTemplate: SDK.CreateTaskTemplateRequest;
  DescribeTaskTemplates: SDK.DescribeTaskTemplatesRequest;
  ModifyTaskTemplate: SDK.ModifyTaskTemplateRequest;
  DeleteTaskTemplates: SDK.DeleteTaskTemplatesRequest;
  CreateComputeEnv: SDK.CreateComputeEnvRequest;
  DescribeComputeEnv: SDK.DescribeComputeEnvRequest;
  DescribeComputeEnvs: SDK.DescribeComputeEnvsRequest;
  DescribeComputeEnvCreateInfo: SDK.DescribeComputeEnvCreateInfoRequest;
  DescribeComputeEnvCreateInfos: SDK.DescribeComputeEnvCreateInfosRequest;
  DescribeComputeEnvActivities: SDK.DescribeComputeEnvActivitiesRequest;
  ModifyComputeEnv: SDK.ModifyComputeEnvRequest;
  DeleteComputeEnv: SDK.DeleteComputeEnvRequest;
  AttachInstances: SDK.AttachInstancesRequest;
  DetachInstances: SDK.DetachInstancesRequest;
  TerminateComputeNode: SDK.TerminateComputeNodeRequest;
  TerminateComputeNodes: SDK.TerminateComputeNodesRequest;
  DescribeAvailableCvmInstanceTypes: SDK.DescribeAvailableCvmInstanceTypesRequest;
  DescribeCvmZoneInstanceConfigInfos: SDK.DescribeCvmZoneInstanceConfigInfosRequest;
  // The SDK types this one as `null` (it sends `{}`).
  DescribeInstanceCategories: {};
};

/** Normalises both sides for an exact comparison: the SDK allows bigint where we decode numbers. */
type Shape<T> = T extends bigint
  ? number
  : T extends readonly (infer E)[]
    ? Shape<E>[]
    : T extends object
      ? { [K in keyof T]: Shape<T[K]> }
      : T;

describe('types', () => {
  it('inferred requests of SubmitJob, DescribeTask, DescribeJobs, CreateComputeEnv are assignable to the SDK types', () => {
    expectTypeOf<RequestOf<'SubmitJob'>>().toExtend<SDK.SubmitJobRequest>();
    expectTypeOf<RequestOf<'DescribeTask'>>().toExtend<SDK.DescribeTaskRequest>();
    expectTypeOf<RequestOf<'DescribeJobs'>>().toExtend<SDK.DescribeJobsRequest>();
    expectTypeOf<RequestOf<'CreateComputeEnv'>>().toExtend<SDK.CreateComputeEnvRequest>();
    expectTypeOf<TaskInput>().toExtend<SDK.Task>();
    expectTypeOf<PlacementInput>().toExtend<SDK.Placement>();
    expectTypeOf<NamedComputeEnvInput>().toExtend<SDK.NamedComputeEnv>();
    expectTypeOf<FilterInput>().toExtend<SDK.Filter>();
    expectTypeOf<RequestOf<'DescribeComputeEnvActivities'>['Filters']>().toEqualTypeOf<FilterInput | undefined>();
  });

  it('every inferred request has exactly the members, Required flags and types of the SDK request', () => {
    expectTypeOf<{ [A in ActionName]: Shape<RequestOf<A>> }>().toEqualTypeOf<{ [A in ActionName]: Shape<SdkRequests[A]> }>();
    expectTypeOf<Shape<RequestOf<'SubmitJob'>>>().toEqualTypeOf<Shape<SDK.SubmitJobRequest>>();
    expectTypeOf<Shape<RequestOf<'CreateComputeEnv'>>>().toEqualTypeOf<Shape<SDK.CreateComputeEnvRequest>>();
    expectTypeOf<Shape<RequestOf<'DescribeTaskLogs'>>>().toEqualTypeOf<Shape<SDK.DescribeTaskLogsRequest>>();
    // and the SDK's request types are accepted by ours (nothing we require is optional for the SDK)
    expectTypeOf<Shape<SDK.SubmitJobRequest>>().toExtend<RequestOf<'SubmitJob'>>();
  });
});

// ---------------------------------------------------------------------------------------------------
// Type level: the response types are what the SDK's types say the service answers (without RequestId,
// which the pipeline adds).

type SdkResponses = {
  SubmitJob: SDK.SubmitJobResponse;
  DescribeJob: SDK.DescribeJobResponse;
  DescribeJobs: SDK.DescribeJobsResponse;
  DescribeJobSubmitInfo: SDK.DescribeJobSubmitInfoResponse;
  DescribeTask: SDK.DescribeTaskResponse;
  DescribeTaskLogs: SDK.DescribeTaskLogsResponse;
  DescribeJobMonitorData: SDK.DescribeJobMonitorDataResponse;
  TerminateJob: SDK.TerminateJobResponse;
  TerminateTaskInstance: SDK.TerminateTaskInstanceResponse;
  RetryJobs: SDK.RetryJobsResponse;
  DeleteJob: SDK.DeleteJobResponse;
  CreateTaskTemplate: SDK.CreateTaskTemplateResponse;
  DescribeTaskTemplates: SDK.DescribeTaskTemplatesResponse;
  ModifyTaskTemplate: SDK.ModifyTaskTemplateResponse;
  DeleteTaskTemplates: SDK.DeleteTaskTemplatesResponse;
  CreateComputeEnv: SDK.CreateComputeEnvResponse;
  DescribeComputeEnv: SDK.DescribeComputeEnvResponse;
  DescribeComputeEnvs: SDK.DescribeComputeEnvsResponse;
  DescribeComputeEnvCreateInfo: SDK.DescribeComputeEnvCreateInfoResponse;
  DescribeComputeEnvCreateInfos: SDK.DescribeComputeEnvCreateInfosResponse;
  DescribeComputeEnvActivities: SDK.DescribeComputeEnvActivitiesResponse;
  ModifyComputeEnv: SDK.ModifyComputeEnvResponse;
  DeleteComputeEnv: SDK.DeleteComputeEnvResponse;
  AttachInstances: SDK.AttachInstancesResponse;
  DetachInstances: SDK.DetachInstancesResponse;
  TerminateComputeNode: SDK.TerminateComputeNodeResponse;
  TerminateComputeNodes: SDK.TerminateComputeNodesResponse;
  DescribeAvailableCvmInstanceTypes: SDK.DescribeAvailableCvmInstanceTypesResponse;
  DescribeCvmZoneInstanceConfigInfos: SDK.DescribeCvmZoneInstanceConfigInfosResponse;
  DescribeInstanceCategories: SDK.DescribeInstanceCategoriesResponse;
};

/** Normalises both sides of a response for an exact comparison: bigint as number, null left out (the
 *  SDK's types have none; the nulls are pinned below), every member required (the SDK marks all of
 *  them optional), and an answer without members ({[member: string]: never}) as {}. */
type Answer<T> = T extends bigint
  ? number
  : T extends readonly (infer E)[]
    ? Answer<Exclude<E, null>>[]
    : T extends object
      ? string extends keyof T
        ? {}
        : { [K in keyof T]-?: Answer<Exclude<T[K], null | undefined>> }
      : T;

/** The members of T that may be null, as paths (`P.Member`, `.N` for an array element). */
type Nulls<T, P extends string> = [T] extends [never]
  ? never
  :
      | (null extends T ? P : never)
      | (NonNullable<T> extends readonly (infer E)[]
          ? Nulls<E, `${P}.N`>
          : NonNullable<T> extends object
            ? { [K in keyof NonNullable<T> & string]-?: Nulls<NonNullable<T>[K], `${P}.${K}`> }[keyof NonNullable<T> & string]
            : never);

describe('response types', () => {
  it('every response has exactly the members and types of the SDK response, without RequestId', () => {
    expectTypeOf<{ [A in ActionName]: Answer<ResponseOf<A>> }>().toEqualTypeOf<{ [A in ActionName]: Answer<Omit<SdkResponses[A], 'RequestId'>> }>();
    expectTypeOf<Answer<ResponseOf<'DescribeTask'>>>().toEqualTypeOf<Answer<Omit<SDK.DescribeTaskResponse, 'RequestId'>>>();
    expectTypeOf<Answer<ResponseOf<'DescribeCvmZoneInstanceConfigInfos'>>>().toEqualTypeOf<Answer<Omit<SDK.DescribeCvmZoneInstanceConfigInfosResponse, 'RequestId'>>>();
    expectTypeOf<Answer<ResponseOf<'DescribeJobSubmitInfo'>>>().toEqualTypeOf<Answer<Omit<SDK.DescribeJobSubmitInfoResponse, 'RequestId'>>>();
  });

  it('answers null exactly where docs/compat.md says ("Nullable members", DescribeJobMonitorData gaps)', () => {
    // COMPAT: the spec marks these "may be null"; the SDK's types do not say so
    expectTypeOf<{ [A in ActionName]: Nulls<ResponseOf<A>, A> }[ActionName]>().toEqualTypeOf<
      | 'DescribeJob.TaskSet.N.EndTime'
      | 'DescribeJobs.JobSet.N.EndTime'
      | 'DescribeTask.TaskInstanceSet.N.ExitCode'
      | 'DescribeTask.TaskInstanceSet.N.ComputeNodeInstanceId'
      | 'DescribeTask.TaskInstanceSet.N.LaunchTime'
      | 'DescribeTask.TaskInstanceSet.N.RunningTime'
      | 'DescribeTask.TaskInstanceSet.N.EndTime'
      | 'DescribeTaskLogs.TaskInstanceLogSet.N.StdoutLog'
      | 'DescribeTaskLogs.TaskInstanceLogSet.N.StderrLog'
      | 'DescribeJobMonitorData.DataPoints.Values.N'
      | 'DescribeComputeEnvActivities.ActivitySet.N.EndTime'
      | 'DescribeComputeEnvActivities.ActivitySet.N.InstanceId'
    >();
  });
});
