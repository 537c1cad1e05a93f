import cookieParser from 'cookie-parser';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from '../log.js';
import type { KeyManager } from '../oauth/keys.js';
import type { CoreDeps } from '../oauth/context.js';
import type { DynamicClients } from '../oauth/registration/dynamic-clients.js';
import { authorizeRoutes } from './routes/authorize.js';
import { deviceRoutes } from './routes/device.js';
import { healthRoutes } from './routes/health.js';
import { metadataRoutes } from './routes/metadata.js';
import { registrationRoutes } from './routes/register.js';
import { tokenRoutes } from './routes/token.js';
import { securityHeaders } from './security-headers.js';
import { Sessions } from './session.js';
import { Signer } from './signing.js';
import { loadViews } from './views.js';
import { Pages } from './pages.js';

export interface HttpDeps {
  core: CoreDeps;
  keys: KeyManager;
  dynamicClients?: DynamicClients;
  xmppOnline: () => boolean | undefined;
}

/** The Express application: one router per concern, mounted in order. */
export function createHttpApp({ core, keys, dynamicClients, xmppOnline }: HttpDeps): Express {
  const { config, log, store } = core;
  const signer = new Signer(config.cookie_secrets);
  const sessions = new Sessions(store, signer, { ttl: config.session_ttl, secure: config.issuer.startsWith('https:') });
  const views = loadViews({ templatePath: config.template_path, siteName: config.site_name });
  const pages = new Pages(views, sessions, config, core.accounts);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.http.trust_proxy);
  // node:querystring turns a repeated parameter into an array, which the OAuth layer refuses.
  app.set('query parser', 'simple');
  app.use(securityHeaders(config.security_policy));
  app.use(healthRoutes({ store, xmppOnline }));
  app.use(metadataRoutes(config, keys));
  for (const dir of views.staticDirs) app.use('/static', express.static(dir, { index: false, maxAge: '1h' }));
  app.use(cookieParser());
  if (dynamicClients) app.use(registrationRoutes({ config, log, clients: dynamicClients }));
  app.use(tokenRoutes(core));
  app.use(authorizeRoutes({ core, sessions, signer, pages }));
  if (config.allowed_grant_types.includes('device_code')) app.use(deviceRoutes({ core, sessions, signer, pages, views }));
  app.use(notFound);
  app.use(errorHandler(log));
  return app;
}

const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: 'not_found', error_description: `no such endpoint: ${req.method} ${req.path}` });
};

/** Last resort: a remote party must never see a stack trace, nor trigger an `error` log line by bad input. */
function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: { status?: number; statusCode?: number; type?: string; message?: string }, req, res, _next) => {
    const status = err.status ?? err.statusCode ?? 500;
    if (status >= 500) log.error({ err, path: req.path }, 'unhandled error in request');
    else log.info({ path: req.path, status, reason: err.type ?? err.message }, 'bad request');
    if (res.headersSent) return;
    res.status(status).set('Cache-Control', 'no-store').json({
      error: status >= 500 ? 'server_error' : 'invalid_request',
      error_description: status >= 500 ? 'internal error' : status === 413 ? 'request body too large' : (err.message ?? 'bad request'),
    });
  };
}
