// The engine's one error model. Every error meant for a user is a HangarError: a code a caller
// branches on (the CLI's exit status, the UI's message, the API's answer) and a message that names
// what was refused and why, shown as is. Domain classes (VmNotFoundError, StateFileError, ...)
// extend it and fix their code; their names stay for logs and tests. An error crosses a thread
// or a transport as its plain parts ({code, message, details, name}: serializeError) and is
// rebuilt on the other side (reviveError), so the code raised in a device thread is the code the
// CLI and the UI see. Pure: no Node modules (the renderer bundles it through engine/api).

export const ERROR_CODES = [
  'not-found', //        no such VM, snapshot, image, container, file
  'conflict', //         a name already taken, an operation already running
  'invalid-state', //    the thing is in the wrong state for the operation (running, paused, locked)
  'invalid-argument', // a bad argument: a name, size or count out of range, a file that cannot boot
  'corrupt', //          a damaged, truncated or foreign file (state file, vm.json, image)
  'unavailable', //      something needed does not answer (a registry, a mirror, the guest agent)
  'cancelled', //        the caller cancelled it
  'unsupported', //      not on this host or by this engine (containers need Linux, an unknown channel)
  'failed', //           anything else: the message says what
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class HangarError extends Error {
  override name = 'HangarError';
  readonly code: ErrorCode;
  /** Plain, JSON-serialisable facts a client may use (a file, a field, a status). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.details !== undefined) this.details = options.details;
  }
}

/** An error as it crosses a thread (postMessage) or a transport (JSON). */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** The class that raised it (for logs), e.g. "StateFileError". */
  name?: string;
}

const isCode = (value: unknown): value is ErrorCode => (ERROR_CODES as readonly unknown[]).includes(value);

/** The message of anything thrown. */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Anything thrown, as plain parts: a HangarError keeps its code and details, an AbortError
 * (AbortSignal, the agent's abort) is `cancelled`, anything else `failed` with its message.
 */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof HangarError) {
    return { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }), name: err.name };
  }
  if (err instanceof Error && err.name === 'AbortError') return { code: 'cancelled', message: 'cancelled', name: err.name };
  return { code: 'failed', message: errorMessage(err), ...(err instanceof Error ? { name: err.name } : {}) };
}

/** A HangarError from plain parts that came from elsewhere: an unknown code becomes `failed`. */
export function reviveError(error: SerializedError): HangarError {
  const details = typeof error.details === 'object' && error.details !== null ? error.details : undefined;
  const revived = new HangarError(isCode(error.code) ? error.code : 'failed', String(error.message), { details });
  if (typeof error.name === 'string' && error.name) revived.name = error.name;
  return revived;
}
