// The `hangar` command's errors and exit statuses. An engine error reaches the command as a
// HangarError (directly, or through the API as an ApiRequestError); its code alone picks the
// exit status (STATUS_OF), the statuses README.md documents.
import { HangarError, serializeError, type ErrorCode } from '../common/errors.ts';

/** Bad input from the user (arguments, files, sizes): one line on stderr, exit status 2. */
export class UsageError extends HangarError {
  override name = 'UsageError';
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

/** Exit statuses of the `hangar` command (documented in README.md). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** Ctrl-C or a cancelled long operation. */
  cancelled: 130,
} as const;

/**
 * The exit status for each error code: bad input (a bad argument, naming what does not exist, a
 * name already taken) is 2; a refusal or failure (wrong state, a damaged file, nothing answering,
 * not on this host) is 1; cancelled is 130.
 */
export const STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  'invalid-argument': EXIT.usage,
  'not-found': EXIT.usage,
  conflict: EXIT.usage,
  'invalid-state': EXIT.failure,
  corrupt: EXIT.failure,
  unavailable: EXIT.failure,
  unsupported: EXIT.failure,
  failed: EXIT.failure,
  cancelled: EXIT.cancelled,
};

/** The exit status for anything thrown. */
export function exitStatus(err: unknown): number {
  return STATUS_OF[serializeError(err).code];
}
