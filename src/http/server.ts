import cookieParser from 'cookie-parser';
import type { RequestListener } from 'node:http';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import type { Logger } from '../log.js';
import { StoreUnavailableError } from '../store/unavailable.js';
import type { Metrics } from '../metrics.js';
import type { KeyManager } from '../oauth/tokens/keys.js';
import type { CoreDeps } from '../oauth/context.js';
import type { Factors } from '../oauth/core.js';
import { describable } from '../oauth/errors.js';
import type { DynamicClients } from '../oauth/clients/registration/dynamic-clients.js';
import { accountRoutes } from './routes/account.js';
import { activityRoutes } from './routes/activity.js';
import { eventContext } from './event-context.js';
import { authorizeRoutes } from './routes/authorize.js';
import { deviceRoutes } from './routes/device.js';
import { ejabberdLookupRoutes } from './routes/ejabberd-lookup.js';
import { healthRoutes } from './routes/health.js';
import { homeRoutes, type TrialNotice } from './routes/home.js';
import { metadataEndpoints, metadataRoutes } from './routes/metadata.js';
import { registrationRoutes } from './routes/register.js';
import { tokenEndpoints, tokenRoutes } from './routes/token.js';
import { leanDispatcher, type LeanRoute } from './lean-dispatcher.js';
import { formErrorText } from './raw-form.js';
import { metricsHandler, metricsPlacement } from './metrics-endpoint.js';
import { upstreamRoutes } from './routes/upstream.js';
import { passkeyRoutes } from './routes/passkeys.js';
import { UpstreamProviders } from '../upstream/providers.js';
import proxyaddr from 'proxy-addr';
import { securityHeaderPairs, securityHeaders } from './security-headers.js';
import type { RawContext } from './raw-back-channel.js';
import { Sessions } from './session.js';
import { Signer } from './signing.js';
import { loadViews } from './views.js';
import { Pages } from './pages.js';
import type { LiveSessions } from '../oauth/clients/client-access.js';

export interface HttpDeps {
  core: CoreDeps;
  keys: KeyManager;
  dynamicClients?: DynamicClients;
  /** The second factors and passkeys the composition root built (createCore). */
  factors: Factors;
  metrics?: Metrics;
  xmppStatus: () => { online: boolean; standby: boolean } | undefined;
  /** Set in trial mode: the landing page then says how to try it. */
  trial?: TrialNotice;
  /** Which of an account's grants have a live XMPP session (issue 14); absent without a component link. */
  liveSessions?: LiveSessions;
}

/**
 * The HTTP application: the lean dispatcher for the back channel's exact
 * paths, in front of Express (one router per concern, mounted in order).
 */
export function createHttpApp({ core, keys, dynamicClients, factors, metrics, xmppStatus, trial, liveSessions }: HttpDeps): RequestListener {
  const { config, log, store } = core;
  const signer = new Signer(config.cookie_secrets);
  const sessions = new Sessions(store, signer, { ttl: config.session_ttl, secure: config.issuer.startsWith('https:') });
  const views = loadViews({ templatePath: config.template_path, siteName: config.site_name });
  const pages = new Pages(views, sessions, config, core.accounts, core.metrics, factors.secondFactors, factors.passkeys);

  const app = express();
  app.disable('x-powered-by');
  // An ETag is a SHA-1 of every JSON body: useless on no-store answers, which
  // are most of them, and Cache-Control covers the metadata documents.
  app.set('etag', false);
  app.set('trust proxy', config.http.trust_proxy);
  // node:querystring turns a repeated parameter into an array, which the OAuth layer refuses.
  app.set('query parser', 'simple');
  if (metrics) {
    app.use(metrics.http);
    if (metricsPlacement(config) === 'public') app.get('/metrics', metricsHandler(metrics, config, log));
  }
  const headers = securityHeaders(config.security_policy);
  app.use(headers);
  app.use(healthRoutes({ store, xmppStatus, requireXmpp: config.readyz.require_xmpp }));
  // The dispatcher's direct answers see the caller's address exactly as Express's req.ip would.
  const trust = app.get('trust proxy fn') as Parameters<typeof proxyaddr>[1];
  const raw: RawContext = { log, headers: securityHeaderPairs(config.security_policy), ipOf: (req) => proxyaddr(req, trust) };
  const metadata = metadataEndpoints(config, keys, raw);
  const backChannel = tokenEndpoints(core, raw);
  app.use(metadataRoutes(config, views, metadata));
  app.use(homeRoutes({ config, views, trial }));
  for (const dir of views.staticDirs) app.use('/static', express.static(dir, { index: false, maxAge: '1h' }));
  app.use(registrationRoutes({ config, log, clients: dynamicClients, store: core.store }));
  app.use(tokenRoutes(backChannel));
  if (config.ejabberd_lookup.enabled) app.use(ejabberdLookupRoutes(core));
  // Cookies matter only to the browser pages; the back-channel endpoints above skip the parse.
  app.use(cookieParser());
  // Security events a page request causes carry its address and user agent (issue 26 #5).
  app.use(eventContext());
  app.use(authorizeRoutes({ core, sessions, signer, pages }));
  app.use(accountRoutes({ core, sessions, pages, views, liveSessions }));
  app.use(activityRoutes({ core, sessions, pages, views }));
  app.use(passkeyRoutes({ core, sessions, signer, pages }, factors.passkeys));
  if (config.upstream.providers.length > 0) {
    app.use(upstreamRoutes({ core, sessions, pages, providers: new UpstreamProviders(config, log.child({ part: 'upstream' })) }));
  }
  if (config.allowed_grant_types.includes('device_code')) app.use(deviceRoutes({ core, sessions, signer, pages, views }));
  app.use(notFound(pages));
  const onError = errorHandler(log, pages);
  app.use(onError);

  const routes = new Map<string, LeanRoute>();
  for (const { method, path, chain, raw: direct } of [...metadata, ...backChannel]) {
    routes.set(`${method} ${path}`, { label: path, chain, raw: direct });
    // Express answers HEAD with the GET route.
    if (method === 'GET') routes.set(`HEAD ${path}`, { label: path, chain, raw: direct });
  }
  return leanDispatcher(app, { routes, headers, track: metrics?.track, onError });
}

/** Browser-facing paths get HTML; everything else gets JSON. */
function wantsPage(req: Request): boolean {
  return req.method === 'GET' ? !req.path.startsWith('/oauth2/') || req.path === '/oauth2/authorize' || req.path === '/oauth2/device'
    : /^\/(account|oauth2\/authorize|oauth2\/device\/|upstream\/[^/]+\/login)/.test(req.path);
}

/** A browser that prefers HTML gets a page; every other caller (fetch's default is any type) gets JSON. */
function notFound(pages: Pages): RequestHandler {
  return (req, res) => {
    if (req.method === 'GET' && req.accepts(['json', 'html']) === 'html') return pages.error(res, 404, 'not_found', 'error.not_found');
    res.status(404).json({ error: 'not_found', error_description: describable(`no such endpoint: ${req.method} ${req.path}`) });
  };
}

/**
 * Last resort: a remote party must never see a stack trace, nor trigger an
 * `error` log line by bad input. A store outage is a 503 in the shape the
 * caller expects: OAuth JSON for the API, a page for people.
 */
function errorHandler(log: Logger, pages: Pages): ErrorRequestHandler {
  return (err: { status?: number; statusCode?: number; type?: string; message?: string }, req, res, _next) => {
    if (err instanceof StoreUnavailableError) {
      log.info({ path: req.path }, 'request failed: store unavailable');
      if (res.headersSent) return;
      res.set({ 'Retry-After': '5', 'Cache-Control': 'no-store' });
      if (wantsPage(req)) return pages.error(res, 503, 'temporarily_unavailable', 'error.unavailable');
      res.status(503).json({ error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; try again shortly' });
      return;
    }
    const status = err.status ?? err.statusCode ?? 500;
    if (status >= 500) log.error({ err, path: req.path }, 'unhandled error in request');
    else log.info({ path: req.path, status, reason: err.type ?? err.message }, 'bad request');
    if (res.headersSent) return;
    res.status(status).set('Cache-Control', 'no-store').json({
      error: status >= 500 ? 'server_error' : 'invalid_request',
      error_description: status >= 500 ? 'internal error' : (formErrorText(err.type)),
    });
  };
}
