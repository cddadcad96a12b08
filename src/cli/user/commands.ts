// The user commands of `openbatch` (everything but `serve`), built with commander: the global options
// (endpoint, key, region, profile, data dir, --output), and each command as a few API calls through
// connection.ts's Api. submit/watch/logs live in their own modules.
import { Command, CommanderError, Option } from 'commander';
import { FINISHED_STATES, STATES } from '../../domain/states.ts';
import { Api, CliError, resolveConnection, type ConnectionFlags } from './connection.ts';
import { fields, formatOf, print, table, type Format } from './output.ts';
import { submitCommand } from './submit.ts';
import { watchJob } from './watch.ts';
import { attemptsOf, followLog } from './logs.ts';

type Row = Record<string, any>;

interface Globals extends ConnectionFlags {
  output?: string;
  verbose?: boolean;
}

export interface Context {
  api: Api;
  format: Format;
  verbose: boolean;
}

function contextOf(cmd: Command): Context {
  const g = cmd.optsWithGlobals<Globals>();
  const format = formatOf(g.output);
  const conn = resolveConnection(g);
  const verbose = g.verbose === true;
  const api = new Api(conn, undefined, verbose ? (action, ms) => process.stderr.write(`openbatch: ${action}: rate limited, retrying in ${Math.round(ms)} ms\n`) : undefined);
  return { api, format, verbose };
}

function int(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new CliError(`${name} must be an integer ≥ ${min}; got "${v}"`, 2);
    return n;
  };
}

function stateOption(name = '--state <state>'): Option {
  return new Option(name, `only this state, repeat for several (${STATES.join(', ')})`).argParser((v: string, prev: string[] = []) => {
    if (!(STATES as readonly string[]).includes(v)) throw new CliError(`--state must be one of ${STATES.join(', ')}; got "${v}"`, 2);
    return [...prev, v];
  });
}

/** Every page of a Describe* list: `pageOf(offset, limit)` returns [rows, total]. */
export async function allPages<T>(pageSize: number, max: number, pageOf: (offset: number, limit: number) => Promise<[T[], number]>, from = 0): Promise<{ rows: T[]; total: number }> {
  const rows: T[] = [];
  let total = 0;
  for (let offset = from; rows.length < max;) {
    const [page, t] = await pageOf(offset, Math.min(pageSize, max - rows.length));
    total = t;
    rows.push(...page);
    offset += page.length;
    if (page.length === 0 || offset >= t) break;
  }
  return { rows, total };
}

const metricsText = (m: Row | undefined) =>
  m ? `succeed ${m.SucceedCount ?? 0}, failed ${m.FailedCount ?? 0}, interrupted ${m.FailedInterruptedCount ?? 0}, running ${(m.RunningCount ?? 0) + (m.StartingCount ?? 0)}, waiting ${(m.SubmittedCount ?? 0) + (m.PendingCount ?? 0) + (m.RunnableCount ?? 0)}` : '-';

const tagsText = (t: Row[] | null | undefined) => (t && t.length ? t.map((x) => `${x.Key}=${x.Value}`).join(',') : '');

export function buildProgram(version: string): Command {
  const program = new Command('openbatch')
    .description('OpenBatch: submit, watch, debug and clean up batch jobs (any Tencent Cloud Batch API 2017-03-12 endpoint)')
    .version(version, '-V, --version', 'print the version')
    .option('--endpoint <url>', 'the API endpoint (env OPENBATCH_ENDPOINT; default http://127.0.0.1:8080)')
    .option('--secret-id <id>', 'API SecretId (env TENCENTCLOUD_SECRET_ID)')
    .option('--secret-key <key>', 'API SecretKey (env TENCENTCLOUD_SECRET_KEY; prefer the variable: command lines are visible to every user of the host)')
    .option('--region <region>', 'region (env TENCENTCLOUD_REGION; default ap-guangzhou)')
    .option('--profile <name>', 'a profile of ~/.openbatch/config (env OPENBATCH_PROFILE; default "default")')
    .option('--data-dir <dir>', 'on the server\'s own host: use the key in DIR/credentials.json (env OPENBATCH_DATA_DIR; default ./.openbatch)')
    .addOption(new Option('-o, --output <format>', 'table, json or yaml').choices(['table', 'json', 'yaml']).default('table'))
    .option('-v, --verbose', 'say on stderr when a request is retried')
    .showHelpAfterError()
    .exitOverride();
  program.command('serve').description('start the OpenBatch service (options: openbatch serve --help)');

  submitCommand(program, contextOf);

  program.command('jobs').description('list jobs (newest first, as DescribeJobs)')
    .addOption(stateOption())
    .option('--name <name>', 'jobs of this name (repeat for several)', (v: string, p: string[] = []) => [...p, v])
    .option('--tag <key=value>', 'jobs with this tag (repeat: all must match); "key" alone: any value', (v: string, p: string[] = []) => [...p, v])
    .option('--zone <zone>', 'jobs in this zone')
    .option('--limit <n>', 'at most this many (paged past 100)', int('--limit', 1), 20)
    .option('--offset <n>', 'skip this many', int('--offset'), 0)
    .action(async (o: { state?: string[]; name?: string[]; tag?: string[]; zone?: string; limit: number; offset: number }, cmd: Command) => {
      const c = contextOf(cmd);
      const Filters: Row[] = [];
      if (o.state) Filters.push({ Name: 'job-state', Values: o.state });
      if (o.name) Filters.push({ Name: 'job-name', Values: o.name });
      if (o.zone) Filters.push({ Name: 'zone', Values: [o.zone] });
      for (const t of o.tag ?? []) {
        const eq = t.indexOf('=');
        Filters.push(eq < 0 ? { Name: 'tag-key', Values: [t] } : { Name: `tag:${t.slice(0, eq)}`, Values: [t.slice(eq + 1)] });
      }
      const { rows, total } = await allPages<Row>(100, o.limit, async (Offset, Limit) => {
        const r = await c.api.call<Row>('DescribeJobs', { ...(Filters.length ? { Filters } : {}), Offset, Limit });
        return [r.JobSet ?? [], r.TotalCount ?? 0];
      }, o.offset);
      print(c.format, { JobSet: rows, TotalCount: total }, () =>
        table(rows, [['JOB ID', (j) => j.JobId], ['NAME', (j) => j.JobName], ['STATE', (j) => j.JobState], ['CREATED', (j) => j.CreateTime],
          ['ENDED', (j) => j.EndTime], ['TASKS', (j) => metricsText(j.TaskMetrics)], ['TAGS', (j) => tagsText(j.Tags)]]) +
        `\n${rows.length} of ${total} job(s)`);
    });

  program.command('describe').description('one job (its tasks and their instance counts), or one task of it')
    .argument('<job>', 'JobId').argument('[task]', 'TaskName')
    .action(async (jobId: string, taskName: string | undefined, _o: unknown, cmd: Command) => {
      const c = contextOf(cmd);
      if (taskName !== undefined) {
        const t = await c.api.call<Row>('DescribeTask', { JobId: jobId, TaskName: taskName, Limit: 1 });
        const { TaskInstanceSet: _x, ...task } = t;
        print(c.format, task, () => fields([['JobId', t.JobId], ['TaskName', t.TaskName], ['TaskState', t.TaskState], ['CreateTime', t.CreateTime],
          ['EndTime', t.EndTime], ['Instances', t.TaskInstanceTotalCount], ['Counts', metricsText(t.TaskInstanceMetrics)]]));
        return;
      }
      const j = await c.api.call<Row>('DescribeJob', { JobId: jobId });
      const tasks: Row[] = j.TaskSet ?? [];
      const counts = await Promise.all(tasks.map((t) => c.api.call<Row>('DescribeTask', { JobId: jobId, TaskName: t.TaskName, Limit: 1 })));
      const data = { ...j, TaskSet: tasks.map((t, i): Row => ({ ...t, TaskInstanceTotalCount: counts[i]!.TaskInstanceTotalCount, TaskInstanceMetrics: counts[i]!.TaskInstanceMetrics })) };
      print(c.format, data, () => fields([['JobId', j.JobId], ['JobName', j.JobName], ['JobState', j.JobState], ['StateReason', j.StateReason],
        ['Zone', j.Zone], ['Priority', j.Priority], ['CreateTime', j.CreateTime], ['EndTime', j.EndTime], ['NextAction', j.NextAction], ['Tags', tagsText(j.Tags)],
        ['Dependences', (j.DependenceSet ?? []).map((d: Row) => `${d.StartTask}→${d.EndTask}`).join(', ')]]) + '\n' +
        table(data.TaskSet, [['TASK', (t) => t.TaskName], ['STATE', (t) => t.TaskState], ['INSTANCES', (t) => t.TaskInstanceTotalCount],
          ['COUNTS', (t) => metricsText(t.TaskInstanceMetrics)], ['CREATED', (t) => t.CreateTime], ['ENDED', (t) => t.EndTime]]));
    });

  program.command('instances').description('the instances of a task, paging through DescribeTask to any size')
    .argument('<job>', 'JobId').argument('<task>', 'TaskName')
    .addOption(stateOption())
    .option('--limit <n>', 'at most this many (default: all)', int('--limit', 1))
    .option('--offset <n>', 'skip this many', int('--offset'), 0)
    .action(async (jobId: string, taskName: string, o: { state?: string[]; limit?: number; offset: number }, cmd: Command) => {
      const c = contextOf(cmd);
      const Filters = o.state ? [{ Name: 'task-instance-state', Values: o.state }] : undefined;
      const { rows, total } = await allPages<Row>(1000, o.limit ?? Number.MAX_SAFE_INTEGER, async (Offset, Limit) => {
        const r = await c.api.call<Row>('DescribeTask', { JobId: jobId, TaskName: taskName, Offset, Limit, ...(Filters ? { Filters } : {}) });
        return [r.TaskInstanceSet ?? [], r.TaskInstanceTotalCount ?? 0];
      }, o.offset);
      print(c.format, { TaskInstanceSet: rows, TaskInstanceTotalCount: total }, () =>
        table(rows, [['INDEX', (i) => i.TaskInstanceIndex], ['STATE', (i) => i.TaskInstanceState], ['EXIT', (i) => i.ExitCode],
          ['REASON', (i) => i.StateReason], ['NODE', (i) => i.ComputeNodeInstanceId], ['LAUNCHED', (i) => i.LaunchTime], ['ENDED', (i) => i.EndTime]]) +
        `\n${rows.length} of ${total} instance(s)`);
    });

  program.command('attempts').description('every attempt of one instance: number, start, end, exit code, reason, node (an OpenBatch extension)')
    .argument('<job>', 'JobId').argument('<task>', 'TaskName').argument('<index>', 'TaskInstanceIndex', int('index'))
    .action(async (jobId: string, taskName: string, index: number, _o: unknown, cmd: Command) => {
      const c = contextOf(cmd);
      const r = await attemptsOf(c.api, jobId, taskName, index);
      print(c.format, r, () => table(r.AttemptSet as Row[], [['ATTEMPT', (a) => a.Attempt], ['STATE', (a) => a.State], ['LAUNCHED', (a) => a.LaunchTime],
        ['ENDED', (a) => a.EndTime], ['EXIT', (a) => a.ExitCode], ['SIGNAL', (a) => a.Signal], ['REASON', (a) => a.StateReason], ['NODE', (a) => a.ComputeNodeId]]));
    });

  program.command('logs').description('the whole stdout (or stderr) of an attempt of an instance (default: its latest)')
    .argument('<job>', 'JobId').argument('<task>', 'TaskName').argument('<index>', 'TaskInstanceIndex', int('index'))
    .option('--attempt <n>', 'this attempt (1 is the first)', int('--attempt', 1))
    .option('--stderr', 'stderr instead of stdout')
    .option('-f, --follow', 'keep printing what a running attempt writes, until it ends')
    .action(async (jobId: string, taskName: string, index: number, o: { attempt?: number; stderr?: boolean; follow?: boolean }, cmd: Command) => {
      const c = contextOf(cmd);
      await followLog(c.api, { jobId, taskName, index, attempt: o.attempt, stream: o.stderr ? 'STDERR' : 'STDOUT', follow: o.follow === true }, process.stdout);
    });

  program.command('watch').description('a live view of a job: one progress bar per task in DAG order, why the waiting ones wait; exits 0 when it succeeds, 3 when it fails')
    .argument('<job>', 'JobId')
    .option('--plain', 'line-by-line output even on a terminal')
    .action(async (jobId: string, o: { plain?: boolean }, cmd: Command) => {
      const c = contextOf(cmd);
      process.exitCode = await watchJob(c.api, jobId, { plain: o.plain === true || !process.stdout.isTTY, out: process.stdout });
    });

  program.command('terminate').description('terminate a job, or one instance of it')
    .argument('<job>', 'JobId').argument('[task]', 'TaskName').argument('[index]', 'TaskInstanceIndex', int('index'))
    .action(async (jobId: string, taskName: string | undefined, index: number | undefined, _o: unknown, cmd: Command) => {
      const c = contextOf(cmd);
      if (taskName !== undefined && index === undefined) throw new CliError('terminate JOB TASK needs an INDEX too (or terminate the whole job: terminate JOB)', 2);
      const r = taskName === undefined
        ? await c.api.call('TerminateJob', { JobId: jobId })
        : await c.api.call('TerminateTaskInstance', { JobId: jobId, TaskName: taskName, TaskInstanceIndex: index });
      print(c.format, r, () => (taskName === undefined ? `terminating job ${jobId}` : `terminating ${jobId} ${taskName} ${index}`));
    });

  program.command('retry').description('run the failed instances of failed jobs again (RetryJobs)')
    .argument('<jobs...>', 'JobIds')
    .action(async (jobIds: string[], _o: unknown, cmd: Command) => {
      const c = contextOf(cmd);
      const r = await c.api.call('RetryJobs', { JobIds: jobIds });
      print(c.format, r, () => `retrying ${jobIds.join(', ')}`);
    });

  program.command('delete').description('delete finished jobs, their logs and records')
    .argument('<jobs...>', 'JobIds')
    .action(async (jobIds: string[], _o: unknown, cmd: Command) => {
      const c = contextOf(cmd);
      for (const JobId of jobIds) await c.api.call('DeleteJob', { JobId });
      print(c.format, { Deleted: jobIds }, () => `deleted ${jobIds.join(', ')}`);
    });

  program.command('envs').description('compute environments')
    .action(async (_o: unknown, cmd: Command) => {
      const c = contextOf(cmd);
      const { rows, total } = await allPages<Row>(100, Number.MAX_SAFE_INTEGER, async (Offset, Limit) => {
        const r = await c.api.call<Row>('DescribeComputeEnvs', { Offset, Limit });
        return [r.ComputeEnvSet ?? [], r.TotalCount ?? 0];
      });
      const m = (e: Row) => e.ComputeNodeMetrics ?? {};
      print(c.format, { ComputeEnvSet: rows, TotalCount: total }, () => table(rows, [['ENV ID', (e) => e.EnvId], ['NAME', (e) => e.EnvName],
        ['TYPE', (e) => e.EnvType], ['ZONE', (e) => e.Placement?.Zone], ['DESIRED', (e) => e.DesiredComputeNodeCount],
        ['RUNNING', (e) => m(e).RunningCount], ['ABNORMAL', (e) => m(e).AbnormalCount], ['NEXT', (e) => e.NextAction], ['CREATED', (e) => e.CreateTime]]));
    });

  program.command('nodes').description('the compute nodes of an environment, and how many more instances each can take')
    .argument('<env>', 'EnvId')
    .action(async (envId: string, _o: unknown, cmd: Command) => {
      const c = contextOf(cmd);
      const r = await c.api.call<Row>('DescribeComputeEnv', { EnvId: envId });
      const nodes: Row[] = r.ComputeNodeSet ?? [];
      print(c.format, { ComputeNodeSet: nodes, ComputeNodeMetrics: r.ComputeNodeMetrics }, () => table(nodes, [['NODE ID', (n) => n.ComputeNodeId],
        ['INSTANCE', (n) => n.ComputeNodeInstanceId], ['STATE', (n) => n.ComputeNodeState], ['CPU', (n) => n.Cpu], ['MEM GiB', (n) => n.Mem],
        ['FREE SLOTS', (n) => n.TaskInstanceNumAvailable], ['CREATED', (n) => n.ResourceCreatedTime]]));
    });

  program.command('templates').description('task templates')
    .action(async (_o: unknown, cmd: Command) => {
      const c = contextOf(cmd);
      const { rows, total } = await allPages<Row>(100, Number.MAX_SAFE_INTEGER, async (Offset, Limit) => {
        const r = await c.api.call<Row>('DescribeTaskTemplates', { Offset, Limit });
        return [r.TaskTemplateSet ?? [], r.TotalCount ?? 0];
      });
      print(c.format, { TaskTemplateSet: rows, TotalCount: total }, () => table(rows, [['TEMPLATE ID', (t) => t.TaskTemplateId],
        ['NAME', (t) => t.TaskTemplateName], ['DESCRIPTION', (t) => t.TaskTemplateDescription], ['COMMAND', (t) => t.TaskTemplateInfo?.Application?.Command],
        ['CREATED', (t) => t.CreateTime], ['TAGS', (t) => tagsText(t.Tags)]]));
    });

  return program;
}

/** The final job states: watch and submit --wait stop there. */
export const FINAL = FINISHED_STATES as readonly string[];

/** Runs the user commands: the exit code (0 done, 1 an API or network failure, 2 a usage error, 3 the watched job failed). */
export async function runUserCommand(argv: string[], version: string): Promise<number> {
  const program = buildProgram(version);
  // a reader that stops early (openbatch logs ... | head) ends the command quietly, as other tools do
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CliError) {
      process.stderr.write(`openbatch: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
