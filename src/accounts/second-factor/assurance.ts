// How strongly a sign-in was made, in the ID token's terms: `amr` values of
// RFC 8176 and the two `acr` values this server names (published in
// discovery as acr_values_supported). One place, so the ID token, the
// authorization endpoint's acr_values and the upstream sign-in agree.

/** One factor (a password, or whatever one factor an upstream provider vouched for). */
export const ACR_ONE_FACTOR = 'urn:xmpp-oauth:acr:1fa';
/** Two factors of different kinds (RFC 8176 `mfa`). */
export const ACR_MULTI_FACTOR = 'urn:xmpp-oauth:acr:2fa';
export const ACR_VALUES = [ACR_ONE_FACTOR, ACR_MULTI_FACTOR] as const;

// RFC 8176 §2 methods by the kind of factor they are.
const KNOWLEDGE = new Set(['pwd', 'pin', 'kba']);
const POSSESSION = new Set(['otp', 'hwk', 'swk', 'sms', 'tel', 'sc']);
const INHERENCE = new Set(['fpt', 'face', 'iris', 'retina', 'vbm', 'bio']);

/** Whether `amr` shows two factors of different kinds (or says `mfa` itself). */
export function isMultiFactor(amr: readonly string[]): boolean {
  if (amr.includes('mfa')) return true;
  const kinds = [KNOWLEDGE, POSSESSION, INHERENCE].filter((set) => amr.some((m) => set.has(m)));
  return kinds.length >= 2;
}

/** `amr` with `mfa` added when it shows two kinds of factor; no duplicates, order kept. */
export function completeAmr(amr: readonly string[]): string[] {
  const out = [...new Set(amr)];
  if (!out.includes('mfa') && isMultiFactor(out)) out.push('mfa');
  return out;
}

export function acrFor(amr: readonly string[]): string {
  return isMultiFactor(amr) ? ACR_MULTI_FACTOR : ACR_ONE_FACTOR;
}

/**
 * What an authorization request's `acr_values` asks for: `mfa` when it names
 * only the multi-factor value, `any` when one-factor will do, `unknown` when
 * it names none of ours (OIDC Core 3.1.2.1: the request cannot be met).
 */
export function acrRequirement(acrValues: string | undefined): 'any' | 'mfa' | 'unknown' {
  const asked = (acrValues ?? '').split(' ').filter(Boolean);
  if (asked.length === 0 || asked.includes(ACR_ONE_FACTOR)) return 'any';
  if (asked.includes(ACR_MULTI_FACTOR)) return 'mfa';
  return 'unknown';
}
