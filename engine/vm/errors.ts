// Typed errors of the VM library. Callers (CLI, service API) branch on the class and show the
// message as is: every message names the VM, snapshot or file and what was refused.

export class VmError extends Error {
  override name = 'VmError';
}

/** A bad argument: a name, size or count out of range, a boot file that cannot boot. */
export class VmArgumentError extends VmError {
  override name = 'VmArgumentError';
}

/** No VM or snapshot by that name or id. */
export class VmNotFoundError extends VmError {
  override name = 'VmNotFoundError';
}

/** A name already taken (a VM, a snapshot of the same VM). */
export class VmConflictError extends VmError {
  override name = 'VmConflictError';
}

/** A VM in the wrong state for the operation: running, holding a saved state, holding linked clones' disks. */
export class VmStateError extends VmError {
  override name = 'VmStateError';
}

/** A vm.json that is malformed or breaks the schema; the file is never rewritten. */
export class VmConfigError extends VmError {
  override name = 'VmConfigError';
}

/** A saved-state file that is corrupt, truncated, from another VM or of an unknown format. */
export class StateFileError extends VmError {
  override name = 'StateFileError';
}
