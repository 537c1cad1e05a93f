// The one polling wait of the test suites: until a check yields a value, or a deadline.
import { setTimeout as sleep } from 'node:timers/promises';

/** Thrown by a check to stop waiting at once (e.g. the process being waited for has exited). */
export class GiveUp extends Error {
  override name = 'GiveUp';
}

export interface WaitOptions {
  /** Default 10 s; generous because the test machine is shared. */
  timeoutMs?: number;
  /** Default 50 ms. */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns something other than false/undefined/null and
 * returns that. Errors thrown by the check count as "not yet" (a port not yet
 * open, a server not yet answering) and the last one is quoted on timeout;
 * a GiveUp error ends the wait at once.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | false | undefined | null | Promise<T | false | undefined | null>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== undefined && value !== null) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}
