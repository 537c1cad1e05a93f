/**
 * The time the core judges lapses by (upstream revalidation). One object the
 * composition root owns, so an acceptance test can move time forward without
 * waiting 30 days; production never sets an offset.
 */
export class Clock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  /** Tests only: pretend `ms` more have passed. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
