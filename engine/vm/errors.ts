// Typed errors of the VM library, each a HangarError with its code (engine/common/errors.ts).
// Callers (CLI, service API) branch on the code and show the message as is: every message
// names the VM, snapshot or file and what was refused. A saved-state file's errors are the
// machine's (engine/machine/state-file.ts: StateFileError).
import { HangarError, type ErrorCode } from '../common/errors.ts';

export class VmError extends HangarError {
  override name = 'VmError';
  constructor(message: string, code: ErrorCode = 'failed') {
    super(code, message);
  }
}

/** A bad argument: a name, size or count out of range. */
export class VmArgumentError extends VmError {
  override name = 'VmArgumentError';
  constructor(message: string) {
    super(message, 'invalid-argument');
  }
}

/** No VM or snapshot by that name or id. */
export class VmNotFoundError extends VmError {
  override name = 'VmNotFoundError';
  constructor(message: string) {
    super(message, 'not-found');
  }
}

/** A name already taken (a VM, a snapshot of the same VM). */
export class VmConflictError extends VmError {
  override name = 'VmConflictError';
  constructor(message: string) {
    super(message, 'conflict');
  }
}

/** A VM in the wrong state for the operation: running, holding a saved state, holding linked clones' disks. */
export class VmStateError extends VmError {
  override name = 'VmStateError';
  constructor(message: string) {
    super(message, 'invalid-state');
  }
}

/** A vm.json that is malformed or breaks the schema; the file is never rewritten. */
export class VmConfigError extends VmError {
  override name = 'VmConfigError';
  constructor(message: string) {
    super(message, 'corrupt');
  }
}
