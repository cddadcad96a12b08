// `openbatch submit [FILE] [--template ID]`: a job from a JSON or YAML file — the SubmitJob `Job`
// shape, or a whole SubmitJob request ({ Job, Placement, ClientToken }) — or from a task template (its
// TaskTemplateInfo is the task, as templates are used); then, with --wait or --watch, follows it.
import fs from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { zonesOf } from '../../domain/regions.ts';
import { CliError, type Api } from './connection.ts';
import { fields, print, type Format } from './output.ts';
import { watchJob, waitJob } from './watch.ts';

type Row = Record<string, any>;

/** The SubmitJob request a file holds (JSON is YAML, so one parser reads both). */
export function requestFromFile(file: string, text: string): Row {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new CliError(`${file} is neither JSON nor YAML: ${(e as Error).message}`, 2);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new CliError(`${file} must hold a Job (a mapping with Tasks) or a SubmitJob request (a mapping with Job)`, 2);
  const d = doc as Row;
  return 'Job' in d ? d : { Job: d };
}

/** Each task of `job` on top of the template's task (the file's fields win), or the template's task alone. */
export function applyTemplate(req: Row | undefined, template: Row, o: { name?: string; instances?: number; taskName?: string }): Row {
  const info: Row = template.TaskTemplateInfo ?? {};
  const base = { ...info, TaskName: o.taskName ?? info.TaskName ?? template.TaskTemplateName };
  const r: Row = req ?? { Job: { JobName: template.TaskTemplateName, Tasks: [{}] } };
  const tasks: Row[] = Array.isArray(r.Job?.Tasks) && r.Job.Tasks.length > 0 ? r.Job.Tasks : [{}];
  const job = { ...r.Job, Tasks: tasks.map((t) => ({ ...base, ...t, ...(o.instances !== undefined ? { TaskInstanceNum: o.instances } : {}) })) };
  if (o.name !== undefined) job.JobName = o.name;
  return { ...r, Job: job };
}

export function submitCommand(program: Command, contextOf: (cmd: Command) => { api: Api; format: Format }): void {
  program.command('submit').description('submit a job from a JSON/YAML file (a Job, or a whole SubmitJob request) or from a task template')
    .argument('[file]', 'JSON or YAML file ("-" reads stdin)')
    .option('--template <id>', 'build the task from this task template\'s TaskTemplateInfo (the file\'s tasks, if any, override its fields)')
    .option('--name <name>', 'the JobName')
    .option('--task-name <name>', 'with --template: the TaskName (default: the template\'s)')
    .option('--instances <n>', 'TaskInstanceNum of every task', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new CliError(`--instances must be an integer ≥ 1; got "${v}"`, 2);
      return n;
    })
    .option('--zone <zone>', 'Placement.Zone when the file gives none (default: the region\'s first zone)')
    .option('--wait', 'wait until the job ends; exit 0 when it succeeded, 3 when it failed')
    .option('--watch', 'then watch it (as openbatch watch)')
    .action(async (file: string | undefined, o: { template?: string; zone?: string; name?: string; taskName?: string; instances?: number; wait?: boolean; watch?: boolean }, cmd: Command) => {
      if (file === undefined && o.template === undefined) throw new CliError('submit needs a FILE, or --template ID', 2);
      const c = contextOf(cmd);
      let req: Row | undefined;
      if (file !== undefined) {
        let text: string;
        try {
          text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
        } catch (e) {
          throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
        }
        req = requestFromFile(file, text);
      }
      if (o.template !== undefined) {
        const r = await c.api.call<Row>('DescribeTaskTemplates', { TaskTemplateIds: [o.template] });
        const t = (r.TaskTemplateSet ?? [])[0];
        if (t === undefined) throw new CliError(`there is no task template ${o.template}`, 1, 'ResourceNotFound.TaskTemplate');
        req = applyTemplate(req, t, o);
      } else {
        if (o.name !== undefined) req!.Job.JobName = o.name;
        if (o.instances !== undefined && Array.isArray(req!.Job.Tasks)) for (const t of req!.Job.Tasks) t.TaskInstanceNum = o.instances;
      }
      if (req!.Placement === undefined || o.zone !== undefined) {
        const zone = o.zone ?? zonesOf(c.api.conn.region)[0];
        if (zone === undefined) throw new CliError(`region ${c.api.conn.region} has no zone this CLI knows: give --zone or Placement in the file`, 2);
        req!.Placement = { ...(req!.Placement ?? {}), Zone: zone };
      }
      const { JobId } = await c.api.call<{ JobId: string }>('SubmitJob', req!);
      if (o.watch) {
        process.stderr.write(`submitted ${JobId}\n`);
        process.exitCode = await watchJob(c.api, JobId, { plain: !process.stdout.isTTY, out: process.stdout });
        return;
      }
      if (o.wait) {
        process.stderr.write(`submitted ${JobId}, waiting for it to end\n`);
        const j = await waitJob(c.api, JobId);
        print(c.format, { JobId, JobState: j.JobState, StateReason: j.StateReason }, () => fields([['JobId', JobId], ['JobState', j.JobState], ['StateReason', j.StateReason]]));
        process.exitCode = j.JobState === 'SUCCEED' ? 0 : 3;
        return;
      }
      print(c.format, { JobId }, () => JobId);
    });
}
