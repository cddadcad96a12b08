// Schemas of every request (input-side) structure of the Batch API 2017-03-12 (batch-api.md §c) and of
// the request parameters of all 30 actions (§b), with the published member names, types and Required
// flags; and, as types only, the responses of all 30 actions (ResponseOf, at the end). Integer(int64)
// → int, Integer(uint64) → uint, Float → float, Boolean → bool, String → str, "Array of X" → arr(X).
//
// Output-only members that the SDK models declare on the same structures (DataDisk.DiskId,
// SystemDisk.DiskId, Placement.HostId, Placement.RackId) are accepted as optional input: the SDK types
// allow clients to send them, e.g. when they echo a DescribeJobSubmitInfo result back into SubmitJob.
//
// Semantic limits (§f.2: name lengths, Limit maxima, list sizes, mutually exclusive members, ...) are
// not part of these schemas; the services enforce them with their specific error codes.
//
// The schemas were checked member by member against the Node SDK's batch_models.d.ts (4.1.313); the
// two agree on every member name and Required flag (the test suite asserts this at the type level).

import { arr, bool, int, obj, opt, req, str, uint, type Infer, type ObjectSchema, type FieldDefs } from './schema.ts';

// ---------------------------------------------------------------------------------------------------
// Leaf structures

export const Tag = obj('Tag', {
  Key: req(str),
  Value: req(str),
});

export const Filter = obj('Filter', {
  Name: req(str),
  Values: req(arr(str)),
});

export const Dimension = obj('Dimension', {
  Name: req(str),
  Value: req(str),
});

export const Dependence = obj('Dependence', {
  StartTask: req(str),
  EndTask: req(str),
});

export const EnvVar = obj('EnvVar', {
  Name: req(str),
  Value: req(str),
});

export const EventVar = obj('EventVar', {
  Name: req(str),
  Value: req(str),
});

export const EventConfig = obj('EventConfig', {
  EventName: req(str),
  EventVars: req(arr(EventVar)),
});

export const Notification = obj('Notification', {
  TopicName: req(str),
  EventConfigs: req(arr(EventConfig)),
});

export const Authentication = obj('Authentication', {
  Scene: req(str),
  SecretId: req(str),
  SecretKey: req(str),
});

export const AgentRunningMode = obj('AgentRunningMode', {
  Scene: req(str),
  User: req(str),
  Session: req(str),
});

export const MountDataDisk = obj('MountDataDisk', {
  LocalPath: req(str),
  FileSystemType: opt(str),
});

export const InputMapping = obj('InputMapping', {
  SourcePath: req(str),
  DestinationPath: req(str),
  MountOptionParameter: opt(str),
  MountType: opt(str),
});

export const OutputMappingOption = obj('OutputMappingOption', {
  Workspace: opt(str),
});

export const OutputMapping = obj('OutputMapping', {
  SourcePath: req(str),
  DestinationPath: req(str),
  OutputMappingOption: opt(OutputMappingOption),
});

export const OutputMappingConfig = obj('OutputMappingConfig', {
  Scene: req(str),
  WorkerNum: req(int),
  WorkerPartSize: req(int),
});

export const RedirectInfo = obj('RedirectInfo', {
  StdoutRedirectPath: opt(str),
  StderrRedirectPath: opt(str),
  StdoutRedirectFileName: opt(str),
  StderrRedirectFileName: opt(str),
});

export const RedirectLocalInfo = obj('RedirectLocalInfo', {
  StdoutLocalPath: opt(str),
  StderrLocalPath: opt(str),
  StdoutLocalFileName: opt(str),
  StderrLocalFileName: opt(str),
});

// ---------------------------------------------------------------------------------------------------
// CVM-mirroring structures (stored and echoed; §c preamble)

export const Placement = obj('Placement', {
  Zone: req(str),
  ProjectId: opt(int),
  HostIds: opt(arr(str)),
  HostId: opt(str), // output only
  DedicatedResourcePackTenancy: opt(str),
  DedicatedResourcePackIds: opt(arr(str)),
  RackId: opt(str), // output only
});

export const SystemDisk = obj('SystemDisk', {
  DiskType: opt(str),
  DiskId: opt(str), // output only
  DiskSize: opt(int),
  CdcId: opt(str),
  DiskName: opt(str),
  Encrypt: opt(bool),
  KmsKeyId: opt(str),
});

export const DataDisk = obj('DataDisk', {
  DiskSize: req(int),
  DiskType: opt(str),
  DiskId: opt(str), // output only
  DeleteWithInstance: opt(bool),
  SnapshotId: opt(str),
  Encrypt: opt(bool),
  KmsKeyId: opt(str),
  ThroughputPerformance: opt(int),
  CdcId: opt(str),
  BurstPerformance: opt(bool),
  DiskName: opt(str),
});

export const VirtualPrivateCloud = obj('VirtualPrivateCloud', {
  VpcId: req(str),
  SubnetId: req(str),
  AsVpcGateway: opt(bool),
  PrivateIpAddresses: opt(arr(str)),
  Ipv6AddressCount: opt(uint),
});

export const InternetAccessible = obj('InternetAccessible', {
  InternetChargeType: opt(str),
  InternetMaxBandwidthOut: opt(int),
  PublicIpAssigned: opt(bool),
  BandwidthPackageId: opt(str),
  InternetServiceProvider: opt(str),
  IPv4AddressType: opt(str),
  IPv6AddressType: opt(str),
  AntiDDoSPackageId: opt(str),
});

export const LoginSettings = obj('LoginSettings', {
  Password: opt(str),
  KeyIds: opt(arr(str)),
  KeepImageLogin: opt(str),
});

export const RunSecurityServiceEnabled = obj('RunSecurityServiceEnabled', {
  Enabled: opt(bool),
});

export const RunMonitorServiceEnabled = obj('RunMonitorServiceEnabled', {
  Enabled: opt(bool),
});

export const RunAutomationServiceEnabled = obj('RunAutomationServiceEnabled', {
  Enabled: opt(bool),
});

export const EnhancedService = obj('EnhancedService', {
  SecurityService: opt(RunSecurityServiceEnabled),
  MonitorService: opt(RunMonitorServiceEnabled),
  AutomationService: opt(RunAutomationServiceEnabled),
});

export const SpotMarketOptions = obj('SpotMarketOptions', {
  MaxPrice: req(str),
  SpotInstanceType: opt(str),
});

export const InstanceMarketOptionsRequest = obj('InstanceMarketOptionsRequest', {
  SpotOptions: req(SpotMarketOptions),
  MarketType: opt(str),
});

export const InstanceTypeOptions = obj('InstanceTypeOptions', {
  CPU: req(uint),
  Memory: req(uint),
  InstanceCategories: opt(arr(str)),
});

// ---------------------------------------------------------------------------------------------------
// Compute environments

export const EnvData = obj('EnvData', {
  InstanceType: opt(str),
  ImageId: opt(str),
  SystemDisk: opt(SystemDisk),
  DataDisks: opt(arr(DataDisk)),
  VirtualPrivateCloud: opt(VirtualPrivateCloud),
  InternetAccessible: opt(InternetAccessible),
  InstanceName: opt(str),
  LoginSettings: opt(LoginSettings),
  SecurityGroupIds: opt(arr(str)),
  EnhancedService: opt(EnhancedService),
  InstanceChargeType: opt(str),
  InstanceMarketOptions: opt(InstanceMarketOptionsRequest),
  InstanceTypes: opt(arr(str)),
  InstanceTypeOptions: opt(InstanceTypeOptions),
  Zones: opt(arr(str)),
  VirtualPrivateClouds: opt(arr(VirtualPrivateCloud)),
});

export const AnonymousComputeEnv = obj('AnonymousComputeEnv', {
  EnvType: opt(str),
  EnvData: opt(EnvData),
  MountDataDisks: opt(arr(MountDataDisk)),
  AgentRunningMode: opt(AgentRunningMode),
});

export const NamedComputeEnv = obj('NamedComputeEnv', {
  EnvName: req(str),
  DesiredComputeNodeCount: req(int),
  EnvDescription: opt(str),
  EnvType: opt(str),
  EnvData: opt(EnvData),
  MountDataDisks: opt(arr(MountDataDisk)),
  Authentications: opt(arr(Authentication)),
  InputMappings: opt(arr(InputMapping)),
  AgentRunningMode: opt(AgentRunningMode),
  Notifications: opt(arr(Notification)),
  ActionIfComputeNodeInactive: opt(str),
  ResourceMaxRetryCount: opt(int),
  Tags: opt(arr(Tag)),
  NotificationTarget: opt(str),
});

export const ComputeEnvData = obj('ComputeEnvData', {
  InstanceTypes: req(arr(str)),
});

export const Instance = obj('Instance', {
  InstanceId: req(str),
  ImageId: opt(str),
  LoginSettings: opt(LoginSettings),
});

// ---------------------------------------------------------------------------------------------------
// Jobs and tasks

export const CommandLine = obj('CommandLine', {
  Command: req(str),
});

export const Docker = obj('Docker', {
  Image: req(str),
  User: opt(str),
  Password: opt(str),
  Server: opt(str),
  MaxRetryCount: opt(uint),
  DelayOnRetry: opt(uint),
  DockerRunOption: opt(str),
});

export const Application = obj('Application', {
  DeliveryForm: req(str),
  Command: opt(str),
  PackagePath: opt(str),
  Docker: opt(Docker),
  Commands: opt(arr(CommandLine)),
});

export const Task = obj('Task', {
  Application: req(Application),
  TaskName: opt(str),
  TaskInstanceNum: opt(uint),
  ComputeEnv: opt(AnonymousComputeEnv),
  EnvId: opt(str),
  RedirectInfo: opt(RedirectInfo),
  RedirectLocalInfo: opt(RedirectLocalInfo),
  InputMappings: opt(arr(InputMapping)),
  OutputMappings: opt(arr(OutputMapping)),
  OutputMappingConfigs: opt(arr(OutputMappingConfig)),
  EnvVars: opt(arr(EnvVar)),
  Authentications: opt(arr(Authentication)),
  FailedAction: opt(str),
  MaxRetryCount: opt(uint),
  Timeout: opt(uint),
  MaxConcurrentNum: opt(uint),
  RestartComputeNode: opt(bool),
  ResourceMaxRetryCount: opt(uint),
});

export const Job = obj('Job', {
  Tasks: req(arr(Task)),
  JobName: opt(str),
  JobDescription: opt(str),
  Priority: opt(uint),
  Dependences: opt(arr(Dependence)),
  Notifications: opt(arr(Notification)),
  TaskExecutionDependOn: opt(str),
  StateIfCreateCvmFailed: opt(str),
  Tags: opt(arr(Tag)),
  NotificationTarget: opt(str),
});

// ---------------------------------------------------------------------------------------------------
// Inferred structure types

export type TagInput = Infer<typeof Tag>;
export type FilterInput = Infer<typeof Filter>;
export type DimensionInput = Infer<typeof Dimension>;
export type DependenceInput = Infer<typeof Dependence>;
export type EnvVarInput = Infer<typeof EnvVar>;
export type EventVarInput = Infer<typeof EventVar>;
export type EventConfigInput = Infer<typeof EventConfig>;
export type NotificationInput = Infer<typeof Notification>;
export type AuthenticationInput = Infer<typeof Authentication>;
export type AgentRunningModeInput = Infer<typeof AgentRunningMode>;
export type MountDataDiskInput = Infer<typeof MountDataDisk>;
export type InputMappingInput = Infer<typeof InputMapping>;
export type OutputMappingOptionInput = Infer<typeof OutputMappingOption>;
export type OutputMappingInput = Infer<typeof OutputMapping>;
export type OutputMappingConfigInput = Infer<typeof OutputMappingConfig>;
export type RedirectInfoInput = Infer<typeof RedirectInfo>;
export type RedirectLocalInfoInput = Infer<typeof RedirectLocalInfo>;
export type PlacementInput = Infer<typeof Placement>;
export type SystemDiskInput = Infer<typeof SystemDisk>;
export type DataDiskInput = Infer<typeof DataDisk>;
export type VirtualPrivateCloudInput = Infer<typeof VirtualPrivateCloud>;
export type InternetAccessibleInput = Infer<typeof InternetAccessible>;
export type LoginSettingsInput = Infer<typeof LoginSettings>;
export type RunSecurityServiceEnabledInput = Infer<typeof RunSecurityServiceEnabled>;
export type RunMonitorServiceEnabledInput = Infer<typeof RunMonitorServiceEnabled>;
export type RunAutomationServiceEnabledInput = Infer<typeof RunAutomationServiceEnabled>;
export type EnhancedServiceInput = Infer<typeof EnhancedService>;
export type SpotMarketOptionsInput = Infer<typeof SpotMarketOptions>;
export type InstanceMarketOptionsRequestInput = Infer<typeof InstanceMarketOptionsRequest>;
export type InstanceTypeOptionsInput = Infer<typeof InstanceTypeOptions>;
export type EnvDataInput = Infer<typeof EnvData>;
export type AnonymousComputeEnvInput = Infer<typeof AnonymousComputeEnv>;
export type NamedComputeEnvInput = Infer<typeof NamedComputeEnv>;
export type ComputeEnvDataInput = Infer<typeof ComputeEnvData>;
export type InstanceInput = Infer<typeof Instance>;
export type CommandLineInput = Infer<typeof CommandLine>;
export type DockerInput = Infer<typeof Docker>;
export type ApplicationInput = Infer<typeof Application>;
export type TaskInput = Infer<typeof Task>;
export type JobInput = Infer<typeof Job>;

// ---------------------------------------------------------------------------------------------------
// Action requests (§b)

export const ACTION_NAMES = [
  // Jobs and tasks
  'SubmitJob',
  'DescribeJob',
  'DescribeJobs',
  'DescribeJobSubmitInfo',
  'DescribeTask',
  'DescribeTaskLogs',
  'DescribeJobMonitorData',
  'TerminateJob',
  'TerminateTaskInstance',
  'RetryJobs',
  'DeleteJob',
  // Task templates
  'CreateTaskTemplate',
  'DescribeTaskTemplates',
  'ModifyTaskTemplate',
  'DeleteTaskTemplates',
  // Compute environments
  'CreateComputeEnv',
  'DescribeComputeEnv',
  'DescribeComputeEnvs',
  'DescribeComputeEnvCreateInfo',
  'DescribeComputeEnvCreateInfos',
  'DescribeComputeEnvActivities',
  'ModifyComputeEnv',
  'DeleteComputeEnv',
  // Compute nodes and attached instances
  'AttachInstances',
  'DetachInstances',
  'TerminateComputeNode',
  'TerminateComputeNodes',
  // Read-only catalogue
  'DescribeAvailableCvmInstanceTypes',
  'DescribeCvmZoneInstanceConfigInfos',
  'DescribeInstanceCategories',
] as const;

export type ActionName = (typeof ACTION_NAMES)[number];

const ACTION_NAME_SET: ReadonlySet<string> = new Set(ACTION_NAMES);

/** Whether `name` is one of the 30 actions (exact case). */
export function isActionName(name: string): name is ActionName {
  return ACTION_NAME_SET.has(name);
}

export const REQUESTS = {
  // --- Jobs and tasks
  SubmitJob: obj('SubmitJob', {
    Placement: req(Placement),
    Job: req(Job),
    ClientToken: opt(str),
  }),
  DescribeJob: obj('DescribeJob', {
    JobId: req(str),
  }),
  DescribeJobs: obj('DescribeJobs', {
    JobIds: opt(arr(str)),
    Filters: opt(arr(Filter)),
    Offset: opt(int),
    Limit: opt(int),
  }),
  DescribeJobSubmitInfo: obj('DescribeJobSubmitInfo', {
    JobId: req(str),
  }),
  DescribeTask: obj('DescribeTask', {
    JobId: req(str),
    TaskName: req(str),
    Offset: opt(uint),
    Limit: opt(uint),
    Filters: opt(arr(Filter)),
  }),
  DescribeTaskLogs: obj('DescribeTaskLogs', {
    JobId: req(str),
    TaskName: req(str),
    TaskInstanceIndexes: opt(arr(uint)),
    Offset: opt(uint),
    Limit: opt(uint),
  }),
  DescribeJobMonitorData: obj('DescribeJobMonitorData', {
    JobId: req(str),
    TaskName: req(str),
    TaskInstanceIndex: req(int),
    MetricName: req(str),
    StartTime: opt(str), // ISO 8601 UTC; format checked by the monitor service
    EndTime: opt(str),
    Dimensions: opt(arr(Dimension)),
  }),
  TerminateJob: obj('TerminateJob', {
    JobId: req(str),
  }),
  TerminateTaskInstance: obj('TerminateTaskInstance', {
    JobId: req(str),
    TaskName: req(str),
    TaskInstanceIndex: req(int),
  }),
  RetryJobs: obj('RetryJobs', {
    JobIds: req(arr(str)),
  }),
  DeleteJob: obj('DeleteJob', {
    JobId: req(str),
  }),

  // --- Task templates
  CreateTaskTemplate: obj('CreateTaskTemplate', {
    TaskTemplateName: req(str),
    TaskTemplateInfo: req(Task),
    TaskTemplateDescription: opt(str),
    Tags: opt(arr(Tag)),
  }),
  DescribeTaskTemplates: obj('DescribeTaskTemplates', {
    TaskTemplateIds: opt(arr(str)),
    Filters: opt(arr(Filter)),
    Offset: opt(int),
    Limit: opt(int),
  }),
  ModifyTaskTemplate: obj('ModifyTaskTemplate', {
    TaskTemplateId: req(str),
    TaskTemplateName: opt(str),
    TaskTemplateDescription: opt(str),
    TaskTemplateInfo: opt(Task),
  }),
  DeleteTaskTemplates: obj('DeleteTaskTemplates', {
    TaskTemplateIds: req(arr(str)),
  }),

  // --- Compute environments
  CreateComputeEnv: obj('CreateComputeEnv', {
    ComputeEnv: req(NamedComputeEnv),
    Placement: req(Placement),
    ClientToken: opt(str),
  }),
  DescribeComputeEnv: obj('DescribeComputeEnv', {
    EnvId: req(str),
  }),
  DescribeComputeEnvs: obj('DescribeComputeEnvs', {
    EnvIds: opt(arr(str)),
    Filters: opt(arr(Filter)),
    Offset: opt(uint),
    Limit: opt(uint),
  }),
  DescribeComputeEnvCreateInfo: obj('DescribeComputeEnvCreateInfo', {
    EnvId: req(str),
  }),
  DescribeComputeEnvCreateInfos: obj('DescribeComputeEnvCreateInfos', {
    EnvIds: opt(arr(str)),
    Filters: opt(arr(Filter)),
    Offset: opt(uint),
    Limit: opt(uint),
  }),
  DescribeComputeEnvActivities: obj('DescribeComputeEnvActivities', {
    EnvId: req(str),
    Offset: opt(int),
    Limit: opt(int),
    // A single Filter object, not an array (§a.3, §h.2): `Filters.Name=…&Filters.Values.0=…`.
    Filters: opt(Filter),
  }),
  ModifyComputeEnv: obj('ModifyComputeEnv', {
    EnvId: req(str),
    DesiredComputeNodeCount: opt(int),
    EnvName: opt(str),
    EnvDescription: opt(str),
    EnvData: opt(ComputeEnvData),
  }),
  DeleteComputeEnv: obj('DeleteComputeEnv', {
    EnvId: req(str),
  }),

  // --- Compute nodes and attached instances
  AttachInstances: obj('AttachInstances', {
    EnvId: req(str),
    Instances: req(arr(Instance)),
  }),
  DetachInstances: obj('DetachInstances', {
    EnvId: req(str),
    InstanceIds: req(arr(str)),
  }),
  TerminateComputeNode: obj('TerminateComputeNode', {
    EnvId: req(str),
    ComputeNodeId: req(str),
  }),
  TerminateComputeNodes: obj('TerminateComputeNodes', {
    EnvId: req(str),
    ComputeNodeIds: req(arr(str)),
  }),

  // --- Read-only catalogue
  DescribeAvailableCvmInstanceTypes: obj('DescribeAvailableCvmInstanceTypes', {
    Filters: opt(arr(Filter)),
  }),
  DescribeCvmZoneInstanceConfigInfos: obj('DescribeCvmZoneInstanceConfigInfos', {
    Filters: opt(arr(Filter)),
  }),
  // The SDK types this request as `null` and sends `{}`; any member is an unknown parameter.
  DescribeInstanceCategories: obj('DescribeInstanceCategories', {}),
} as const satisfies { [A in ActionName]: ObjectSchema<FieldDefs> };

export type RequestOf<A extends ActionName> = Infer<(typeof REQUESTS)[A]>;

// ---------------------------------------------------------------------------------------------------
// Responses (§b "Response fields", §c output structures)
//
// Types only: no decoder reads a response, the services build their answers with these. A member is
// required where OpenBatch always answers it and optional where it does not (the SDK marks every
// response member optional). RequestId is not part of a response type: the pipeline adds it.
// test/unit/models.test.ts pins every ResponseOf<A> to the SDK's `AResponse` type: the same members
// with the same types, optionality and null aside.
//
// COMPAT: members the spec marks "may be null" are typed `| null` where OpenBatch answers null for
// "no value" (docs/compat.md, "Nullable members"); the SDK's types leave null out. The same test
// lists every such member, so a new null is a deliberate change.
//
// Structures that are request structures too (Placement, Tag, Dependence, Task, EnvData,
// MountDataDisk, InputMapping, Authentication, Notification, RedirectInfo) are their inferred types.

/** Instance counts per state (TaskMetrics and TaskInstanceMetrics have the same members). */
export interface TaskMetrics {
  SubmittedCount: number;
  PendingCount: number;
  RunnableCount: number;
  StartingCount: number;
  RunningCount: number;
  SucceedCount: number;
  FailedCount: number;
  FailedInterruptedCount: number;
}

export type TaskInstanceMetrics = TaskMetrics;

export interface TaskView {
  TaskName: string;
  TaskState: string;
  CreateTime: string;
  EndTime: string | null;
}

export interface JobView {
  JobId: string;
  JobName: string;
  JobState: string;
  Priority: number;
  Placement: PlacementInput;
  CreateTime: string;
  EndTime: string | null;
  TaskMetrics: TaskMetrics;
  Tags: TagInput[];
}

/** RedirectInfo as answered: every member, "" where the task has none. */
export type RedirectInfoView = Required<RedirectInfoInput>;

export interface TaskInstanceView {
  TaskInstanceIndex: number;
  TaskInstanceState: string;
  ExitCode: number | null;
  StateReason: string;
  ComputeNodeInstanceId: string | null;
  CreateTime: string;
  LaunchTime: string | null;
  RunningTime: string | null;
  EndTime: string | null;
  RedirectInfo: RedirectInfoView;
  StateDetailedReason: string;
}

export interface TaskInstanceLog {
  TaskInstanceIndex: number;
  StdoutLog: string | null;
  StderrLog: string | null;
  StdoutRedirectPath: string;
  StderrRedirectPath: string;
  StdoutRedirectFileName: string;
  StderrRedirectFileName: string;
}

export interface DataPointView {
  Timestamps: number[];
  /** null in the gap a retried instance leaves (at most 10 in a row). */
  Values: (number | null)[];
}

export interface TaskTemplateView {
  TaskTemplateId: string;
  TaskTemplateName: string;
  TaskTemplateDescription: string;
  TaskTemplateInfo: TaskInput;
  CreateTime: string;
  Tags: TagInput[];
}

export interface ComputeNode {
  ComputeNodeId: string;
  ComputeNodeInstanceId: string;
  ComputeNodeState: string;
  Cpu: number;
  Mem: number;
  ResourceCreatedTime: string;
  TaskInstanceNumAvailable: number;
  AgentVersion: string;
  PrivateIpAddresses: string[];
  PublicIpAddresses: string[];
  ResourceType: string;
  ResourceOrigin: string;
}

export interface ComputeNodeMetrics {
  SubmittedCount: number;
  CreatingCount: number;
  CreationFailedCount: number;
  CreatedCount: number;
  RunningCount: number;
  DeletingCount: number;
  AbnormalCount: number;
}

export interface ComputeEnvView {
  EnvId: string;
  EnvName: string;
  Placement: PlacementInput;
  CreateTime: string;
  ComputeNodeMetrics: ComputeNodeMetrics;
  EnvType: string;
  DesiredComputeNodeCount: number;
  ResourceType: string;
  NextAction: string;
  AttachedComputeNodeCount: number;
  Tags: TagInput[];
}

export interface ComputeEnvCreateInfo {
  EnvId: string;
  EnvName: string;
  EnvDescription: string;
  EnvType: string;
  EnvData: EnvDataInput;
  MountDataDisks: MountDataDiskInput[];
  InputMappings: InputMappingInput[];
  Authentications: AuthenticationInput[];
  Notifications: NotificationInput[];
  DesiredComputeNodeCount: number;
  Tags: TagInput[];
}

export interface Activity {
  ActivityId: string;
  ComputeNodeId: string;
  ComputeNodeActivityType: string;
  EnvId: string;
  Cause: string;
  ActivityState: string;
  StateReason: string;
  StartTime: string;
  EndTime: string | null;
  InstanceId: string | null;
}

export interface InstanceTypeConfig {
  Mem: number;
  Cpu: number;
  InstanceType: string;
  Zone: string;
  InstanceFamily: string;
}

/** Prices of an instance type; OpenBatch answers the postpaid hourly ones only. */
export interface ItemPrice {
  UnitPrice: number;
  ChargeUnit: string;
  OriginalPrice?: number;
  DiscountPrice?: number;
  Discount: number;
  UnitPriceDiscount: number;
  UnitPriceSecondStep?: number;
  UnitPriceDiscountSecondStep?: number;
  UnitPriceThirdStep?: number;
  UnitPriceDiscountThirdStep?: number;
  OriginalPriceThreeYear?: number;
  DiscountPriceThreeYear?: number;
  DiscountThreeYear?: number;
  OriginalPriceFiveYear?: number;
  DiscountPriceFiveYear?: number;
  DiscountFiveYear?: number;
  OriginalPriceOneYear?: number;
  DiscountPriceOneYear?: number;
  DiscountOneYear?: number;
}

export interface StorageBlock {
  Type: string;
  MinSize: number;
  MaxSize: number;
}

/** Additional data of an instance type; OpenBatch has none to give ({}). */
export interface Externals {
  ReleaseAddress?: boolean;
  UnsupportNetworks?: string[];
  StorageBlockAttr?: StorageBlock;
}

export interface LocalDiskType {
  Type: string;
  PartitionType: string;
  MinSize: number;
  MaxSize: number;
  Required: string;
}

export interface InstanceTypeQuotaItem {
  Zone: string;
  InstanceType: string;
  InstanceChargeType: string;
  NetworkCard: number;
  Externals: Externals;
  Cpu: number;
  Memory: number;
  InstanceFamily: string;
  TypeName: string;
  LocalDiskTypeList: LocalDiskType[];
  Status: string;
  Price: ItemPrice;
  SoldOutReason: string;
  InstanceBandwidth: number;
  InstancePps: number;
  StorageBlockAmount: number;
  CpuType: string;
  Gpu: number;
  Fpga: number;
  Remark: string;
  GpuCount: number;
  Frequency: string;
  StatusCategory: string;
}

export interface InstanceCategoryItem {
  InstanceCategory: string;
  InstanceFamilySet: string[];
}

/** The answer of an action without response members: nothing but the RequestId (no member fits). */
export type NoMembers = { [member: string]: never };

/** The response members of every action (without RequestId). */
export interface Responses {
  // --- Jobs and tasks
  SubmitJob: { JobId: string };
  DescribeJob: {
    JobId: string;
    JobName: string;
    Zone: string;
    Priority: number;
    JobState: string;
    CreateTime: string;
    /** "" while the job runs (not nullable here, unlike JobView.EndTime). */
    EndTime: string;
    TaskSet: TaskView[];
    DependenceSet: DependenceInput[];
    TaskMetrics: TaskMetrics;
    TaskInstanceMetrics: TaskInstanceMetrics;
    StateReason: string;
    Tags: TagInput[];
    NextAction: string;
  };
  DescribeJobs: { JobSet: JobView[]; TotalCount: number };
  DescribeJobSubmitInfo: {
    JobId: string;
    JobName: string;
    JobDescription: string;
    Priority: number;
    Tasks: TaskInput[];
    Dependences: DependenceInput[];
    Tags: TagInput[];
  };
  DescribeTask: {
    JobId: string;
    TaskName: string;
    TaskState: string;
    CreateTime: string;
    /** "" while the task runs. */
    EndTime: string;
    TaskInstanceTotalCount: number;
    TaskInstanceSet: TaskInstanceView[];
    TaskInstanceMetrics: TaskInstanceMetrics;
  };
  DescribeTaskLogs: { TotalCount: number; TaskInstanceLogSet: TaskInstanceLog[] };
  DescribeJobMonitorData: { Period: number; DataPoints: DataPointView };
  TerminateJob: NoMembers;
  TerminateTaskInstance: NoMembers;
  RetryJobs: NoMembers;
  DeleteJob: NoMembers;

  // --- Task templates
  CreateTaskTemplate: { TaskTemplateId: string };
  DescribeTaskTemplates: { TaskTemplateSet: TaskTemplateView[]; TotalCount: number };
  ModifyTaskTemplate: NoMembers;
  DeleteTaskTemplates: NoMembers;

  // --- Compute environments
  CreateComputeEnv: { EnvId: string };
  DescribeComputeEnv: {
    EnvId: string;
    EnvName: string;
    Placement: PlacementInput;
    CreateTime: string;
    ComputeNodeSet: ComputeNode[];
    ComputeNodeMetrics: ComputeNodeMetrics;
    DesiredComputeNodeCount: number;
    EnvType: string;
    ResourceType: string;
    NextAction: string;
    AttachedComputeNodeCount: number;
    Tags: TagInput[];
  };
  DescribeComputeEnvs: { ComputeEnvSet: ComputeEnvView[]; TotalCount: number };
  DescribeComputeEnvCreateInfo: ComputeEnvCreateInfo;
  DescribeComputeEnvCreateInfos: { TotalCount: number; ComputeEnvCreateInfoSet: ComputeEnvCreateInfo[] };
  DescribeComputeEnvActivities: { ActivitySet: Activity[]; TotalCount: number };
  ModifyComputeEnv: NoMembers;
  DeleteComputeEnv: NoMembers;

  // --- Compute nodes and attached instances
  AttachInstances: NoMembers;
  DetachInstances: NoMembers;
  TerminateComputeNode: NoMembers;
  TerminateComputeNodes: NoMembers;

  // --- Read-only catalogue
  DescribeAvailableCvmInstanceTypes: { InstanceTypeConfigSet: InstanceTypeConfig[] };
  DescribeCvmZoneInstanceConfigInfos: { InstanceTypeQuotaSet: InstanceTypeQuotaItem[] };
  DescribeInstanceCategories: { InstanceCategorySet: InstanceCategoryItem[] };
}

/** What action A answers inside `Response`, without RequestId. (Indexing fails to compile for an
 *  action that Responses lacks.) */
export type ResponseOf<A extends ActionName> = Responses[A];
