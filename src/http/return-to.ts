/**
 * Where a sign-in may send the browser on to (after an upstream provider, a
 * passkey, a second step): our own browser pages, nothing else (no open redirect).
 */
export function safeReturnTo(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 8192) return '/account';
  if (!/^\/(account|oauth2\/authorize|oauth2\/device)(?:[/?]|$)/.test(raw)) return '/account';
  return raw;
}
