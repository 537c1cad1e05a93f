// Which issuer and hosts the bridge serves. The server publishes both in the
// shared store at start; the bridge takes them from there, so a bridge started
// with only redis.url accepts exactly the tokens the server issues.
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { StartupError } from '../util/startup-error.js';

export interface BridgeIdentity {
  config: Config;
  source: 'store' | 'config';
  /** Public keys of the server's signing_key_file, which the store does not hold. */
  verificationKeys?: Record<string, unknown>[];
}

export async function bridgeIdentity(loaded: LoadedConfig, store: Store, log: Logger): Promise<BridgeIdentity> {
  const { config } = loaded;
  const isSet = loaded.isSet ?? (() => false);
  const published = await store.serverInfo();
  if (published) {
    if (isSet('issuer') && config.issuer !== published.issuer) {
      log.warn({ configured: config.issuer, server: published.issuer }, 'issuer in this config differs from the one the server published; accepting the server\u2019s');
    }
    if (isSet('xmpp.hosts') && !sameSet(config.xmpp.hosts, published.hosts)) {
      log.warn({ configured: config.xmpp.hosts, server: published.hosts }, 'xmpp.hosts in this config differ from the server\u2019s; serving the server\u2019s');
    }
    return {
      config: { ...config, issuer: published.issuer, xmpp: { ...config.xmpp, hosts: published.hosts } },
      source: 'store',
      verificationKeys: published.verificationKeys,
    };
  }
  if (isSet('issuer') && isSet('xmpp.hosts')) return { config, source: 'config' };
  throw new StartupError(
    'the shared store names no issuer and XMPP hosts yet, so no token login could succeed',
    'start `xmpp-oauth serve` once against this Redis (it publishes them), or set issuer and xmpp.hosts in the bridge\u2019s config as in the server\u2019s',
  );
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
