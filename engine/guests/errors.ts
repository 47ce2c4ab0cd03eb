// Errors of the guest builder. Each message names the thing refused and how to fix it; the
// CLI shows it as is (exit status 1).

export class GuestError extends Error {
  override name = 'GuestError';
}

/** A downloaded file whose size or SHA256 is not what the signed index gives. */
export class MismatchError extends GuestError {
  override name = 'MismatchError';
}

/** An HTTP answer other than 200 from the mirror. */
export class HttpError extends GuestError {
  override name = 'HttpError';
  constructor(url: string, readonly status: number, statusText: string) {
    super(`${url}: HTTP ${status} ${statusText}`);
  }
}

/** A file from the archive that is malformed: .deb, ar, Packages, Release, kernel module. */
export class FormatError extends GuestError {
  override name = 'FormatError';
}
