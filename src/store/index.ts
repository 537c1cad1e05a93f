// Picks the store: Redis when a URL is configured, otherwise the in-process one.
import { Redis } from 'ioredis';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { Store } from './types.js';
import { guardStore } from './unavailable.js';

export type * from './types.js';
export { MemoryStore } from './memory.js';
export { RedisStore } from './redis.js';
export { StoreUnavailableError, isConnectionError } from './unavailable.js';

export interface StoreOptions {
  redisUrl?: string;
  keyPrefix?: string;
  /** Connection errors (ioredis emits one per failed reconnect). Without it ioredis prints them itself. */
  onError?: (err: Error) => void;
  /** Called each time the connection is (re)established. */
  onReady?: () => void;
}

export function createStore(opts: StoreOptions): Store {
  if (!opts.redisUrl) return new MemoryStore();
  const client = new Redis(opts.redisUrl, {
    // Connect now, and queue commands issued before the first connection is up
    // (start-up calls come before it): the offline queue stays on.
    lazyConnect: false,
    enableOfflineQueue: true,
    // While Redis is down, queued commands fail after the second failed reconnect
    // instead of waiting for 20 of them...
    maxRetriesPerRequest: 1,
    // ...and no command waits longer than this, even on a black-holed connection.
    commandTimeout: 5_000,
    connectTimeout: 5_000,
    // Keep reconnecting in the background for ever, backing off to 2 s.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
  });
  if (opts.onError) client.on('error', opts.onError);
  if (opts.onReady) client.on('ready', opts.onReady);
  return guardStore(new RedisStore(client, opts.keyPrefix));
}
