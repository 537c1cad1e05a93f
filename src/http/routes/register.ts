import express, { Router, type RequestHandler } from 'express';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { Store } from '../../store/types.js';
import { OAuthError } from '../../oauth/errors.js';
import type { DynamicClients } from '../../oauth/clients/registration/dynamic-clients.js';
import { invalidClientMetadata } from '../../oauth/clients/registration/errors.js';
import { policyFromConfig, validateClientMetadata } from '../../oauth/clients/registration/metadata.js';
import { registrationSchema } from '../../oauth/clients/registration/schema.js';
import { oauthEndpoint, sendOAuthError } from '../oauth-http.js';
import { noStore } from '../security-headers.js';

export const MAX_REGISTRATION_BODY = 16 * 1024;

/**
 * Dynamic client registration (RFC 7591) at /oauth2/register: POST registers,
 * GET returns the JSON Schema of the accepted metadata. Mounted before any
 * body parser, so it parses its own JSON, with a size limit.
 */
export function registrationRoutes(deps: { config: Config; log: Logger; clients?: DynamicClients; store: Store }): Router {
  const { config, log, clients, store } = deps;
  const router = Router();
  if (!config.registration_key || !clients) {
    // Disabled: say so. A 404 reads as "no such server" to a client library and
    // its developer; 403 with a registered error code says "this server refuses".
    router.all('/oauth2/register', (req, res) => sendOAuthError(res, registrationDisabled(), log, req));
    return router;
  }

  const policy = policyFromConfig(config);
  const schema = JSON.stringify(registrationSchema(config.issuer, policy), null, 2);

  router.get('/oauth2/register', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').type('application/schema+json').send(schema);
  });

  // Registration writes nothing, but each new client is a fresh per-client
  // budget everywhere else: one address gets only so many (issue 12 #11).
  const { registrations, window } = config.address_throttle;
  const perAddress = store.rateLimiter({ name: 'register-address', points: registrations, duration: window });
  const throttle: RequestHandler = (req, res, next) => {
    perAddress.consume(req.ip ?? 'unknown').then((counted) => {
      if (counted.allowed) return next();
      log.info({ address: req.ip }, 'client registration refused: throttled');
      const err = new OAuthError('temporarily_unavailable', 'too many registrations from this address; retry later', 429).withHeaders({
        'Retry-After': String(Math.max(1, Math.ceil(counted.retryAfterMs / 1000))),
      });
      sendOAuthError(res, err, log, req);
    }, next);
  };

  router.post('/oauth2/register', noStore, throttle, jsonBody(log), oauthEndpoint(log, async (req, res) => {
    const meta = validateClientMetadata(req.body, policy);
    const registered = await clients.register(meta);
    log.info({ client_name: meta.client_name, client_uri: meta.client_uri, public: meta.token_endpoint_auth_method === 'none' }, 'client registered');
    res.status(201).json(registered);
  }));

  return router;
}

/** 403 access_denied (RFC 6749's registered code, as RFC 7591 answers use), naming the cause and the way out. */
const registrationDisabled = () =>
  new OAuthError('access_denied', 'dynamic client registration is disabled on this server (no registration_key is configured); ask its operator for a client in the config (clients:)', 403);

const parseJson = express.json({ limit: MAX_REGISTRATION_BODY, strict: false, inflate: false, type: 'application/json' });

/**
 * express.json behind our own checks, with its errors turned into OAuth-style
 * JSON errors: 415 for anything but JSON, 413 over the limit, 400
 * invalid_client_metadata for malformed JSON. Never a 500 for bad input.
 */
function jsonBody(log: Logger): RequestHandler {
  return (req, res, next) => {
    const fail = (err: OAuthError) => sendOAuthError(res, err, log, req);
    if (!req.is('application/json')) {
      fail(new OAuthError('invalid_request', 'the request body must be JSON (Content-Type: application/json)', 415));
      return;
    }
    parseJson(req, res, (err?: unknown) => {
      if (!err) return next();
      const e = err as { type?: string; status?: number };
      if (e.type === 'entity.too.large') {
        fail(new OAuthError('invalid_request', `the request body is larger than ${MAX_REGISTRATION_BODY / 1024} KiB`, 413));
      } else if (e.type === 'entity.parse.failed') {
        fail(invalidClientMetadata('the request body is not valid JSON'));
      } else if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
        fail(new OAuthError('invalid_request', 'the request body must be uncompressed UTF-8 JSON', 415));
      } else if (e.status !== undefined && e.status < 500) {
        fail(new OAuthError('invalid_request', 'the request body could not be read', e.status === 413 ? 413 : 400));
      } else {
        next(err);
      }
    });
  };
}
