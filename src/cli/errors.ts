/** Exit codes scripts can rely on (also in the README). */
export const EXIT = {
  OK: 0,
  /** The operation could not be done: account exists or is missing, backend unreachable. */
  FAILED: 1,
  /** Bad usage or configuration: fix the command line or the config file. */
  USAGE: 2,
} as const;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
  ) {
    super(message);
  }
}
