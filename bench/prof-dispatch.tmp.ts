// temporary: per-attempt CPU of server and shim during dispatch
import fs from 'node:fs';
import { benchServer, jobOf, waitJob, xargsBaseline } from './lib.ts';
const n = Number(process.env.N ?? 2000), c = Number(process.env.C ?? 8);
const extra = (process.env.ARGS ?? '').split(' ').filter(Boolean);
const prof = process.env.PROF === '1';
function cpu(pid: number): number { try { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; } catch { return NaN; } }
function kids(pid: number): number[] { try { return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; } }
const xa = await xargsBaseline(n, c);
const srv = await benchServer({ slots: c, args: extra, nodeArgs: prof ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [] });
const pid = (srv as any).proc?.pid ?? (srv as any).pid;
const client = srv.client();
const t0 = performance.now();
const s0 = cpu(pid);
const { JobId } = await client.SubmitJob!(jobOf('true', n));
let shimPid = 0;
const job = await waitJob(client, JobId);
const ms = performance.now() - t0;
const s1 = cpu(pid);
for (const k of kids(pid)) { const cm = fs.readFileSync(`/proc/${k}/comm`, 'utf8').trim(); if (cm.includes('shim')) shimPid = k; }
const sh = shimPid ? cpu(shimPid) : NaN;
console.log(JSON.stringify({ args: extra.join(' '), n, c, state: job.JobState, xargs: Math.round(xa), ours: Math.round(ms), ratio: +(ms / xa).toFixed(2), serverMsPerAttempt: +((s1 - s0) / n).toFixed(2), shimMsPerAttempt: +(sh / n).toFixed(2) }));
await srv.stop();
