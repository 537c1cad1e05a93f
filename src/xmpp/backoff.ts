// Capped exponential backoff with jitter, so several instances (or a restarted
// server's many components) don't reconnect in lockstep. The cap is short:
// while the XMPP server is down or restarting, every second of backoff past
// its return is a second of failed logins.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /**
   * Used by the component link: the wait after the server refused our
   * credentials (wrong secret, unknown domain), which retrying soon cannot fix.
   */
  fatalMs?: number;
}

/** Default wait after an authentication failure, until the operator fixes the server side. */
export const FATAL_RETRY_MS = 60_000;

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  private failures = 0;

  constructor(
    { initialMs = 500, maxMs = 3_000 }: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    if (!(initialMs > 0) || !(maxMs >= initialMs)) {
      throw new RangeError(`backoff needs 0 < initialMs <= maxMs (got ${initialMs}, ${maxMs})`);
    }
    this.initialMs = initialMs;
    this.maxMs = maxMs;
  }

  /** Delay before the next attempt: between half and all of min(max, initial·2^n). */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  reset(): void {
    this.failures = 0;
  }
}
