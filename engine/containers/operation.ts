// Long operations share one shape (engine/common/operation.ts); the containers service keeps its
// state under Hangar's home folder.
import { hangarHome } from '../common/hangar-home.ts';

export type { Progress, OperationOptions } from '../common/operation.ts';

/** Where the containers service keeps its state: $HANGAR_HOME/containers, HANGAR_HOME defaulting to ~/.local/share/hangar. */
export function defaultContainersRoot(env: NodeJS.ProcessEnv = process.env): string {
  return `${hangarHome(env)}/containers`;
}
