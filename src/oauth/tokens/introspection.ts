import type { Client } from '../clients/clients.js';
import type { CoreDeps } from '../context.js';
import { invalidRequest } from '../errors.js';
import { parseRefreshToken, subjectOf, tokenClientId } from './tokens.js';
import { grantOfAccount, validateAccountToken } from './validate-token.js';

/** Who is asking: a client (may see only its own tokens) or a resource server (may see any). */
export type Introspector = { kind: 'client'; client: Client } | { kind: 'resource-server'; id: string };

export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE = { active: false } as const;

/** RFC 7662. Anything not live, or not the caller's to see, is just `active: false`. */
export async function introspect(
  deps: CoreDeps,
  caller: Introspector,
  params: Record<string, string>,
): Promise<IntrospectionResponse> {
  const token = params.token;
  if (!token) throw invalidRequest('token is required');
  const maySee = (clientId: string) =>
    caller.kind === 'resource-server' || tokenClientId(caller.client.id) === tokenClientId(clientId);

  const access = await validateAccountToken(deps.signer, deps.store, token);
  if (access) {
    if (!maySee(access.clientId)) return INACTIVE;
    const c = access.claims;
    // Only a long client id travels as a digest; then the grant has the real one.
    const clientId = c.client_id.startsWith('h:') ? access.grant.clientId : c.client_id;
    return {
      active: true,
      token_type: 'Bearer',
      scope: c.scope,
      client_id: clientId,
      username: c.jid,
      jid: c.jid,
      sub: c.sub,
      aud: c.aud,
      iss: c.iss,
      jti: c.jti,
      iat: c.iat,
      exp: c.exp,
    };
  }

  const parsed = parseRefreshToken(token);
  if (!parsed) return INACTIVE;
  const [record, grant] = await Promise.all([
    deps.store.getRefresh(parsed.grantId, parsed.digest),
    deps.store.getGrant(parsed.grantId),
  ]);
  if (!record || !grant || record.rotatedAt || record.expiresAt <= Date.now() || !maySee(record.clientId)) return INACTIVE;
  if (!grantOfAccount(grant, await deps.store.getAccount(record.jid), record.jid)) return INACTIVE;
  return {
    active: true,
    token_type: 'refresh_token',
    scope: record.scope.join(' '),
    client_id: record.clientId,
    username: record.jid,
    sub: subjectOf(record.jid),
    iss: deps.config.issuer,
    iat: Math.floor(record.issuedAt / 1000),
    exp: Math.floor(record.expiresAt / 1000),
  };
}
