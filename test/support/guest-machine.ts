// A Hangar machine run by a test or a benchmark in this process (MachineHost: vCPU and device
// threads), with a GuestConsole on its serial console.
import type { MachineConfig } from '../../engine/machine/machine.ts';
import { MachineHost } from '../../engine/vcpu/machine-host.ts';
import { GuestConsole, SHELL_PROMPT } from './guest-console.ts';

export interface GuestMachine {
  machine: MachineHost;
  console: GuestConsole;
}

/** Starts the machine; its console is ready to wait on at once. */
export function startGuestMachine(config: MachineConfig): GuestMachine {
  const machine = new MachineHost(config);
  const console = new GuestConsole({
    onData: (listener) => machine.on('console', listener),
    write: (text) => machine.sendConsole(Buffer.from(text)),
  });
  return { machine, console };
}

/**
 * Starts the machine and waits for the guest's shell prompt; a machine that does not get there is
 * killed. One that ends first (it cannot start: no CPU core built, a bad file) fails at once with
 * its own message.
 */
export async function bootToShell(config: MachineConfig, timeoutMs: number): Promise<GuestMachine> {
  const guest = startGuestMachine(config);
  try {
    await Promise.race([
      guest.console.waitFor(SHELL_PROMPT, timeoutMs),
      guest.machine.exited.then((exit) => { throw new Error(`the machine ended before the shell prompt: ${exit.message ?? exit.reason}`); }),
    ]);
  } catch (err) {
    await guest.machine.kill();
    throw err;
  }
  return guest;
}
