import type { Grant, Store } from '../../store/types.js';

export { grantOfAccount } from '../../store/grant-ownership.js';
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
  return described(claims);
}

function described(claims: AccessTokenClaims): ValidToken {
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
 * For logins, user data and introspection: as validateAccessToken, and the
 * account the token names still exists and made the grant behind it, so a
 * token outlives neither a removal nor a re-created JID, even if a revocation
 * was missed (Store.tokenGrant: one round trip, or none while the store's
 * revocation feed vouches for its copy); the grant is handed back for
 * callers that need it.
 */
export async function validateAccountToken(
  signer: TokenSigner,
  store: Store,
  token: string,
): Promise<(ValidToken & { grant: Grant }) | null> {
  const claims = await signer.verifyAccessToken(token);
  if (!claims) return null;
  const grant = await store.tokenGrant(claims.gid, claims.jid);
  if (!grant) return null;
  return { ...described(claims), grant };
}
