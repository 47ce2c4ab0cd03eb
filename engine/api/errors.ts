// Engine errors become values at the API boundary: the error's code (engine/common/errors.ts) a
// client can branch on, the engine's own message (which names what was refused and why) to show
// as is, and its details. Cancellation (an AbortError) is `cancelled`; anything that is not a
// HangarError is `failed` with its message.
import { serializeError } from '../common/errors.ts';
import type { ApiError } from './channels.ts';

export function toApiError(err: unknown): ApiError {
  const { code, message, details } = serializeError(err);
  return details === undefined ? { code, message } : { code, message, details };
}
