// Resource IDs: `job-xxxxxxxx` etc. (8 lower-case alphanumerics after the prefix, batch-api.md §i.4).
import { randomBytes } from 'node:crypto';
import { apiError, type CodeWith } from './errors.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function newId(prefix: 'job' | 'env' | 'node' | 'task-tmpl' | 'act' | 'ins'): string {
  const bytes = randomBytes(8);
  let s = '';
  for (const b of bytes) s += ALPHABET[b % 36];
  return `${prefix}-${s}`;
}

const JOB_ID = /^job-[a-z0-9]{8}$/;

/** The codes of malformed IDs (their templates say what an ID looks like). */
type IdCode = CodeWith<'param' | 'id'>;

function checkId(re: RegExp, id: string, code: IdCode, param: string): string {
  if (!re.test(id)) throw apiError(code, { param, id });
  return id;
}

export const checkJobId = (id: string, param = 'JobId') =>
  checkId(JOB_ID, id, 'InvalidParameter.JobIdMalformed', param);
export const checkEnvId = (id: string, param = 'EnvId') =>
  checkId(/^env-[a-z0-9]{8}$/, id, 'InvalidParameter.EnvIdMalformed', param);
export const checkNodeId = (id: string, param = 'ComputeNodeId') =>
  checkId(/^node-[a-z0-9]{8}$/, id, 'InvalidParameter.ComputeNodeIdMalformed', param);
export const checkTemplateId = (id: string, param = 'TaskTemplateId') =>
  checkId(/^task-tmpl-[a-z0-9]{8}$/, id, 'InvalidParameter.TaskTemplateIdMalformed', param);
