// The net thread of a machine with NAT NICs: one user-mode stack (engine/net NetStack) per NIC,
// on a thread of its own whose event loop turns — the stack's host sockets, DNS lookups and TCP
// timers need one, the device thread never yields to its own, and on the owner's a guest's
// flood would delay the API it serves. Frames cross to the device thread through each NIC's
// rings (frame-ring.ts); frames put in for the guest ring the device bell. The owner's 'stop'
// closes every flow and host socket, and the thread ends.
import { parentPort, workerData } from 'node:worker_threads';
import { NetStack } from '../net/nat.ts';
import { MachineControl } from './control.ts';
import { StackNetEnd } from './frame-ring.ts';
import type { NetData } from './protocol.ts';

const { nics, control: controlBuffer } = workerData as NetData;
const control = new MachineControl(controlBuffer);
const ends = nics.map(({ link, options }) => {
  let end: StackNetEnd | null = null;
  const stack = new NetStack({ ...options, onFrames: () => end?.framesWaiting() });
  end = new StackNetEnd(link, stack, () => control.ringDevice());
  return { stack, end };
});
for (const { end } of ends) void end.run();
parentPort!.once('message', () => {
  for (const { stack, end } of ends) {
    end.close();
    stack.close();
  }
  parentPort!.close();
});
