import { Router, type Request } from 'express';
import { clientGate, resourceServerGate, type ClientGate, type ResourceServerGate } from '../client-gate.js';
import type { CoreDeps } from '../../oauth/context.js';
import { OAuthError, describable, invalidClient } from '../../oauth/errors.js';
import { introspect, type Introspector } from '../../oauth/introspection.js';
import { revokeToken } from '../../oauth/revocation.js';
import { tokenRequest } from '../../oauth/token-endpoint.js';
import { userinfo } from '../../oauth/userinfo.js';
import { formBody, oauthEndpoint, oauthParams } from '../oauth-http.js';
import { noStore } from '../security-headers.js';

/** The back-channel JSON endpoints: token, revoke, introspect, userinfo. */
export function tokenRoutes(deps: CoreDeps): Router {
  const router = Router();
  const { log } = deps;
  const authenticate = clientGate(deps);
  const resourceServer = resourceServerGate(deps);

  router.post('/oauth2/token', noStore, formBody, oauthEndpoint(log, async (req, res) => {
    const params = oauthParams(req);
    const client = await authenticate(req, params);
    res.json(await tokenRequest(deps, client, params, req.ip));
  }));

  router.post('/oauth2/revoke', noStore, formBody, oauthEndpoint(log, async (req, res) => {
    const params = oauthParams(req);
    const client = await authenticate(req, params);
    await revokeToken(deps, client, params);
    res.status(200).end();
  }));

  router.post('/oauth2/introspect', noStore, formBody, oauthEndpoint(log, async (req, res) => {
    const params = oauthParams(req);
    res.json(await introspect(deps, await introspector(req, params, resourceServer, authenticate), params));
  }));

  const userinfoHandler = oauthEndpoint(log, async (req, res) => {
    const header = req.headers.authorization;
    let token: string | undefined;
    if (header) {
      const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
      token = m?.[1];
      if (!token) throw bearerError('invalid_request', 'malformed Authorization header: expected a Bearer token');
    } else if (req.method === 'POST' && req.is('application/x-www-form-urlencoded')) {
      token = oauthParams(req).access_token; // RFC 6750 2.2
    }
    try {
      res.json(await userinfo(deps, token));
    } catch (err) {
      if (err instanceof OAuthError) throw bearerError(err.error, err.description, err.status, !token);
      throw err;
    }
  });
  router.get('/oauth2/userinfo', noStore, userinfoHandler);
  router.post('/oauth2/userinfo', noStore, formBody, userinfoHandler);

  return router;
}

/** RFC 6750 3: the error goes in WWW-Authenticate too. */
function bearerError(error: string, description: string, status = 401, noToken = false): OAuthError {
  return new OAuthError(error, description, status).withHeaders({
    'WWW-Authenticate': noToken
      ? 'Bearer realm="xmpp-oauth"'
      : `Bearer realm="xmpp-oauth", error="${error}", error_description="${describable(description)}"`,
  });
}

/** A resource server's credentials (config `resource_servers`), else an ordinary client. */
async function introspector(
  req: Request,
  params: Record<string, string>,
  resourceServer: ResourceServerGate,
  authenticate: ClientGate,
): Promise<Introspector> {
  const rs = await resourceServer(req, params);
  if (rs) return { kind: 'resource-server', id: rs.id };
  const client = await authenticate(req, params);
  if (client.public) throw invalidClient('public clients cannot introspect tokens');
  return { kind: 'client', client };
}
