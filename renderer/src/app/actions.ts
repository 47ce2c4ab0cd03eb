// Which toolbar actions a library item's state allows. The engine refuses a wrong call anyway;
// this keeps the buttons honest about it.
import type { ContainerInfo, VmRunState } from '../../../engine/api/channels.ts';

export type Action =
  | 'start' | 'pause' | 'resume' | 'stop' | 'force-stop' | 'save' | 'delete' | 'snapshot' | 'restore' | 'clone' | 'terminal';

const CONTAINER_ACTIONS: Record<ContainerInfo['status'], Action[]> = {
  created: ['start', 'delete', 'snapshot', 'restore'],
  running: ['pause', 'stop', 'delete', 'snapshot', 'terminal'],
  paused: ['resume', 'stop', 'delete', 'snapshot'],
  exited: ['start', 'delete', 'snapshot', 'restore'],
};

// A VM in a transition (starting, saving, stopping) can only be forced off; a saved VM starts by
// resuming its state; clones are made from what is on disk, so from a VM that does not run.
const VM_ACTIONS: Record<VmRunState, Action[]> = {
  'powered-off': ['start', 'snapshot', 'restore', 'clone', 'delete'],
  saved: ['start', 'snapshot', 'restore', 'clone', 'delete'],
  starting: ['force-stop'],
  running: ['pause', 'stop', 'force-stop', 'save', 'snapshot', 'restore', 'delete', 'terminal'],
  paused: ['resume', 'force-stop', 'save', 'snapshot', 'restore', 'delete'],
  saving: [],
  stopping: ['force-stop'],
  invalid: ['delete'],
};

export function containerActions(status: ContainerInfo['status']): ReadonlySet<Action> {
  return new Set(CONTAINER_ACTIONS[status]);
}

export function vmActions(state: VmRunState): ReadonlySet<Action> {
  return new Set(VM_ACTIONS[state]);
}

/** A container whose processes exist (running or frozen). */
export const containerIsLive = (status: ContainerInfo['status']) => status === 'running' || status === 'paused';

/** A VM whose machine exists (its console can be shown). */
export const vmIsLive = (state: VmRunState) => state === 'starting' || state === 'running' || state === 'paused' || state === 'stopping' || state === 'saving';

/** Splits a command line into words as a shell would (the Containerfile parser's splitter). */
export { splitWords as splitCommand } from '../../../engine/api/channels.ts';
