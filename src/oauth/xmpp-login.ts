import { makeBareJid } from '../accounts/jid.js';
import type { CoreDeps } from './context.js';
import { validateAccessToken, type ValidToken } from './validate-token.js';

export type LoginResult =
  | { ok: true; jid: string; via: 'password' | 'token'; token?: ValidToken }
  | { ok: false; reason: 'invalid' | 'throttled' | 'bad-request'; retryAfterMs?: number };

/** Scope a token needs to stand in for the password at an XMPP login. */
export const XMPP_LOGIN_SCOPE = 'xmpp';
/** Contract 1 stand-in until xep0493 lands: any of these allows an XMPP login (the last two restricted). */
const XMPP_LOGIN_SCOPES = [XMPP_LOGIN_SCOPE, 'xmpp:client:normal', 'xmpp:account:read', 'xmpp:account:write'];

const looksLikeJwt = (s: string) => s.startsWith('eyJ') && s.split('.').length === 3;

/**
 * The XMPP server's question "may user@host log in with this secret?". The
 * secret is the account password or an access token issued here for that
 * JID with the `xmpp` scope; either way the answer reflects revocation at once.
 */
export async function authenticate(
  deps: CoreDeps,
  user: string,
  host: string,
  secret: string,
  address?: string,
): Promise<LoginResult> {
  let jid: string;
  try {
    jid = makeBareJid(user, host).bare;
  } catch {
    return { ok: false, reason: 'bad-request' };
  }
  if (!deps.config.xmpp.hosts.some((h) => h.toLowerCase() === jid.slice(jid.lastIndexOf('@') + 1))) {
    return { ok: false, reason: 'invalid' };
  }
  if (looksLikeJwt(secret)) {
    const token = await validateAccessToken(deps.signer, deps.store, secret);
    if (token && token.jid === jid && token.scope.some((s) => XMPP_LOGIN_SCOPES.includes(s))) {
      void deps.store.touchGrant(token.grantId, Date.now()).catch(() => {});
      deps.log.info({ jid, via: 'token' }, 'xmpp login accepted');
      deps.metrics?.login('token', 'ok');
      return { ok: true, jid, via: 'token', token };
    }
    deps.log.info({ jid, via: 'token' }, 'xmpp login refused: token invalid, revoked, expired, or not for this account');
    deps.metrics?.login('token', 'failed');
    return { ok: false, reason: 'invalid' };
  }
  const result = await deps.accounts.verify(jid, secret, address);
  deps.metrics?.login('password', result.ok ? 'ok' : result.reason === 'throttled' ? 'throttled' : 'failed');
  if (result.ok) return { ok: true, jid, via: 'password' };
  return result.reason === 'throttled' ? { ok: false, reason: 'throttled', retryAfterMs: result.retryAfterMs } : { ok: false, reason: 'invalid' };
}
