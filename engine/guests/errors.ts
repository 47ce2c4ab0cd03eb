// Errors of the guest builder, each a HangarError with its code (engine/common/errors.ts). Each
// message names the thing refused and how to fix it; the CLI shows it as is.
import { HangarError, type ErrorCode } from '../common/errors.ts';

export class GuestError extends HangarError {
  override name = 'GuestError';
  constructor(message: string, code: ErrorCode = 'failed') {
    super(code, message);
  }
}

/** A downloaded file whose size or SHA256 is not what the signed index gives. */
export class MismatchError extends GuestError {
  override name = 'MismatchError';
  constructor(message: string) {
    super(message, 'corrupt');
  }
}

/** An HTTP answer other than 200 from the mirror: 404 is not-found, anything else unavailable. */
export class HttpError extends GuestError {
  override name = 'HttpError';
  constructor(url: string, readonly status: number, statusText: string) {
    super(`${url}: HTTP ${status} ${statusText}`, status === 404 ? 'not-found' : 'unavailable');
  }
}

/** A file from the archive that is malformed: .deb, ar, Packages, Release, kernel module. */
export class FormatError extends GuestError {
  override name = 'FormatError';
  constructor(message: string) {
    super(message, 'corrupt');
  }
}
