// Long operations (pull, push, import, export, build) share one shape: progress through a
// callback, cancellation through an AbortSignal. No console output here: the caller renders.

export interface Progress {
  /** What is happening, e.g. "pull layer", "import", "build step 2/5". */
  phase: string;
  /** The object being worked on (a digest, a file, an instruction). */
  item?: string;
  /** Bytes (or steps) done so far and in total, when known. */
  done?: number;
  total?: number;
}

export interface OperationOptions {
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

/** Where the containers service keeps its state: $HANGAR_HOME/containers, HANGAR_HOME defaulting to ~/.local/share/hangar. */
export function defaultContainersRoot(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HANGAR_HOME ?? `${env.XDG_DATA_HOME ?? `${env.HOME ?? '/root'}/.local/share`}/hangar`;
  return `${home}/containers`;
}
