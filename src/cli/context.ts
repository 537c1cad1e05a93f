import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { createStore, isShared, storeOptionsFrom, type StoreOptions } from '../store/index.js';
import type { Store } from '../store/types.js';
import { oneLine } from '../util/startup-error.js';
import { CliError, EXIT } from './errors.js';

/** The config selected by the global `--config` option (or XMPP_OAUTH_CONFIG). */
export function configFrom(cmd: Command): Promise<LoadedConfig> {
  const opts = cmd.optsWithGlobals<{ config?: string }>();
  return loadConfig({ file: opts.config });
}

/**
 * Opens the shared store for an administrative command. The memory store is
 * refused: a change made there would vanish when this command exits.
 */
export async function sharedStore(loaded: LoadedConfig, extra: Pick<StoreOptions, 'grantLivenessCache'> = {}): Promise<Store> {
  const { redis } = loaded.config;
  const options = { ...storeOptionsFrom(redis), ...extra };
  if (!isShared(options)) {
    throw new CliError(
      'this command changes shared state, but no redis.url is configured, so the change would be lost at once; ' +
        'set redis.url (or redis.sentinels / redis.cluster) in the config file, or XMPP_OAUTH_REDIS__URL',
      EXIT.USAGE,
    );
  }
  // ioredis prints every failed (re)connect with its stack unless someone
  // listens: keep the cause for the one line below, and once connected, say
  // one line per outage (the extauth bridge runs for long).
  let cause: Error | undefined;
  let reached = false;
  let down = false;
  const store = createStore({
    ...options,
    onError: (err) => {
      cause = err;
      if (reached && !down) process.stderr.write(`xmpp-oauth: lost Redis (${oneLine(err.message)}); retrying\n`);
      down = true;
    },
    onReady: () => {
      down = false;
    },
  });
  try {
    await store.ping();
    reached = true;
  } catch (err) {
    await store.close().catch(() => {});
    const where = redis.url ? redactUrl(redis.url) : (redis.sentinels ?? redis.cluster ?? []).join(',');
    throw new CliError(`cannot reach Redis at ${where}: ${oneLine((cause ?? (err as Error)).message)}`, EXIT.FAILED);
  }
  return store;
}

function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured URL';
  }
}
