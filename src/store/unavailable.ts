import type { RateLimiter, Store } from './types.js';

/** The backend cannot be reached now; the front doors answer 503 / a temporary error. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(override readonly cause: unknown) {
    super('the state store is temporarily unavailable');
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'NR_CLOSED']);
const CONNECTION_MESSAGES = /Connection is closed|Stream isn't writeable|Command timed out|Reached the max retries per request|connect ECONNREFUSED|MaxRetriesPerRequest|CLUSTERDOWN|TRYAGAIN|LOADING|READONLY|MASTERDOWN/;

export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && CONNECTION_CODES.has(code)) || err.name === 'MaxRetriesPerRequestError' || CONNECTION_MESSAGES.test(err.message);
}

function translate(err: unknown): never {
  throw isConnectionError(err) ? new StoreUnavailableError(err) : err;
}

function guardLimiter(limiter: RateLimiter): RateLimiter {
  return {
    consume: (key) => limiter.consume(key).catch(translate),
    refund: (key) => limiter.refund(key).catch(translate),
    peek: (key) => limiter.peek(key).catch(translate),
    reset: (key) => limiter.reset(key).catch(translate),
  };
}

/**
 * Wraps a store so every backend connection failure surfaces as one error
 * type, which each front door maps to its "try again later" answer, whatever
 * the driver's own error looks like.
 */
export function guardStore(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (prop === 'rateLimiter') {
        return (...args: Parameters<Store['rateLimiter']>) => guardLimiter(target.rateLimiter(...args));
      }
      if (prop === 'close') return value.bind(target);
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? result.catch(translate) : result;
      };
    },
  });
}
