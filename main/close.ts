// What closing the main window asks when machines are running, and what each answer does, as
// API calls. VMs run inside the app's process: they can be saved (vms:save), powered off
// (vms:stop) or kept running headless. Containers run under their own monitors and outlive the
// app: they are stopped only when asked to power everything off.
import type { Channel, ContainerInfo, VmListEntry, VmRunState } from '../engine/api/channels.ts';

export interface RunningMachine {
  kind: 'vm' | 'container';
  id: string;
  name: string;
}

/** A VM whose machine runs in this process (a save or a stop in progress finishes by itself). */
const LIVE_VM: ReadonlySet<VmRunState> = new Set(['starting', 'running', 'paused']);

/** The machines closing asks about, from the engine's lists. */
export function runningMachines(vms: VmListEntry[], containers: ContainerInfo[]): RunningMachine[] {
  return [
    ...vms.filter((v) => LIVE_VM.has(v.state)).map((v): RunningMachine => ({ kind: 'vm', id: v.id, name: v.name })),
    ...containers.filter((c) => c.status === 'running' || c.status === 'paused').map((c): RunningMachine => ({ kind: 'container', id: c.id, name: c.name })),
  ];
}

export type CloseChoice = 'save' | 'power-off' | 'keep-running' | 'cancel';

export interface CloseOption {
  choice: CloseChoice;
  label: string;
}

/** An API call to make: a channel name and its argument. */
export interface CloseAction {
  channel: Channel;
  args: Record<string, unknown>;
}

/** The choices offered for these machines, in button order; cancel is always last. */
export function closeOptions(machines: RunningMachine[]): CloseOption[] {
  const vms = machines.some((m) => m.kind === 'vm');
  const options: CloseOption[] = [];
  if (vms) options.push({ choice: 'save', label: 'Save state' });
  options.push({ choice: 'power-off', label: vms ? 'Power off' : 'Stop them' });
  options.push({ choice: 'keep-running', label: vms ? 'Keep running headless' : 'Keep them running' });
  options.push({ choice: 'cancel', label: 'Cancel' });
  return options;
}

/** The calls that carry out a choice. */
export function closeActions(choice: CloseChoice, machines: RunningMachine[]): CloseAction[] {
  if (choice === 'save') {
    return machines.filter((m) => m.kind === 'vm').map((m) => ({ channel: 'vms:save', args: { vm: m.id } }));
  }
  if (choice === 'power-off') {
    return machines.map((m) => (m.kind === 'vm' ? { channel: 'vms:stop', args: { vm: m.id } } : { channel: 'containers:stop', args: { container: m.id } }));
  }
  return [];
}

/** Whether the app must stay alive without a window: VMs run inside its main process. */
export function staysHeadless(choice: CloseChoice, machines: RunningMachine[]): boolean {
  return choice === 'keep-running' && machines.some((m) => m.kind === 'vm');
}

export function closeQuestion(machines: RunningMachine[]): { message: string; detail: string } {
  const names = machines.map((m) => `${m.name} (${m.kind === 'vm' ? 'VM' : 'container'})`);
  return {
    message: machines.length === 1 ? `${names[0]} is running.` : `${machines.length} machines are running.`,
    detail: `${names.join(', ')}.\nContainers keep running without the app; VMs run inside it.`,
  };
}
