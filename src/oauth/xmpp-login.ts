import { makeBareJid } from '../accounts/jid.js';
import { findAppPassword, normaliseAppPassword } from './app-passwords.js';
import type { CoreDeps } from './context.js';
import { needsUpstreamSignIn } from './upstream-freshness.js';
import { validateAccessToken, type ValidToken } from './validate-token.js';

export type LoginResult =
  | { ok: true; jid: string; via: 'password' | 'token' | 'app-password'; token?: ValidToken; grantId?: string; scope?: string[] }
  | { ok: false; reason: 'invalid' | 'throttled' | 'bad-request'; retryAfterMs?: number };

/** Scope a token needs to stand in for the password at an XMPP login. */
export const XMPP_LOGIN_SCOPE = 'xmpp';

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
    if (token && token.jid === jid && token.scope.includes(XMPP_LOGIN_SCOPE)) {
      void deps.store.touchGrant(token.grantId, Date.now()).catch(() => {});
      deps.log.info({ jid, via: 'token' }, 'xmpp login accepted');
      deps.metrics?.login('token', 'ok');
      return { ok: true, jid, via: 'token', token };
    }
    deps.log.info({ jid, via: 'token' }, 'xmpp login refused: token invalid, revoked, expired, or not for this account');
    deps.metrics?.login('token', 'failed');
    return { ok: false, reason: 'invalid' };
  }
  if (normaliseAppPassword(secret)) {
    const appPassword = await appPasswordLogin(deps, jid, secret);
    if (appPassword) return appPassword;
    // Not one of the account's app passwords: it may still be the password itself.
  }
  const result = await deps.accounts.verify(jid, secret, address);
  deps.metrics?.login('password', result.ok ? 'ok' : result.reason === 'throttled' ? 'throttled' : 'failed');
  if (result.ok) return { ok: true, jid, via: 'password' };
  return result.reason === 'throttled' ? { ok: false, reason: 'throttled', retryAfterMs: result.retryAfterMs } : { ok: false, reason: 'invalid' };
}

/** An app password of `jid`: null when none matches, a refusal when it matches but may not be used now. */
async function appPasswordLogin(deps: CoreDeps, jid: string, secret: string): Promise<LoginResult | null> {
  const grant = await findAppPassword(deps, jid, secret);
  if (!grant) return null;
  const account = await deps.store.getAccount(jid);
  if (!account || account.disabled) {
    deps.log.info({ jid, via: 'app-password', grant: grant.id }, 'xmpp login refused: account missing or disabled');
    deps.metrics?.login('app-password', 'refused');
    return { ok: false, reason: 'invalid' };
  }
  if (needsUpstreamSignIn(deps, account)) {
    deps.log.info({ jid, via: 'app-password', grant: grant.id, provider: account.upstream?.provider }, 'xmpp login refused: app password lapsed until the next upstream sign-in');
    deps.metrics?.login('app-password', 'lapsed');
    return { ok: false, reason: 'invalid' };
  }
  void deps.store.touchGrant(grant.id, Date.now()).catch(() => {});
  deps.log.info({ jid, via: 'app-password', grant: grant.id }, 'xmpp login accepted');
  deps.metrics?.login('app-password', 'ok');
  return { ok: true, jid, via: 'app-password', grantId: grant.id, scope: grant.scope };
}
