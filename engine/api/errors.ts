// Engine errors become values at the API boundary: a code a client can branch on, and the
// engine's own message (which names what was refused and why) to show as is.
import {
  ConflictError, InvalidImageError, NotFoundError, NotLinuxError, RegistryError, StateError,
} from '../containers/errors.ts';
import { LockTimeoutError } from '../common/lock.ts';
import { AgentError } from '../vm/agent.ts';
import { VmArgumentError, VmConflictError, VmNotFoundError, VmStateError } from '../vm/errors.ts';
import type { ApiError, ErrorCode } from './channels.ts';
import { ValidationError } from './schema.ts';

/** An error the API itself raises with a chosen code. */
export class ApiCallError extends Error {
  override name = 'ApiCallError';
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

const BY_CLASS: [new (...args: never[]) => Error, ErrorCode][] = [
  [ValidationError, 'invalid-argument'],
  [NotLinuxError, 'unsupported'],
  [NotFoundError, 'not-found'],
  [ConflictError, 'conflict'],
  [StateError, 'invalid-state'],
  [InvalidImageError, 'invalid-image'],
  [RegistryError, 'registry'],
  [VmArgumentError, 'invalid-argument'],
  [VmNotFoundError, 'not-found'],
  [VmConflictError, 'conflict'],
  [VmStateError, 'invalid-state'],
  [LockTimeoutError, 'invalid-state'],
];

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiCallError) return { code: err.code, message: err.message };
  if (err instanceof Error && err.name === 'AbortError') return { code: 'cancelled', message: 'cancelled' };
  if (err instanceof AgentError && (err.code === 'aborted' || err.code === 'argument')) {
    return { code: err.code === 'aborted' ? 'cancelled' : 'invalid-argument', message: err.message };
  }
  for (const [type, code] of BY_CLASS) if (err instanceof type) return { code, message: err.message };
  return { code: 'failed', message: err instanceof Error ? err.message : String(err) };
}
