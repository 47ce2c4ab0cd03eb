// Which toolbar actions a library item's state allows. The engine refuses a wrong call anyway;
// this keeps the buttons honest about it.
import type { ContainerInfo } from '../../../engine/api/channels.ts';

export type Action = 'start' | 'pause' | 'resume' | 'stop' | 'delete' | 'snapshot' | 'restore' | 'terminal';

const CONTAINER_ACTIONS: Record<ContainerInfo['status'], Action[]> = {
  created: ['start', 'delete', 'snapshot', 'restore'],
  running: ['pause', 'stop', 'delete', 'snapshot', 'terminal'],
  paused: ['resume', 'stop', 'delete', 'snapshot'],
  exited: ['start', 'delete', 'snapshot', 'restore'],
};

export function containerActions(status: ContainerInfo['status']): ReadonlySet<Action> {
  return new Set(CONTAINER_ACTIONS[status]);
}

/** Splits a command line into words as a shell would (the Containerfile parser's splitter). */
export { splitWords as splitCommand } from '../../../engine/containers/containerfile.ts';
