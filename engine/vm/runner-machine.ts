// The real parts of a running VM: the machine (engine/vcpu MachineHost, its vCPU and device
// threads) and the guest agent on its virtio-console (engine/vm/agent.ts).
import { MachineHost } from '../vcpu/machine-host.ts';
import { GuestAgent } from './agent.ts';
import type { RunnerParts } from './runner.ts';

export const machineParts: RunnerParts = {
  machine: (config) => new MachineHost(config),
  agent: (channel) => new GuestAgent(channel),
};
