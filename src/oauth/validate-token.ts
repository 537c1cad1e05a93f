import type { Store } from '../store/types.js';
import type { AccessTokenClaims, TokenSigner } from './tokens.js';

export interface ValidToken {
  jid: string;
  scope: string[];
  clientId: string;
  grantId: string;
  exp: number;
  claims: AccessTokenClaims;
}

/**
 * The one place that decides whether an access token is valid right now:
 * signature, issuer, type, expiry, and the grant behind it still alive (so a
 * revocation takes effect at once). Introspection, userinfo and the XMPP side
 * all call this.
 */
export async function validateAccessToken(signer: TokenSigner, store: Store, token: string): Promise<ValidToken | null> {
  const claims = await signer.verifyAccessToken(token);
  if (!claims) return null;
  if (!(await store.grantExists(claims.gid))) return null;
  return {
    jid: claims.jid,
    scope: claims.scope.split(' ').filter(Boolean),
    clientId: claims.client_id,
    grantId: claims.gid,
    exp: claims.exp,
    claims,
  };
}

/**
 * For logins and user data: as validateAccessToken, and the account the token
 * names still exists and is the one it was issued to (created before the
 * token), so a token outlives neither a removal nor a re-created JID, even if
 * a revocation was missed.
 */
export async function validateAccountToken(signer: TokenSigner, store: Store, token: string): Promise<ValidToken | null> {
  const valid = await validateAccessToken(signer, store, token);
  if (!valid) return null;
  const account = await store.getAccount(valid.jid);
  // iat has whole seconds; createdAt milliseconds.
  if (!account || account.createdAt > valid.claims.iat * 1000 + 999) return null;
  return valid;
}
