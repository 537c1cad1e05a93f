// A budget counted in process and added to the shared counter every few
// milliseconds, instead of a Redis round trip per attempt. For budgets where
// an overshoot by what other instances admitted during one flush interval is
// acceptable: a runaway client's request rate, and failed client
// authentications (with blocks announced to every instance, see
// RedisStore.blockAware). Never for password guessing, which reserves a point
// atomically in Redis before each argon2id check.
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { BoundedMap } from '../util/bounded-map.js';
import type { RateLimitResult, RateLimiter } from './types.js';

interface Entry {
  /** Counted here, not yet added to the shared counter. */
  pending: number;
  /** Sent to the shared counter, answer not back yet (not in `shared` either). */
  inFlight: number;
  /** The shared counter as of the last flush (every instance's points). */
  shared: number;
  /** When the window ends (the shared key's expiry, as last seen). */
  resetAt: number;
  /** When `shared` was last read from the shared counter by peekShared (this window). */
  seededAt?: number;
}

export class BatchedLimiter implements RateLimiter {
  private readonly entries = new BoundedMap<string, Entry>(50_000);
  private timer?: NodeJS.Timeout;
  /** Told every instance's total for a key after each flush (the store announces blocks with it). */
  onShared?: (key: string, consumed: number, resetAt: number) => void;

  constructor(
    private readonly shared: RateLimiterAbstract,
    private readonly points: number,
    private readonly durationMs: number,
    private readonly flushMs: number,
  ) {}

  /** duration 0 means a window that never ends, as in the shared limiter. */
  private windowEnd(now: number): number {
    return this.durationMs > 0 ? now + this.durationMs : Number.POSITIVE_INFINITY;
  }

  private entry(key: string, now: number): Entry {
    let e = this.entries.get(key);
    if (e && e.resetAt <= now) {
      // The window is over here and (give or take a flush) in Redis too.
      e.shared = 0;
      e.resetAt = this.windowEnd(now);
      e.seededAt = undefined;
    }
    if (!e) {
      e = { pending: 0, inFlight: 0, shared: 0, resetAt: this.windowEnd(now) };
      this.entries.set(key, e);
    }
    return e;
  }

  private view(e: Entry, now: number): RateLimitResult {
    const used = e.shared + e.inFlight + e.pending;
    return used >= this.points
      ? { allowed: false, remaining: 0, retryAfterMs: Number.isFinite(e.resetAt) ? Math.max(1, e.resetAt - now) : Number.MAX_SAFE_INTEGER }
      : { allowed: true, remaining: this.points - used, retryAfterMs: 0, ...(Number.isFinite(e.resetAt) ? { windowLeftMs: e.resetAt - now } : {}) };
  }

  async consume(key: string): Promise<RateLimitResult> {
    const now = Date.now();
    const e = this.entry(key, now);
    const seen = this.view(e, now);
    if (!seen.allowed) return seen;
    e.pending++;
    this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
    return { ...seen, remaining: seen.remaining - 1 };
  }

  async refund(key: string): Promise<void> {
    const e = this.entries.get(key);
    if (e && e.pending > 0) e.pending--;
    else await this.shared.reward(key, 1);
  }

  /** As peek, after reading every instance's total from the shared counter (one round trip). */
  async peekShared(key: string): Promise<RateLimitResult> {
    const res = await this.shared.get(key);
    const now = Date.now();
    const e = this.entry(key, now);
    if (res) {
      // May count this instance's in-flight points twice: errs on the side of refusing.
      e.shared = Math.max(e.shared, res.consumedPoints);
      if (res.msBeforeNext > 0) e.resetAt = now + res.msBeforeNext;
    }
    e.seededAt = now;
    return this.view(e, now);
  }

  /** When this key's shared total was last read (undefined: not in this window). */
  seededAt(key: string): number | undefined {
    const e = this.entries.get(key);
    return e && e.resetAt > Date.now() ? e.seededAt : undefined;
  }

  async peek(key: string): Promise<RateLimitResult> {
    const now = Date.now();
    return this.view(this.entry(key, now), now);
  }

  async reset(key: string): Promise<void> {
    this.entries.delete(key);
    await this.shared.delete(key);
  }

  /** Adds what was counted here to the shared counters and reads back every instance's total. */
  async flush(): Promise<void> {
    this.timer = undefined;
    const now = Date.now();
    const work: Promise<void>[] = [];
    for (const [key, e] of this.entries) {
      if (e.pending === 0) {
        if (e.resetAt <= now && e.inFlight === 0) this.entries.delete(key);
        continue;
      }
      const n = e.pending;
      e.pending = 0;
      e.inFlight += n;
      work.push(
        this.shared.penalty(key, n).then(
          (res) => {
            e.inFlight -= n;
            e.shared = res.consumedPoints;
            e.resetAt = res.msBeforeNext > 0 ? Date.now() + res.msBeforeNext : this.windowEnd(Date.now());
            this.onShared?.(key, e.shared, e.resetAt);
          },
          () => {
            // Redis unreachable: keep counting here and try again at the next flush.
            e.inFlight -= n;
            e.pending += n;
            this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
          },
        ),
      );
    }
    await Promise.all(work);
  }
}
