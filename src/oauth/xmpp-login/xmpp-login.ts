import { makeBareJid } from '../../accounts/jid.js';
import { admitLogin, loginLimiters } from '../../accounts/login-throttle.js';
import { findAppPassword, normaliseAppPassword } from '../account-life/app-passwords.js';
import type { Account, Grant, UserAgent } from '../../store/types.js';
import type { CoreDeps } from '../context.js';
import { allowsXmppLogin, isRestrictedXmppLogin } from '../scopes.js';
import { needsUpstreamSignIn } from '../account-life/upstream-freshness.js';
import { validateAccountToken, type ValidToken } from '../tokens/validate-token.js';
import { recordXmppLogin } from '../account-life/security-events.js';

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
  /** SASL2's `<user-agent>` (issue 24 #2): recorded on the grant the login used, with its last-used time. */
  userAgent?: UserAgent;
  /** The XMPP client's IP address, for the per-address throttle of password checks. */
  address?: string;
  /**
   * The secret is an access token and nothing else (SASL OAUTHBEARER, X-OAUTH2):
   * never tried as a password, and `user` may be empty (the token names its account).
   */
  tokenOnly?: boolean;
  /**
   * The door holds an account-only login (xmpp:account:*) to account
   * management, as our Prosody module does. A door that cannot (the extauth
   * bridge, ejabberd's token lookup) would open a full chat session for it,
   * so such a secret is refused there (review #3). Absent: cannot.
   */
  canRestrict?: boolean;
}

/**
 * Why a grant of `scope` may not open an XMPP session through a door, or null
 * when it may. One rule for tokens and app passwords, at every door.
 */
export function xmppLoginRefusal(scope: readonly string[], opts: { canRestrict?: boolean }): string | null {
  if (!allowsXmppLogin(scope)) return 'lacks an XMPP login scope';
  if (!opts.canRestrict && isRestrictedXmppLogin(scope)) {
    return 'grants only account management (xmpp:account:*), which this door cannot restrict a session to';
  }
  return null;
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
  if (opts.tokenOnly || looksLikeJwt(secret)) return tokenLogin(deps, jid, host.toLowerCase(), secret, opts);
  if (normaliseAppPassword(secret)) {
    // The throttle, the app-password look-up and the account read go out
    // together (issue 25: one round trip instead of four), but the throttle
    // still decides first (review #5): a throttled caller is refused even the
    // right app password, and each guess spends a point.
    const [admission, grant, account] = await Promise.all([
      admitLogin(loginLimiters(deps.store, deps.config.login_throttle), jid!, opts.address),
      findAppPassword(deps, jid!, secret),
      deps.store.getAccount(jid!),
    ]);
    if (!admission.allowed) {
      deps.log.info({ jid, address: opts.address, retryAfterMs: admission.retryAfterMs, via: 'app-password' }, 'login refused: throttled');
      deps.metrics?.login('app-password', 'throttled');
      return { ok: false, reason: 'throttled', retryAfterMs: admission.retryAfterMs };
    }
    if (grant) {
      // One of its app passwords (accepted or refused) is no guess: the point
      // goes back. The answer does not wait for that: a refund only loosens
      // the budget, and later attempts' counts queue behind it in Redis.
      admission.refund().catch((err: unknown) => deps.log.warn({ jid, err: (err as Error).message }, 'app-password login: the throttle point could not be given back'));
      return appPasswordLogin(deps, jid!, grant, account, opts);
    }
    // Not one of its app passwords: it may still be the password itself,
    // whose check spends its own point, so a guess counts once.
    await admission.refund();
  }
  // A door that cannot ask for a second factor: app_passwords_only accounts refuse the main password here.
  const result = await deps.accounts.verify(jid!, secret, opts.address, { outsideWeb: true });
  deps.metrics?.login('password', result.ok ? 'ok' : result.reason === 'throttled' ? 'throttled' : 'failed');
  if (result.ok) {
    // Successful logins are logged like token and app-password ones (review #12); never the secret.
    deps.log.info({ jid, via: 'password', address: opts.address }, 'xmpp login accepted');
    recordXmppLogin(deps, jid!, { via: 'password', mechanism: 'PLAIN', userAgent: opts.userAgent, address: opts.address });
    return { ok: true, jid: jid!, via: 'password' };
  }
  return result.reason === 'throttled' ? { ok: false, reason: 'throttled', retryAfterMs: result.retryAfterMs } : { ok: false, reason: 'invalid' };
}

async function tokenLogin(deps: CoreDeps, jid: string | undefined, host: string, secret: string, opts: LoginOptions): Promise<LoginResult> {
  const tokenOnly = Boolean(opts.tokenOnly);
  const token = secret && looksLikeJwt(secret) ? await validateAccountToken(deps.signer, deps.store, secret) : null;
  const refusal = token ? xmppLoginRefusal(token.scope, opts) : null;
  const usable = token !== null && refusal === null && token.jid.endsWith(`@${host}`);
  if (usable && (jid === undefined || token.jid === jid)) {
    void deps.store.touchGrant(token.grantId, Date.now(), opts.userAgent).catch(() => {});
    deps.log.info({ jid: token.jid, via: 'token' }, 'xmpp login accepted');
    recordXmppLogin(deps, token.jid, { via: 'token', mechanism: tokenOnly ? 'OAUTHBEARER or X-OAUTH2' : 'PLAIN', client: token.grant.clientName, userAgent: opts.userAgent, address: opts.address });
    deps.metrics?.login('token', 'ok');
    return { ok: true, jid: token.jid, via: 'token', token };
  }
  if (usable && tokenOnly) {
    deps.log.info({ jid, tokenJid: token.jid, via: 'token' }, 'xmpp login refused: the token is for another account than the one named');
    deps.metrics?.login('token', 'failed');
    return { ok: false, reason: 'other-account', asToken: true };
  }
  const why = !secret ? 'no token (discovery)' : refusal ? `token ${refusal}` : 'token invalid, revoked, expired, or not for this account';
  deps.log.info({ jid, via: 'token', ...(token && refusal ? { grant: token.grantId } : {}) }, `xmpp login refused: ${why}`);
  deps.metrics?.login('token', refusal ? 'refused' : 'failed');
  return { ok: false, reason: 'invalid', asToken: true };
}

/** A login with `grant`, the app password of `jid` the secret matched; `account` as read with it. */
function appPasswordLogin(deps: CoreDeps, jid: string, grant: Grant, account: Account | null, opts: LoginOptions): LoginResult {
  const refusal = xmppLoginRefusal(grant.scope, opts);
  if (refusal) {
    deps.log.info({ jid, via: 'app-password', grant: grant.id }, `xmpp login refused: app password ${refusal}`);
    deps.metrics?.login('app-password', 'refused');
    return { ok: false, reason: 'invalid' };
  }
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
  void deps.store.touchGrant(grant.id, Date.now(), opts.userAgent).catch(() => {});
  deps.log.info({ jid, via: 'app-password', grant: grant.id }, 'xmpp login accepted');
  recordXmppLogin(deps, jid, { via: 'app-password', mechanism: 'PLAIN', client: grant.label, userAgent: opts.userAgent, address: opts.address });
  deps.metrics?.login('app-password', 'ok');
  return { ok: true, jid, via: 'app-password', grantId: grant.id, scope: grant.scope };
}
