// Errors of the machine layer, each a HangarError with its code (engine/common/errors.ts): a
// saved-state file that cannot be restored, and boot files that cannot boot.
import { HangarError } from '../common/errors.ts';

/** A saved-state file that is corrupt, truncated, from another VM or of an unknown format. */
export class StateFileError extends HangarError {
  override name = 'StateFileError';
  constructor(message: string) {
    super('corrupt', message);
  }
}

export type ImageRole = 'firmware' | 'kernel' | 'initrd' | 'device tree';

/** A boot image that cannot be used; `image` says which one (also in details). */
export class BootError extends HangarError {
  override name = 'BootError';
  constructor(readonly image: ImageRole, message: string) {
    super('invalid-argument', message, { details: { image } });
  }
}
