// Typed errors of the containers service, each a HangarError with its code (engine/common/errors.ts).
// Callers (CLI, service API) branch on the code and show the message as is: every message
// names the thing that was refused and why.
import { HangarError, type ErrorCode } from '../common/errors.ts';

export class ContainerError extends HangarError {
  override name = 'ContainerError';
  constructor(message: string, code: ErrorCode = 'failed') {
    super(code, message);
  }
}

/** Containers run on the host kernel through runc: Linux only. */
export class NotLinuxError extends ContainerError {
  override name = 'NotLinuxError';
  constructor(platform: string) {
    super(`containers need a Linux host (this is ${platform}): they run on the host kernel through runc`, 'unsupported');
  }
}

/** An image, container, snapshot or blob that does not exist. */
export class NotFoundError extends ContainerError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super(message, 'not-found');
  }
}

/** A name that is already taken (container name, tag on tag). */
export class ConflictError extends ContainerError {
  override name = 'ConflictError';
  constructor(message: string) {
    super(message, 'conflict');
  }
}

/** Content whose sha256 is not the one it was announced with. */
export class DigestMismatchError extends ContainerError {
  override name = 'DigestMismatchError';
  constructor(what: string, expected: string, actual: string) {
    super(`${what}: digest mismatch (expected ${expected}, got ${actual})`, 'corrupt');
  }
}

/** An image, archive or layer that is malformed or unsafe: refused before anything is written outside the store. */
export class InvalidImageError extends ContainerError {
  override name = 'InvalidImageError';
  constructor(message: string) {
    super(message, 'corrupt');
  }
}

/** A layer tar entry that would write outside the root it is unpacked into. */
export class UnsafeLayerError extends InvalidImageError {
  override name = 'UnsafeLayerError';
}

/** A registry that answered with an error (HTTP status and the registry's own message): 404 is not-found. */
export class RegistryError extends ContainerError {
  override name = 'RegistryError';
  constructor(message: string, readonly status?: number) {
    super(message, status === 404 ? 'not-found' : 'unavailable');
  }
}

/** A container in the wrong state for the operation (start a running one, exec in a stopped one). */
export class StateError extends ContainerError {
  override name = 'StateError';
  constructor(message: string) {
    super(message, 'invalid-state');
  }
}

/** An external tool (runc, mount, tar) that failed: its own stderr is kept in the message. */
export class ToolError extends ContainerError {
  override name = 'ToolError';
}
