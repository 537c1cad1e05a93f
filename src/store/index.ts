// Picks the store: Redis when a URL is configured, otherwise the in-process one.
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis } from 'ioredis';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import { redisTlsOptions, type RedisTlsConfig } from './tls.js';
import type { Store } from './types.js';
import { guardStore } from './unavailable.js';

export type * from './types.js';
export { MemoryStore } from './memory.js';
export { RedisStore } from './redis.js';
export { StoreUnavailableError, isConnectionError } from './unavailable.js';

export interface StoreOptions {
  redisUrl?: string;
  /** Redis Sentinel addresses (`host:port`) with the master group `sentinelName`. */
  sentinels?: string[];
  sentinelName?: string;
  /** Redis Cluster seed nodes (`host:port`). */
  cluster?: string[];
  /** Password for Sentinel-managed or Cluster nodes. */
  password?: string;
  /** Password of the Sentinels themselves. */
  sentinelPassword?: string;
  keyPrefix?: string;
  /** TLS for every connection: the URL's node, the Sentinels and the nodes they name, Cluster nodes. */
  tls?: ConnectionOptions;
  /** Connection errors (ioredis emits one per failed reconnect). Without it ioredis prints them itself. */
  onError?: (err: Error) => void;
  /** Called each time the connection is (re)established. */
  onReady?: () => void;
  /**
   * Hold grant liveness in process, kept exact by the revocation feed (the
   * server turns it on; short-lived CLI commands leave it off, as it opens a
   * second connection).
   */
  grantLivenessCache?: boolean;
}

/** The options of our config's `redis` section, in createStore's terms. */
export function storeOptionsFrom(redis: {
  url?: string;
  sentinels?: string[];
  name?: string;
  cluster?: string[];
  password?: string;
  sentinel_password?: string;
  key_prefix?: string;
  tls?: RedisTlsConfig;
}): StoreOptions {
  return {
    redisUrl: redis.url,
    sentinels: redis.sentinels,
    sentinelName: redis.name,
    cluster: redis.cluster,
    password: redis.password,
    sentinelPassword: redis.sentinel_password,
    keyPrefix: redis.key_prefix,
    tls: redis.tls ? redisTlsOptions(redis.tls) : undefined,
  };
}

/** True when the options name a shared (Redis) store rather than the memory one. */
export const isShared = (o: StoreOptions) => Boolean(o.redisUrl || o.sentinels?.length || o.cluster?.length);

const hostPort = (s: string) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};

// Connect now, and queue commands issued before the first connection is up
// (start-up calls come before it); while Redis is down, a command fails after
// the second failed reconnect instead of waiting for 20, and none waits longer
// than commandTimeout even on a black-holed connection. Reconnect for ever,
// backing off to 2 s.
const CONNECTION = {
  lazyConnect: false,
  // Commands issued in the same tick share one write: fewer syscalls under load.
  enableAutoPipelining: true,
  enableOfflineQueue: true,
  maxRetriesPerRequest: 1,
  commandTimeout: 5_000,
  connectTimeout: 5_000,
  retryStrategy: (times: number) => Math.min(times * 100, 2_000),
} as const;

export function createStore(opts: StoreOptions): Store {
  if (!isShared(opts)) return new MemoryStore();
  let client: Redis | Cluster;
  if (opts.cluster?.length) {
    client = new Cluster(opts.cluster.map(hostPort), {
      enableOfflineQueue: true,
      enableAutoPipelining: true,
      clusterRetryStrategy: CONNECTION.retryStrategy,
      redisOptions: { ...CONNECTION, password: opts.password, ...(opts.tls ? { tls: opts.tls } : {}) },
    });
  } else if (opts.sentinels?.length) {
    client = new Redis({
      ...CONNECTION,
      sentinels: opts.sentinels.map(hostPort),
      name: opts.sentinelName ?? 'mymaster',
      password: opts.password,
      sentinelPassword: opts.sentinelPassword,
      sentinelRetryStrategy: CONNECTION.retryStrategy,
      // The same TLS to the Sentinels and to the primary they name.
      ...(opts.tls ? { sentinelTLS: opts.tls, tls: opts.tls, enableTLSForSentinelMode: true } : {}),
    });
  } else {
    client = new Redis(opts.redisUrl!, { ...CONNECTION, ...(opts.tls ? { tls: opts.tls } : {}) });
  }
  if (opts.onError) client.on('error', opts.onError);
  if (opts.onReady) client.on('ready', opts.onReady);
  // On a Cluster, ioredis sends PING to any node, not down the subscriber's
  // connection, so nothing proves the revocation feed is heard: no copies there.
  const livenessCache = opts.grantLivenessCache === true && !opts.cluster?.length;
  return guardStore(new RedisStore(client, opts.keyPrefix, { grantLivenessCache: livenessCache }));
}
