import type { ServerResponse } from 'node:http';
import { Router, type RequestHandler } from 'express';
import type { Config } from '../../config/schema.js';
import type { KeyManager } from '../../oauth/tokens/keys.js';
import { discoveryBody } from '../back-channel.js';
import type { Views } from '../views.js';
import { rawDocument, type RawContext } from '../raw-back-channel.js';
import type { Endpoint } from './token.js';

export const DISCOVERY_PATHS = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'];

/** Discovery (both well-known names) and JWKS, for the router below and the lean dispatcher. */
export function metadataEndpoints(config: Config, keys: KeyManager, rawContext?: RawContext): Endpoint[] {
  const body = discoveryBody({ config }, keys);
  const JSON_TYPE = 'application/json; charset=utf-8';
  const JWKS_TYPE = 'application/jwk-set+json; charset=utf-8';
  const jwksJson = () => keys.jwksJson();
  // The headers Express's res.type(...).send(string) would write, set directly: the bodies are fixed strings.
  const send = (res: ServerResponse, type: string, text: string) => {
    res.statusCode = 200;
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  };
  const discovery: RequestHandler = (_req, res) => send(res, JSON_TYPE, body());
  // Short cache: a rotated key must reach verifiers before it signs.
  const jwks: RequestHandler = (_req, res) => send(res, JWKS_TYPE, jwksJson());
  const rawDiscovery = rawContext && rawDocument(JSON_TYPE, 'public, max-age=300', body, rawContext);
  const rawJwks = rawContext && rawDocument(JWKS_TYPE, 'public, max-age=300', jwksJson, rawContext);
  return [
    ...DISCOVERY_PATHS.map((path): Endpoint => ({ method: 'GET', path, chain: [discovery], raw: rawDiscovery })),
    { method: 'GET', path: '/oauth2/jwks', chain: [jwks], raw: rawJwks },
  ];
}

/** Discovery (both well-known names, one document) and the public JWKS. */
export function metadataRoutes(config: Config, views: Views, metadata: Endpoint[]): Router {
  const router = Router();
  // The page discovery names as service_documentation.
  router.get('/docs', (_req, res) => {
    const endpoints = [
      ['/.well-known/openid-configuration', 'docs.discovery'],
      ['/oauth2/authorize', 'docs.authorize'],
      ['/oauth2/token', 'docs.token'],
      ['/oauth2/device', 'docs.device'],
      ['/oauth2/register', 'docs.register'],
      ['/oauth2/userinfo', 'docs.userinfo'],
      ['/oauth2/jwks', 'docs.jwks'],
      ['/oauth2/revoke', 'docs.revoke'],
      ['/oauth2/introspect', 'docs.introspect'],
    ].map(([path, text]) => ({ path: `${config.issuer}${path}`, text }));
    res.type('html').send(views.render('docs', { title: 'docs.title', endpoints }));
  });
  for (const { path, chain } of metadata) router.get(path, ...chain);
  return router;
}
