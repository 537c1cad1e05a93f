/**
 * A start-up failure an operator can fix: what went wrong and what to do, as
 * one line. `serve` prints it, closes what it opened and exits non-zero.
 */
export class StartupError extends Error {
  override name = 'StartupError';
  constructor(
    readonly problem: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(`${oneLine(problem)}; ${oneLine(fix)}`, options);
  }
}

/** Collapses a multi-line message (a template parser's, say) into one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
