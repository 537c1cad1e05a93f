// Adapts a rate-limiter-flexible limiter (memory or Redis) to our RateLimiter:
// the library rejects with a RateLimiterRes when blocked, which we turn into a
// plain result; real errors (backend down) still throw.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitResult, RateLimiter, RateLimitRule } from './types.js';

function isLimiterRes(e: unknown): e is RateLimiterRes {
  return e instanceof RateLimiterRes || (!(e instanceof Error) && typeof (e as RateLimiterRes | null)?.msBeforeNext === 'number');
}

/** Shared limiter options; blockDuration 0 means "refuse until the window ends". */
export function limiterOptions(rule: RateLimitRule): { points: number; duration: number; blockDuration: number } {
  return { points: rule.points, duration: rule.duration, blockDuration: rule.blockDuration ?? 0 };
}

export function adaptLimiter(limiter: RateLimiterAbstract, points: number): RateLimiter {
  const blocked = (res: RateLimiterRes): RateLimitResult => ({
    allowed: false,
    remaining: 0,
    // msBeforeNext is -1 when the key never expires (duration 0): report "a long time".
    retryAfterMs: res.msBeforeNext > 0 ? res.msBeforeNext : res.msBeforeNext < 0 ? Number.MAX_SAFE_INTEGER : 1,
  });
  return {
    async consume(key) {
      try {
        const res = await limiter.consume(key);
        return { allowed: true, remaining: res.remainingPoints, retryAfterMs: 0, windowLeftMs: res.msBeforeNext };
      } catch (e) {
        if (isLimiterRes(e)) return blocked(e);
        throw e;
      }
    },
    async refund(key) {
      await limiter.reward(key, 1);
    },
    async peek(key) {
      const res = await limiter.get(key);
      if (!res || res.consumedPoints < points) {
        return { allowed: true, remaining: res ? Math.max(points - res.consumedPoints, 0) : points, retryAfterMs: 0 };
      }
      return blocked(res);
    },
    async reset(key) {
      await limiter.delete(key);
    },
  };
}
