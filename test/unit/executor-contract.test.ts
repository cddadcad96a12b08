// The Executor contract on both local launchers: the C shim and the /bin/sh supervisor. Attempts run
// as the server's own user (no isolation); state, logs and working directories live in the test's root.
import path from 'node:path';
import { buildShim, createLocalExecutor, type PickedLauncher } from '../../src/executors/local/factory.ts';
import { executorContract, executorsOf, type ExecutorTraits } from '../contract/executor.contract.ts';

const shimPath = buildShim();
if (shimPath instanceof Error) throw shimPath; // this machine has a C compiler: the shim must build

const LAUNCHERS: [string, PickedLauncher, ExecutorTraits][] = [
  ['local, shim (C)', { kind: 'shim', path: shimPath }, {}],
  ['local, shell supervisor', { kind: 'shell' }, {
    signalAsExitCode: 'sh reports the death of the command by signal n as $? = 128 + n, and that is what the supervisor records',
  }],
];

for (const [name, launcher, traits] of LAUNCHERS) {
  executorContract(name, async ({ root }) => {
    // the data dir is the root (the parent of the state dir): logs/ and work/ go next to state/
    return executorsOf(() => createLocalExecutor(launcher, { stateDir: path.join(root, 'state'), sweepMs: 100, slots: 4 }), root);
  }, traits);
}
