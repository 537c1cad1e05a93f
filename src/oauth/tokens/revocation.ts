import type { Client } from '../clients/clients.js';
import type { CoreDeps } from '../context.js';
import { invalidRequest } from '../errors.js';
import { revokeGrant } from '../grants/grant-management.js';
import { parseRefreshToken, tokenClientId } from './tokens.js';
import { clientLog } from '../clients/client-log.js';

/**
 * RFC 7009. Revoking either kind of token revokes the grant behind it, so the
 * access tokens, refresh tokens and XMPP logins from that consent all stop.
 * Unknown tokens and tokens of other clients get the same silent 200.
 */
export async function revokeToken(deps: CoreDeps, client: Client, params: Record<string, string>): Promise<void> {
  const token = params.token;
  if (!token) throw invalidRequest('token is required');
  const grantId = await grantOf(deps, client, token, params.token_type_hint);
  if (grantId && (await revokeGrant(deps, grantId))) {
    deps.log.info(clientLog(client), 'grant revoked by its client');
  }
}

async function grantOf(deps: CoreDeps, client: Client, token: string, hint?: string): Promise<string | null> {
  const tryRefresh = async () => {
    const parsed = parseRefreshToken(token);
    if (!parsed) return null;
    const record = await deps.store.getRefresh(parsed.grantId, parsed.digest);
    return record && record.clientId === client.id ? parsed.grantId : null;
  };
  const tryAccess = async () => {
    // An expired access token may still be revoked: its grant may hold live refresh tokens.
    const claims = await deps.signer.verifyAccessToken(token, { ignoreExpiry: true });
    // Either form: tokens minted before the digest threshold changed carry the raw id.
    const ours = claims && (claims.client_id === tokenClientId(client.id) || claims.client_id === client.id);
    return ours ? claims.gid : null;
  };
  return hint === 'refresh_token'
    ? ((await tryRefresh()) ?? tryAccess())
    : ((await tryAccess()) ?? tryRefresh());
}
