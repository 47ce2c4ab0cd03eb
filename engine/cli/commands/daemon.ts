// `hangar daemon`: the headless engine that owns the library and keeps VMs running for its
// clients (`hangar vm start --detach` starts it when no engine runs). `hangar daemon stop` asks
// it to end: it saves its running VMs first.
import { parseArgs } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import { isProcessAlive } from '../../common/process.ts';
import { engineHome, runDaemon } from '../../daemon/daemon.ts';
import { findOwner } from '../../daemon/owner.ts';

export const summary = 'the headless engine that owns the VM library (vm start --detach starts it)';

const USAGE = `usage: hangar daemon          run the engine until SIGTERM/SIGINT (running VMs are then saved)
       hangar daemon stop     ask the running engine to end, and wait for it`;

/** Saving a few large guests can take a while on an emulated machine's host. */
const STOP_WAIT_MS = 600_000;

export async function run(argv: string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, { help: { type: 'boolean', short: 'h' } });
  if (options.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (positionals.length === 0) {
    await runDaemon((line) => console.log(`${new Date().toISOString()} ${line}`));
    return EXIT.ok;
  }
  if (positionals.length !== 1 || positionals[0] !== 'stop') throw new UsageError(USAGE);
  const owner = await findOwner(engineHome());
  if (!owner) {
    console.error('hangar daemon: no engine owns the library');
    return EXIT.failure;
  }
  process.kill(owner.pid, 'SIGTERM');
  const deadline = Date.now() + STOP_WAIT_MS;
  while (isProcessAlive(owner.pid)) {
    if (Date.now() > deadline) throw new Error(`the engine in process ${owner.pid} did not end`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return EXIT.ok;
}
