import type { CoreDeps } from '../context.js';
import { OAuthError } from '../errors.js';
import { allowsXmppLogin } from '../scopes.js';
import { validateAccountToken } from './validate-token.js';

/** OIDC Core 5.3: claims about the token's user, limited to the scopes granted. */
export async function userinfo(deps: CoreDeps, token: string | undefined): Promise<Record<string, unknown>> {
  if (!token) throw new OAuthError('invalid_request', 'an access token is required', 401);
  const valid = await validateAccountToken(deps.signer, deps.store, token);
  if (!valid) throw new OAuthError('invalid_token', 'the access token is invalid, expired or revoked', 401);
  const claims: Record<string, unknown> = { sub: valid.claims.sub };
  // With `openid` too: Prosody 13's mod_auth_oauth_external asks for `openid` only and reads this field.
  if (valid.scope.includes('openid') || valid.scope.includes('profile')) {
    claims.preferred_username = valid.jid.slice(0, valid.jid.lastIndexOf('@'));
  }
  if (allowsXmppLogin(valid.scope) || valid.scope.includes('profile')) claims.jid = valid.jid;
  return claims;
}
