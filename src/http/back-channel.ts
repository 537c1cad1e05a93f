import type { IncomingHttpHeaders } from 'node:http';
import { clientGate, resourceServerGate, type ClientGate, type GateRequest, type ResourceServerGate } from './client-gate.js';
import type { CoreDeps } from '../oauth/context.js';
import { OAuthError, describable, invalidClient } from '../oauth/errors.js';
import { discoveryDocument } from '../oauth/tokens/discovery.js';
import { introspect, type Introspector } from '../oauth/tokens/introspection.js';
import type { KeyManager } from '../oauth/tokens/keys.js';
import { revokeToken } from '../oauth/tokens/revocation.js';
import { tokenRequest } from '../oauth/grants/token-endpoint.js';
import { userinfo } from '../oauth/tokens/userinfo.js';

/**
 * What a back-channel endpoint needs of a request, whichever HTTP layer
 * parsed it (Express or the lean dispatcher): headers, the caller's address
 * as `trust proxy` sees it, and the single-valued parameters.
 */
export interface BackChannelRequest extends GateRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** Whether the body is application/x-www-form-urlencoded. */
  isForm: boolean;
  /** The parameters; throws invalid_request for a malformed or non-form body. */
  params(): Record<string, string>;
}

/** A JSON answer (body undefined: an empty 200). */
export interface BackChannelReply {
  status: number;
  body?: unknown;
}

export type BackChannelHandler = (req: BackChannelRequest) => Promise<BackChannelReply>;

/** Token, revocation, introspection and userinfo, as domain calls; both HTTP layers route to these. */
export function backChannelHandlers(deps: CoreDeps): {
  token: BackChannelHandler;
  revoke: BackChannelHandler;
  introspect: BackChannelHandler;
  userinfo: BackChannelHandler;
} {
  const authenticate = clientGate(deps);
  const resourceServer = resourceServerGate(deps);
  return {
    async token(req) {
      const params = req.params();
      const client = await authenticate(req, params);
      return { status: 200, body: await tokenRequest(deps, client, params, req.ip) };
    },
    async revoke(req) {
      const params = req.params();
      const client = await authenticate(req, params);
      await revokeToken(deps, client, params);
      return { status: 200 };
    },
    async introspect(req) {
      const params = req.params();
      return { status: 200, body: await introspect(deps, await introspector(req, params, resourceServer, authenticate), params) };
    },
    async userinfo(req) {
      const header = req.headers.authorization;
      let token: string | undefined;
      if (header) {
        const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
        token = m?.[1];
        if (!token) throw bearerError('invalid_request', 'malformed Authorization header: expected a Bearer token');
      } else if (req.method === 'POST' && req.isForm) {
        token = req.params().access_token; // RFC 6750 2.2
      }
      try {
        return { status: 200, body: await userinfo(deps, token) };
      } catch (err) {
        if (err instanceof OAuthError) throw bearerError(err.error, err.description, err.status, !token);
        throw err;
      }
    },
  };
}

/** The discovery document, serialised again only when the advertised algorithms change. */
export function discoveryBody(deps: Pick<CoreDeps, 'config'>, keys: KeyManager): () => string {
  let cached: { algs: string; body: string } | undefined;
  return () => {
    const algorithms = keys.algorithms();
    const algs = algorithms.join(' ');
    if (cached?.algs !== algs) cached = { algs, body: JSON.stringify(discoveryDocument(deps.config, algorithms)) };
    return cached.body;
  };
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
  req: GateRequest,
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
