import type { Grant } from '../../store/types.js';
import type { Client } from '../clients/clients.js';
import type { CoreDeps } from '../context.js';
import { wantsRefresh } from '../scopes.js';
import { newRefreshToken } from './tokens.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

export interface IssueInput {
  /** Only who and which grant: callers pass what their atomic store step vouched for. */
  grant: Pick<Grant, 'id' | 'jid'>;
  client: Client;
  scope: string[];
  nonce?: string;
  authTime?: number;
  amr?: string[];
  /** A refresh token issued in this exchange (rotation passes its own). */
  refreshToken?: string;
  /** Whether to mint a refresh token when none is passed. */
  mayIssueRefresh?: boolean;
  /** Mint an ID token (code flow with openid; refresh with openid). */
  withIdToken?: boolean;
}

/** Mints the token response for a grant. Refresh tokens are stored as digests only. */
export async function issueTokens(deps: CoreDeps, input: IssueInput): Promise<TokenResponse> {
  const { signer, store, config } = deps;
  const { grant, client, scope } = input;
  const { token: accessToken, claims } = await signer.accessToken({
    jid: grant.jid,
    clientId: client.id,
    scope,
    grantId: grant.id,
  });
  const response: TokenResponse = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: config.access_token_ttl,
    scope: claims.scope,
  };

  let refresh = input.refreshToken;
  if (!refresh && input.mayIssueRefresh && refreshAllowed(deps, client, scope)) {
    const minted = newRefreshToken(grant.id);
    const now = Date.now();
    await store.saveRefresh(minted.digest, {
      grantId: grant.id,
      clientId: client.id,
      jid: grant.jid,
      scope,
      issuedAt: now,
      expiresAt: now + config.refresh_token_ttl * 1000,
    });
    refresh = minted.token;
  }
  if (refresh) response.refresh_token = refresh;

  if (input.withIdToken && scope.includes('openid')) {
    response.id_token = await signer.idToken({
      jid: grant.jid,
      clientId: client.id,
      nonce: input.nonce,
      authTime: input.authTime,
      amr: input.amr,
      accessToken,
      claims: scope.includes('profile') ? { preferred_username: grant.jid.split('@')[0] } : undefined,
    });
  }
  return response;
}

export function refreshAllowed(deps: CoreDeps, client: Client, scope: readonly string[]): boolean {
  return (
    deps.config.allowed_grant_types.includes('refresh_token') &&
    client.grantTypes.includes('refresh_token') &&
    wantsRefresh(scope)
  );
}
