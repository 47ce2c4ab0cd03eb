// Typed errors of the containers service. Callers (CLI, service API) branch on the class and
// show the message as is: every message names the thing that was refused and why.

export class ContainerError extends Error {
  override name = 'ContainerError';
}

/** Containers run on the host kernel through runc: Linux only. */
export class NotLinuxError extends ContainerError {
  override name = 'NotLinuxError';
  constructor() {
    super(`containers need a Linux host (this is ${process.platform}): they run on the host kernel through runc`);
  }
}

/** An image, container, snapshot or blob that does not exist. */
export class NotFoundError extends ContainerError {
  override name = 'NotFoundError';
}

/** A name that is already taken (container name, tag on tag). */
export class ConflictError extends ContainerError {
  override name = 'ConflictError';
}

/** Content whose sha256 is not the one it was announced with. */
export class DigestMismatchError extends ContainerError {
  override name = 'DigestMismatchError';
  constructor(what: string, expected: string, actual: string) {
    super(`${what}: digest mismatch (expected ${expected}, got ${actual})`);
  }
}

/** An image, archive or layer that is malformed or unsafe: refused before anything is written outside the store. */
export class InvalidImageError extends ContainerError {
  override name = 'InvalidImageError';
}

/** A layer tar entry that would write outside the root it is unpacked into. */
export class UnsafeLayerError extends InvalidImageError {
  override name = 'UnsafeLayerError';
}

/** A registry that answered with an error (HTTP status and the registry's own message). */
export class RegistryError extends ContainerError {
  override name = 'RegistryError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** A container in the wrong state for the operation (start a running one, exec in a stopped one). */
export class StateError extends ContainerError {
  override name = 'StateError';
}

/** An external tool (runc, mount, tar) that failed: its own stderr is kept in the message. */
export class ToolError extends ContainerError {
  override name = 'ToolError';
}

