// The real parts of a running VM: the machine (engine/vcpu MachineHost) and the guest agent
// (engine/vm/agent.ts). Save, restore and the agent's channel arrive with the machine-state and
// guest-agent work; until then starting a VM is refused with this message.
import { VmStateError } from './errors.ts';
import type { RunnerParts } from './runner.ts';

const missing = (): never => {
  throw new VmStateError('running VMs needs the machine\'s save/restore and the guest agent, not in this build yet');
};

export const machineParts: RunnerParts = { machine: missing, agent: missing };
