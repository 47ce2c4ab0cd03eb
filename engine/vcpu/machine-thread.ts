// The machine thread: builds the machine from its configuration and runs it until the guest
// powers off or the owner asks it to quit. Console bytes go out by postMessage (which needs no
// event-loop turn on this side) and come in through a shared ring.
import { parentPort, workerData } from 'node:worker_threads';
import { Machine, type MachineConfig } from '../machine/machine.ts';
import { ByteRing } from './byte-ring.ts';
import type { MachineMessage } from './protocol.ts';

const { config, input, control } = workerData as {
  config: MachineConfig;
  input: SharedArrayBuffer;
  control: SharedArrayBuffer;
};
const post = (message: MachineMessage) => parentPort!.postMessage(message);

try {
  const inputRing = new ByteRing(input);
  const machine = await Machine.create(config, {
    write: (data) => post({ type: 'console', data: data.slice() }),
    read: () => inputRing.read(),
  });
  const exit = machine.run(new Int32Array(control));
  post({ type: 'exit', exit });
} catch (err) {
  post({ type: 'exit', exit: { reason: 'error', status: 1, message: err instanceof Error ? err.message : String(err) } });
}
