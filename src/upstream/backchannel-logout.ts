// OpenID Connect Back-Channel Logout 1.0, the RP side: the provider POSTs a
// logout token when a person's session there ends (they signed out, an admin
// removed them). The token is a JWT verified with jose against the provider's
// JWKS (from discovery): signature, iss, aud, iat age, the logout event, no
// nonce, single use by jti. Its effect here: the account's upstream sign-in is
// forgotten, so its app passwords and refresh tokens stop at once, until the
// person signs in through the provider again; the store announces it, and the
// component link ends the XMPP sessions opened with an app password.
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { sha256Hex } from '../util/crypto.js';
import { UpstreamError } from './errors.js';
import type { UpstreamProviders } from './providers.js';

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const MAX_AGE_SECONDS = 300;
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface LogoutDeps {
  store: Store;
  log: Logger;
  providers: UpstreamProviders;
}

const jwksCache = new WeakMap<object, ReturnType<typeof createRemoteJWKSet>>();

/** Applies a logout token from provider `id`; returns the account it affected, if any. */
export async function backchannelLogout(deps: LogoutDeps, id: string, logoutToken: unknown): Promise<string | null> {
  if (typeof logoutToken !== 'string' || logoutToken.length === 0 || logoutToken.length > 16_384) {
    throw new UpstreamError('failed', 'logout_token is missing');
  }
  const provider = await deps.providers.get(id);
  const meta = provider.client.serverMetadata();
  if (!meta.jwks_uri) throw new UpstreamError('failed', 'the provider publishes no jwks_uri');
  let jwks = jwksCache.get(provider.client);
  if (!jwks) jwksCache.set(provider.client, (jwks = createRemoteJWKSet(new URL(meta.jwks_uri))));

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(logoutToken, jwks, {
      issuer: meta.issuer,
      audience: provider.config.client_id,
      algorithms: ASYMMETRIC,
      maxTokenAge: MAX_AGE_SECONDS,
      requiredClaims: ['iat', 'jti', 'events'],
    }));
  } catch (err) {
    throw new UpstreamError('failed', `logout token rejected: ${(err as { code?: string }).code ?? (err as Error).message}`);
  }
  const events = payload.events as Record<string, unknown> | undefined;
  if (!events || typeof events !== 'object' || typeof events[LOGOUT_EVENT] !== 'object' || events[LOGOUT_EVENT] === null) {
    throw new UpstreamError('failed', 'logout token without the back-channel logout event');
  }
  if (payload.nonce !== undefined) throw new UpstreamError('failed', 'a logout token must not carry a nonce');
  // Accounts are bound by sub; a sid-only token names a session we do not keep.
  if (typeof payload.sub !== 'string' || !payload.sub) throw new UpstreamError('failed', 'logout token without sub');
  if (!(await deps.store.firstLogoutToken(sha256Hex(`${meta.issuer}\n${String(payload.jti)}`), MAX_AGE_SECONDS * 2))) {
    throw new UpstreamError('failed', 'logout token replayed');
  }
  const jid = await deps.store.findAccountBySubject(meta.issuer, payload.sub);
  if (jid) await deps.store.forgetUpstreamLogin(jid);
  deps.log.info({ provider: id, jid: jid ?? undefined }, 'upstream back-channel logout');
  return jid;
}
