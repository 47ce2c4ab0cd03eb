/** Bad input from the user (arguments, files, sizes): one line on stderr, exit status 2. */
export class UsageError extends Error {}

/** Exit statuses of the `hangar` command (documented in README.md). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** Ctrl-C or a cancelled long operation. */
  cancelled: 130,
} as const;
