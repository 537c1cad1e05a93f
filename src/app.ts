import type { Accounts } from './accounts/accounts.js';
import type { Config } from './config/schema.js';
import type { TrialNotice } from './http/routes/home.js';
import { createHttpApp } from './http/server.js';
import { listen, type Listening } from './http/listen.js';
import { metricsApp, metricsOffNote, metricsPlacement } from './http/metrics-endpoint.js';
import type { Logger } from './log.js';
import { AggregatorRegistry } from 'prom-client';
import { createMetrics } from './metrics.js';
import { createCore } from './oauth/core.js';
import type { CoreDeps } from './oauth/context.js';
import type { KeyManager } from './oauth/tokens/keys.js';
import { createStore, isShared, storeOptionsFrom } from './store/index.js';
import type { Store } from './store/types.js';
import { packageInfo } from './util/paths.js';
import { registerAdhocCommands } from './xmpp/adhoc/index.js';
import { registerAuthProtocol } from './xmpp/auth-protocol.js';
import { liveSessionsOver, registerCamProtocol } from './xmpp/cam-protocol.js';
import { ComponentLink } from './xmpp/link.js';
import { startEjabberdSessionEnder } from './xmpp/ejabberd-sessions.js';
import { startRevocationPush, type RevocationPush } from './xmpp/revocation-push.js';
import { startSecurityNotices, type SecurityNotices } from './xmpp/security-notices.js';

export interface App {
  config: Config;
  store: Store;
  accounts: Accounts;
  core: CoreDeps;
  keys: KeyManager;
  link?: ComponentLink;
  /** Tells the XMPP server about revocations so it closes live sessions (with a link). */
  revocationPush?: RevocationPush;
  /** Bound HTTP port, once started. */
  port?: number;
  /** Bound port of the separate metrics listener, when metrics.port is set. */
  metricsPort?: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Composition root: builds the core from config and hands it to the front doors. */
export interface AppOptions {
  trial?: TrialNotice;
  /** Set in a `serve --workers` worker: /metrics answers for every worker (the primary aggregates). */
  clusterScrape?: () => Promise<string>;
}

export async function createApp(config: Config, log: Logger, opts: AppOptions = {}): Promise<App> {
  // Trial mode prints its own block about the memory store.
  if (!isShared(storeOptionsFrom(config.redis)) && !opts.trial) {
    log.warn(
      'no redis.url configured: using the in-memory store. Accounts, grants and tokens are LOST on restart ' +
        'and cannot be shared between processes. Set redis.url for anything but a trial.',
    );
  }
  const storeLog = log.child({ part: 'store' });
  let redisDown = false;
  const store = createStore({
    ...storeOptionsFrom(config.redis),
    grantLivenessCache: true,
    // Redis trouble is logged once per outage, not once per reconnect attempt.
    onError: (err: Error) => {
      if (redisDown) return;
      redisDown = true;
      // An operator must act: logged at error once per outage (no remote party can cause it).
      storeLog.error({ err: err.message }, 'Redis unreachable; requests get 503 until it returns; retrying');
    },
    onReady: () => {
      if (redisDown) storeLog.info('Redis reachable again');
      redisDown = false;
    },
  });
  // A failure from here on must not leave the Redis connection open (it would keep the process alive).
  try {
    return await assemble(config, log, store, opts);
  } catch (err) {
    await closeWithin(store.close(), CLOSE_LIMIT_MS);
    throw err;
  }
}

/** Tells the extauth bridges sharing the store which issuer and hosts this server serves. */
async function publishServerInfo(store: Store, config: Config, keys: KeyManager, log: Logger): Promise<void> {
  if (store.kind === 'memory') return;
  try {
    const before = await store.serverInfo();
    if (before && before.issuer !== config.issuer) {
      log.warn({ was: before.issuer, now: config.issuer }, 'another issuer was published in this store; extauth bridges started from now on accept tokens of this one only');
    }
    const verificationKeys = keys.fileKeyPublicJwks();
    await store.publishServerInfo({ issuer: config.issuer, hosts: config.xmpp.hosts, ...(verificationKeys.length ? { verificationKeys } : {}), publishedAt: Date.now() });
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not publish issuer and hosts for extauth bridges');
  }
}

/** How long a failed start may spend closing what it opened. */
const CLOSE_LIMIT_MS = 500;

const closeWithin = (closing: Promise<unknown> | undefined, ms: number) =>
  Promise.race([Promise.resolve(closing).catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);

async function assemble(config: Config, log: Logger, store: Store, opts: AppOptions): Promise<App> {
  let link: ComponentLink | undefined;
  const metrics = createMetrics(store, () => link?.online);
  if (opts.clusterScrape) {
    // The primary's AggregatorRegistry asks each worker for this registry; a
    // worker answers once an AggregatorRegistry was constructed in it (prom-client adds its listener then).
    void new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics.registry]);
    metrics.scrape = opts.clusterScrape;
  }
  const { deps: core, keys, dynamicClients, factors } = await createCore(config, store, log);
  core.metrics = metrics.core;
  const accounts = core.accounts;

  link = config.xmpp.enabled
    ? new ComponentLink({
        service: config.xmpp.service,
        domain: config.xmpp.domain,
        secret: config.xmpp.secret,
        logger: log.child({ part: 'xmpp' }),
        software: packageInfo,
        // Prosody takes one connection per component: a clean stop tells the standbys to ask now.
        handover: {
          announce: () => store.publishSlotFreed(config.xmpp.domain),
          listen: (onFreed) => store.onSlotFreed((domain) => domain === config.xmpp.domain && onFreed()),
        },
      })
    : undefined;
  const liveSessions = link ? liveSessionsOver(link, config.xmpp.hosts, log.child({ part: 'xmpp' })) : undefined;
  if (link) {
    registerAuthProtocol(link, { core, log: log.child({ part: 'xmpp' }) });
    registerAdhocCommands(link, { core, log: log.child({ part: 'xmpp' }), liveSessions });
    registerCamProtocol(link, { core, log: log.child({ part: 'xmpp' }) });
  }
  if (config.ejabberd_lookup.enabled && !config.ejabberd_lookup.secret) {
    log.warn('ejabberd_lookup is enabled without a secret: only local callers without proxy headers are answered (none while http.trust_proxy is set), and a local proxy that adds no such header passes as local; set ejabberd_lookup.secret');
  }
  if (link && !config.xmpp.secret) log.warn('xmpp.secret is empty: the XMPP server will refuse the component link');

  const http = createHttpApp({ core, keys, dynamicClients, factors, metrics, xmppStatus: () => link?.status, trial: opts.trial, liveSessions });
  let listening: Listening | undefined;
  let metricsListening: Listening | undefined;
  const placement = metricsPlacement(config);

  let stopEjabberd: (() => void) | undefined;
  let notices: SecurityNotices | undefined;
  const app: App = {
    config,
    store,
    accounts,
    core,
    keys,
    link,
    async start() {
      // It names its own part ('revocation-push'): a second part binding would repeat the JSON key.
      if (link) app.revocationPush = startRevocationPush(link, { core, log });
      if (link) notices = startSecurityNotices(link, { core, log });
      const ejabberdApi = config.ejabberd_api.url;
      stopEjabberd = ejabberdApi ? startEjabberdSessionEnder(core, { url: ejabberdApi, authorization: config.ejabberd_api.authorization }, log.child({ part: 'ejabberd-api' })) : undefined;
      try {
        listening = await listen(http, config.http.host, config.http.port);
        if (placement === 'separate') {
          metricsListening = await listen(metricsApp(metrics, config, log), config.metrics.host, config.metrics.port!);
        }
      } catch (err) {
        // Nothing else runs yet: close what did start and the store, so the process can exit.
        keys.stop();
        app.revocationPush?.stop();
        notices?.stop();
        stopEjabberd?.();
        await closeWithin(Promise.allSettled([listening?.close(), store.close()]), CLOSE_LIMIT_MS);
        throw err;
      }
      app.port = listening.port;
      log.info({ url: `http://${config.http.host}:${listening.port}`, issuer: config.issuer }, 'HTTP listening');
      if (metricsListening) {
        app.metricsPort = metricsListening.port;
        log.info({ url: `http://${config.metrics.host}:${metricsListening.port}/metrics` }, 'metrics listening');
      } else if (placement === 'off') {
        log.info(metricsOffNote(config));
      }
      await publishServerInfo(store, config, keys, log);
      link?.start();
    },
    async stop() {
      keys.stop();
      app.revocationPush?.stop();
      notices?.stop();
      stopEjabberd?.();
      await Promise.allSettled([listening?.close(), metricsListening?.close(), link?.stop()]);
      await store.close();
    },
  };
  return app;
}
