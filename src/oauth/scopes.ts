// The scopes this server knows, with the plain words the consent page shows.
export const SCOPES = {
  openid: 'Confirm to the application who you are (your XMPP address)',
  profile: 'See your user name',
  offline_access: 'Keep access while you are away, until you revoke it',
  xmpp: 'Use your XMPP account as you: sign in to chat, read and send messages',
} as const;

export type Scope = keyof typeof SCOPES;

export function isKnownScope(s: string): s is Scope {
  return Object.hasOwn(SCOPES, s);
}

/** Known scopes in the request, in a stable order, without duplicates; unknown ones are dropped. */
export function parseScope(raw: string | undefined, allowed?: readonly string[]): string[] {
  const wanted = new Set((raw ?? '').split(' ').filter(Boolean));
  return (Object.keys(SCOPES) as Scope[]).filter((s) => wanted.has(s) && (!allowed || allowed.includes(s)));
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
