// Slurm nodes: sinfo's node states mapped to ComputeNodeState, sinfo output parsed (real output of
// Slurm 22.05 under test/fixtures/slurm/, see its README), and listNodes against the test cluster.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlurmCli } from '../../src/executors/slurm/cli.ts';
import { listNodes, nodeStateOf, parseSinfoNodes } from '../../src/executors/slurm/nodes.ts';
import { slurmTestCluster } from '../support/slurm.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/slurm');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

describe('nodeStateOf', () => {
  it.each([
    ['idle', 'RUNNING'], ['allocated', 'RUNNING'], ['allocated+', 'RUNNING'], ['mixed', 'RUNNING'], ['mixed-', 'RUNNING'],
    ['completing', 'RUNNING'], ['reserved', 'RUNNING'], ['maint', 'RUNNING'], ['idle$', 'RUNNING'], ['idle@', 'RUNNING'],
    ['planned', 'RUNNING'], ['IDLE', 'RUNNING'], [' mixed ', 'RUNNING'],
    ['down', 'ABNORMAL'], ['drained', 'ABNORMAL'], ['draining', 'ABNORMAL'], ['fail', 'ABNORMAL'], ['failing', 'ABNORMAL'],
    ['unknown', 'ABNORMAL'], ['inval', 'ABNORMAL'], ['reboot_issued', 'ABNORMAL'], ['idle^', 'ABNORMAL'],
    // not responding, whatever the base state
    ['idle*', 'ABNORMAL'], ['mixed*', 'ABNORMAL'], ['down*', 'ABNORMAL'], ['unknown*', 'ABNORMAL'], ['allocated*', 'ABNORMAL'], ['idle~*', 'ABNORMAL'],
    // power saving
    ['idle~', 'CREATED'], ['powered_down', 'CREATED'], ['idle#', 'CREATING'], ['powering_up', 'CREATING'], ['future', 'CREATING'],
    ['idle%', 'DELETING'], ['idle!', 'DELETING'], ['powering_down', 'DELETING'], ['power_down', 'DELETING'],
    // what the table does not know is not offered as running
    ['', 'ABNORMAL'], ['exploded', 'ABNORMAL'], ['constructor', 'ABNORMAL'],
  ] as const)('%j → %s', (slurm, state) => {
    expect(nodeStateOf(slurm)).toBe(state);
  });
});

describe('parseSinfoNodes (real sinfo -N output)', () => {
  it('one node of this machine\'s cluster', () => {
    expect(parseSinfoNodes(fixture('sinfo-nodes-localhost-idle.txt'))).toEqual([
      { name: 'localhost', partitions: ['batch'], cpus: 8, memoryMiB: 23081, slurmState: 'idle', state: 'RUNNING' },
    ]);
  });
  it('merges a node\'s lines (one per partition), in Slurm\'s order of nodes', () => {
    const nodes = parseSinfoNodes(fixture('sinfo-nodes-mixed.txt'));
    expect(nodes).toEqual([
      { name: 'node1', partitions: ['batch', 'gpu'], cpus: 8, memoryMiB: 16000, slurmState: 'mixed', state: 'RUNNING' },
      { name: 'node3', partitions: ['gpu', 'spare'], cpus: 4, memoryMiB: 4000, slurmState: 'unknown', state: 'ABNORMAL' },
    ]);
  });
  it.each([
    ['sinfo-nodes-alloc.txt', 'allocated', 'RUNNING', undefined],
    ['sinfo-nodes-completing.txt', 'completing', 'RUNNING', undefined],
    ['sinfo-nodes-draining.txt', 'draining', 'ABNORMAL', 'disk check | by ops'],
    ['sinfo-nodes-drained.txt', 'drained', 'ABNORMAL', 'disk check | by ops'],
    ['sinfo-nodes-fail.txt', 'fail', 'ABNORMAL', 'ECC errors'],
    ['sinfo-nodes-down.txt', 'down', 'ABNORMAL', 'replaced PSU'],
    ['sinfo-nodes-idle-star.txt', 'idle*', 'ABNORMAL', undefined],
    ['sinfo-nodes-down-star.txt', 'down*', 'ABNORMAL', 'Not responding'],
  ] as const)('%s: node1 is %s → %s, reason %j', (file, slurmState, state, reason) => {
    const [node1, node3] = parseSinfoNodes(fixture(file));
    expect(node1).toEqual({
      name: 'node1', partitions: ['batch', 'gpu'], cpus: 8, memoryMiB: 16000, slurmState, state, ...(reason ? { reason } : {}),
    });
    expect(node3).toMatchObject({ name: 'node3', slurmState: 'unknown*', state: 'ABNORMAL' });
    expect(node3!.reason).toBeUndefined();
  });
  it('refuses output it does not understand, quoting the line', () => {
    expect(() => parseSinfoNodes('localhost batch 8 23081 idle none\n')).toThrow(/unexpected sinfo output .*"localhost batch 8 23081 idle none"/);
    expect(() => parseSinfoNodes('localhost|batch|8+|23081|idle|none')).toThrow(/unexpected CPUs in sinfo output/);
    expect(() => parseSinfoNodes('localhost|batch|8||idle|none')).toThrow(/unexpected memory in sinfo output/);
    expect(parseSinfoNodes('\n\n')).toEqual([]);
  });
});

const slurm = await slurmTestCluster();

describe.skipIf(!slurm.ok)(`listNodes on the test cluster${slurm.ok ? '' : ` (skipped: ${slurm.why})`}`, () => {
  const cli = () => new SlurmCli(slurm.ok && slurm.binDir ? { binDir: slurm.binDir } : {});

  it('lists node localhost of partition batch with one sinfo call, with the CPUs and memory scontrol gives (its state may change between the two calls: other tests use the cluster)', async () => {
    const c = cli();
    const nodes = await listNodes(c, ['batch', 'no-such-partition', 'batch']);
    expect(c.totalCalls()).toBe(1);
    const node = nodes.find((n) => n.name === 'localhost');
    expect(node, JSON.stringify(nodes)).toBeDefined();
    expect(node!.partitions).toEqual(['batch']);
    expect(node!.state).toBe('RUNNING');
    const show = execFileSync(c.path('scontrol'), ['-o', 'show', 'node', 'localhost'], { encoding: 'utf8' });
    expect(node!.cpus).toBe(Number(/\bCPUTot=(\d+)/.exec(show)![1]));
    expect(node!.memoryMiB).toBe(Number(/\bRealMemory=(\d+)/.exec(show)![1]));
  });
  it('asks nothing for no partitions, and finds no node in a partition that does not exist', async () => {
    const c = cli();
    expect(await listNodes(c, [])).toEqual([]);
    expect(c.totalCalls()).toBe(0);
    expect(await listNodes(c, ['no-such-partition'])).toEqual([]);
  });
});
