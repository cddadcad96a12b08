// The OpenBatch extension actions (docs/extensions.md): served at POST / beside the 30 Batch actions,
// with the same TC3 signatures, accounts, rate limits and error envelope, but not part of Tencent's API
// (ACTION_NAMES stays the 30 of 2017-03-12). Request schemas as in models.ts; responses as types.
import { int, obj, opt, req, str, uint, type FieldDefs, type Infer, type ObjectSchema } from './schema.ts';

export const EXTENSION_NAMES = ['DescribeAttempts', 'DescribeAttemptLog'] as const;
export type ExtensionName = (typeof EXTENSION_NAMES)[number];

export const EXTENSION_REQUESTS = {
  DescribeAttempts: obj('DescribeAttempts', {
    JobId: req(str),
    TaskName: req(str),
    TaskInstanceIndex: req(uint),
  }),
  DescribeAttemptLog: obj('DescribeAttemptLog', {
    JobId: req(str),
    TaskName: req(str),
    TaskInstanceIndex: req(uint),
    /** 1 is the first attempt; default: the latest. */
    Attempt: opt(int),
    /** STDOUT (default) or STDERR. */
    Stream: opt(str),
    /** The first byte to read (default 0). */
    Offset: opt(int),
    /** How many bytes at most (default 1 MiB, at most 4 MiB). */
    Length: opt(int),
  }),
} as const satisfies { [A in ExtensionName]: ObjectSchema<FieldDefs> };

export type ExtensionRequestOf<A extends ExtensionName> = Infer<(typeof EXTENSION_REQUESTS)[A]>;

export interface AttemptView {
  Attempt: number;
  /** STARTING, RUNNING (not ended yet), SUCCEED, FAILED or FAILED_INTERRUPTED. */
  State: string;
  LaunchTime: string;
  RunningTime: string | null;
  EndTime: string | null;
  ExitCode: number | null;
  Signal: string | null;
  StateReason: string | null;
  ComputeNodeId: string | null;
}

export interface ExtensionResponses {
  DescribeAttempts: { TotalCount: number; AttemptSet: AttemptView[] };
  DescribeAttemptLog: {
    Attempt: number;
    Stream: 'STDOUT' | 'STDERR';
    Offset: number;
    /** Where the next read starts (Offset + the bytes in Content). */
    NextOffset: number;
    /** The bytes read, base64. */
    Content: string;
    /** More bytes follow NextOffset already: read again at once. */
    More: boolean;
    /** The attempt has ended and Content reaches the end of its log: nothing will ever follow. */
    Complete: boolean;
  };
}
export type ExtensionResponseOf<A extends ExtensionName> = ExtensionResponses[A];
