// The scopes this server knows, with the plain words the consent page and the
// account page show.
export const SCOPES = {
  openid: 'Confirm to the application who you are (your XMPP address)',
  profile: 'See your user name',
  offline_access: 'Keep access while you are away, until you revoke it',
  'xmpp:client:normal': 'Sign in to your XMPP account as you: chat, read and send messages, manage contacts',
  xmpp: 'Use your XMPP account as you: sign in to chat, read and send messages',
  'xmpp:account:read': 'Sign in to your XMPP account only to see which applications have access to it (no chat, no changes)',
  // Issue 22 #11: a new password needs no old one (XEP-0077), so say plainly what that means.
  'xmpp:account:write':
    'Sign in to your XMPP account only to manage it (no chat): see and revoke applications\u2019 access, and set a new password without knowing the current one \u2014 so this application can take over your account',
} as const;

export type Scope = keyof typeof SCOPES;

/**
 * XEP-0493 names `xmpp:client:normal` for a normal client session; `xmpp`
 * means the same (mod_http_oauth2 compatibility).
 */
export const XMPP_SESSION_SCOPES: readonly Scope[] = ['xmpp:client:normal', 'xmpp'];
/** Scopes that allow a restricted XMPP session: account management only. */
export const XMPP_ACCOUNT_SCOPES: readonly Scope[] = ['xmpp:account:read', 'xmpp:account:write'];
/** The scope a XEP-0493 client is told to ask for when its token is refused. */
export const XMPP_LOGIN_SCOPE_HINT: Scope = 'xmpp:client:normal';

/** A token may open an XMPP session iff its scope holds one of these. */
export function allowsXmppLogin(scope: readonly string[]): boolean {
  return scope.some((s) => XMPP_SESSION_SCOPES.includes(s as Scope) || XMPP_ACCOUNT_SCOPES.includes(s as Scope));
}

/** An XMPP login with this scope may only manage the account (no normal session scope). */
export function isRestrictedXmppLogin(scope: readonly string[]): boolean {
  return allowsXmppLogin(scope) && !scope.some((s) => XMPP_SESSION_SCOPES.includes(s as Scope));
}

export function isKnownScope(s: string): s is Scope {
  return Object.hasOwn(SCOPES, s);
}

/** Known scopes in the request, in a stable order, without duplicates; unknown ones are dropped. */
export function parseScope(raw: string | undefined, allowed?: readonly string[]): string[] {
  const wanted = new Set((raw ?? '').split(' ').filter(Boolean));
  return (Object.keys(SCOPES) as Scope[]).filter((s) => wanted.has(s) && (!allowed || allowed.includes(s)));
}

/**
 * The scope a new grant gets for a request: the known, allowed scopes asked
 * for, without the ones another granted scope already includes. A normal
 * session scope includes both account-management scopes (a normal session
 * manages its account), and `xmpp:account:write` includes `xmpp:account:read`.
 * That keeps the largest token inside an XMPP PLAIN password (tokens/token-size.ts).
 */
export function grantScope(raw: string | undefined, allowed?: readonly string[]): string[] {
  const scope = parseScope(raw, allowed);
  const session = scope.some((s) => XMPP_SESSION_SCOPES.includes(s as Scope));
  const write = scope.includes('xmpp:account:write');
  return scope.filter((s) => !(session && XMPP_ACCOUNT_SCOPES.includes(s as Scope)) && !(write && s === 'xmpp:account:read'));
}

/** The largest scope sets one grant can hold (for the token-size budget). */
export function largestGrantScopes(): string[][] {
  const all = Object.keys(SCOPES).join(' ');
  return [grantScope(all), grantScope(all.replace(/\bxmpp(:client:normal)?(?= |$)/g, ''))];
}

export function formatScope(scope: readonly string[]): string {
  return scope.join(' ');
}

export function describeScopes(scope: readonly string[]): { name: string; description: string }[] {
  return scope.filter(isKnownScope).map((name) => ({ name, description: SCOPES[name] }));
}

/**
 * A refresh token only with `offline_access` (OIDC Core 11, as mod_http_oauth2
 * does): the consent page's "keep access while you are away" is then exactly
 * what a refresh token is; without it access ends with the access token.
 */
export function wantsRefresh(scope: readonly string[]): boolean {
  return scope.includes('offline_access');
}
