import { makeBareJid } from '../accounts/jid.js';
import { findAppPassword, normaliseAppPassword } from './app-passwords.js';
import type { CoreDeps } from './context.js';
import { allowsXmppLogin } from './scopes.js';
import { needsUpstreamSignIn } from './upstream-freshness.js';
import { validateAccountToken, type ValidToken } from './validate-token.js';

export type LoginResult =
  | { ok: true; jid: string; via: 'password' | 'token' | 'app-password'; token?: ValidToken; grantId?: string; scope?: string[] }
  | {
      ok: false;
      /** `other-account`: a live login token, but for another account than the one named (token-only checks). */
      reason: 'invalid' | 'throttled' | 'bad-request' | 'other-account';
      retryAfterMs?: number;
      /** The secret was checked as an access token (the caller may point the client to discovery). */
      asToken?: boolean;
    };

export interface LoginOptions {
  /** The XMPP client's IP address, for the per-address throttle of password checks. */
  address?: string;
  /**
   * The secret is an access token and nothing else (SASL OAUTHBEARER, X-OAUTH2):
   * never tried as a password, and `user` may be empty (the token names its account).
   */
  tokenOnly?: boolean;
}

const looksLikeJwt = (s: string) => s.startsWith('eyJ') && s.split('.').length === 3;

/**
 * The XMPP server's question "may user@host log in with this secret?". The
 * secret is the account password or an access token issued here for that
 * JID with an XMPP login scope (scopes.ts); either way the answer reflects
 * revocation at once.
 */
export async function authenticate(deps: CoreDeps, user: string, host: string, secret: string, opts: LoginOptions = {}): Promise<LoginResult> {
  const served = (domain: string) => deps.config.xmpp.hosts.some((h) => h.toLowerCase() === domain);
  let jid: string | undefined;
  if (user || !opts.tokenOnly) {
    try {
      jid = makeBareJid(user, host).bare;
    } catch {
      return { ok: false, reason: 'bad-request', asToken: opts.tokenOnly };
    }
    if (!served(jid.slice(jid.lastIndexOf('@') + 1))) return { ok: false, reason: 'invalid', asToken: opts.tokenOnly };
  } else if (!served(host.toLowerCase())) {
    return { ok: false, reason: 'invalid', asToken: true };
  }
  if (opts.tokenOnly || looksLikeJwt(secret)) return tokenLogin(deps, jid, host.toLowerCase(), secret, Boolean(opts.tokenOnly));
  if (normaliseAppPassword(secret)) {
    const appPassword = await appPasswordLogin(deps, jid!, secret);
    if (appPassword) return appPassword;
    // Not one of the account's app passwords: it may still be the password itself.
  }
  const result = await deps.accounts.verify(jid!, secret, opts.address);
  deps.metrics?.login('password', result.ok ? 'ok' : result.reason === 'throttled' ? 'throttled' : 'failed');
  if (result.ok) return { ok: true, jid: jid!, via: 'password' };
  return result.reason === 'throttled' ? { ok: false, reason: 'throttled', retryAfterMs: result.retryAfterMs } : { ok: false, reason: 'invalid' };
}

async function tokenLogin(deps: CoreDeps, jid: string | undefined, host: string, secret: string, tokenOnly: boolean): Promise<LoginResult> {
  const token = secret && looksLikeJwt(secret) ? await validateAccountToken(deps.signer, deps.store, secret) : null;
  const usable = token !== null && allowsXmppLogin(token.scope) && token.jid.endsWith(`@${host}`);
  if (usable && (jid === undefined || token.jid === jid)) {
    void deps.store.touchGrant(token.grantId, Date.now()).catch(() => {});
    deps.log.info({ jid: token.jid, via: 'token' }, 'xmpp login accepted');
    deps.metrics?.login('token', 'ok');
    return { ok: true, jid: token.jid, via: 'token', token };
  }
  if (usable && tokenOnly) {
    deps.log.info({ jid, tokenJid: token.jid, via: 'token' }, 'xmpp login refused: the token is for another account than the one named');
    deps.metrics?.login('token', 'failed');
    return { ok: false, reason: 'other-account', asToken: true };
  }
  const why = !secret ? 'no token (discovery)' : token && !allowsXmppLogin(token.scope) ? 'token lacks an XMPP login scope' : 'token invalid, revoked, expired, or not for this account';
  deps.log.info({ jid, via: 'token' }, `xmpp login refused: ${why}`);
  deps.metrics?.login('token', 'failed');
  return { ok: false, reason: 'invalid', asToken: true };
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
