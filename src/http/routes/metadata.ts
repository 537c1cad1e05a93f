import { Router } from 'express';
import type { Config } from '../../config/schema.js';
import { discoveryDocument } from '../../oauth/discovery.js';
import type { KeyManager } from '../../oauth/keys.js';
import type { Views } from '../views.js';

/** Discovery (both well-known names, one document) and the public JWKS. */
export function metadataRoutes(config: Config, keys: KeyManager, views: Views): Router {
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
  router.get(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'], (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(discoveryDocument(config, keys.algorithms()));
  });
  router.get('/oauth2/jwks', (_req, res) => {
    // Short cache: a rotated key must reach verifiers before it signs.
    res.set('Cache-Control', 'public, max-age=300').type('application/jwk-set+json').send(JSON.stringify(keys.jwks()));
  });
  return router;
}
