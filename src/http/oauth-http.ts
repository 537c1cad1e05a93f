import type { IncomingHttpHeaders } from 'node:http';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '../log.js';
import type { ClientCredentials } from '../oauth/clients/clients.js';
import { OAuthError, invalidClient, invalidRequest } from '../oauth/errors.js';

/** Form bodies as OAuth uses them: urlencoded, small, a repeated key becomes an array (and is refused). */
export const formBody: RequestHandler = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 100 });

/** The single-valued string parameters of a parsed form or query (RFC 6749 3.1, 3.2: a repeated one is an error). */
export function singleValued(raw: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (Array.isArray(value)) throw invalidRequest(`parameter ${key} was given more than once`);
    if (typeof value !== 'string') throw invalidRequest(`parameter ${key} is malformed`);
    if (value.length > 8192) throw invalidRequest(`parameter ${key} is too long`);
    out[key] = value;
  }
  return out;
}

export const NOT_FORM = 'the request body must be application/x-www-form-urlencoded';

/**
 * The single-valued string parameters of a request (query for GET, body for
 * POST). A repeated parameter is an error (RFC 6749 3.1, 3.2).
 */
export function oauthParams(req: Request, source: 'query' | 'body' = req.method === 'GET' ? 'query' : 'body'): Record<string, string> {
  if (source === 'body' && req.method === 'POST' && !req.is('application/x-www-form-urlencoded')) {
    throw invalidRequest(NOT_FORM);
  }
  return singleValued((source === 'query' ? req.query : req.body) as Record<string, unknown> | undefined);
}

/** application/x-www-form-urlencoded decoding; most ids and secrets have nothing to decode. */
const formDecoded = (text: string) => (text.includes('%') || text.includes('+') ? decodeURIComponent(text.replace(/\+/g, ' ')) : text);

/** client_secret_basic (RFC 6749 2.3.1: id and secret are form-urlencoded inside Basic) and client_secret_post. */
export function clientCredentials(req: { headers: IncomingHttpHeaders }, params: Record<string, string>): ClientCredentials {
  const creds: ClientCredentials = { postId: params.client_id, postSecret: params.client_secret };
  const header = req.headers.authorization;
  if (header) {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
    if (!m) throw invalidClient('malformed Authorization header: expected Basic credentials');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidClient('malformed Basic credentials');
    try {
      creds.basic = { id: formDecoded(decoded.slice(0, colon)), secret: formDecoded(decoded.slice(colon + 1)) };
    } catch {
      throw invalidClient('malformed Basic credentials');
    }
  }
  return creds;
}

/** RFC 6749 5.2 error response; invalid_client gets 401 with a Basic challenge. */
export function sendOAuthError(res: Response, err: OAuthError, log: Logger, req: Request): void {
  log.info({ path: req.path, error: err.error, reason: err.description }, 'oauth request refused');
  if (err.status === 401 && err.error === 'invalid_client') {
    res.set('WWW-Authenticate', 'Basic realm="xmpp-oauth", charset="UTF-8"');
  }
  res.set(err.headers);
  res.status(err.status).set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(err.toJSON());
}

/** Wraps an async OAuth JSON endpoint: OAuthErrors become protocol errors, anything else goes to Express. */
export function oauthEndpoint(log: Logger, handler: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return async (req, res, next) => {
    try {
      await handler(req, res);
    } catch (err) {
      if (err instanceof OAuthError) sendOAuthError(res, err, log, req);
      else next(err);
    }
  };
}
