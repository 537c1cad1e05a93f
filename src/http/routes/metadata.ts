import { Router } from 'express';
import type { Config } from '../../config/schema.js';
import { discoveryDocument } from '../../oauth/discovery.js';
import type { KeyManager } from '../../oauth/keys.js';

/** Discovery (both well-known names, one document) and the public JWKS. */
export function metadataRoutes(config: Config, keys: KeyManager): Router {
  const router = Router();
  router.get(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'], (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(discoveryDocument(config, keys.algorithms()));
  });
  router.get('/oauth2/jwks', (_req, res) => {
    // Short cache: a rotated key must reach verifiers before it signs.
    res.set('Cache-Control', 'public, max-age=300').type('application/jwk-set+json').send(JSON.stringify(keys.jwks()));
  });
  return router;
}
