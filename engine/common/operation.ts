// Long operations (pulls, builds, disk conversions, clones, snapshot merges) share one shape:
// progress through a callback, cancellation through an AbortSignal. No console output here: the
// caller renders.

export interface Progress {
  /** What is happening, e.g. "pull layer", "import", "build step 2/5", "clone disk0". */
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
