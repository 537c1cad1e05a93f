// What the provider says about a person, turned into our decisions: may they
// in (`allow`), and what JID do they get (`username_claim` at `host`).
import { MAX_NEW_USER_BYTES } from '../accounts/accounts.js';
import { makeBareJid } from '../accounts/jid.js';
import type { UpstreamProviderConfig } from '../config/schema.js';
import { UpstreamError } from './errors.js';

export type Claims = Record<string, unknown>;

const asList = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'number' || typeof v === 'boolean' ? [String(v)] : [];

/**
 * Every key of `allow` must match: the claim (a string, or a list such as
 * `groups`) must hold one of the wanted values. No `allow`: everyone the
 * provider signs in may use the service.
 */
export function allowed(allow: UpstreamProviderConfig['allow'], claims: Claims): boolean {
  if (!allow) return true;
  return Object.entries(allow).every(([claim, want]) => {
    const have = asList(claims[claim]);
    return asList(want).some((w) => have.includes(w));
  });
}

/** The bare JID the username claim gives at the provider's host, or a bad-claim refusal saying why. */
export function jidFromClaims(provider: Pick<UpstreamProviderConfig, 'username_claim' | 'host' | 'id'>, claims: Claims): string {
  const raw = claims[provider.username_claim];
  if (typeof raw !== 'string' || raw.length === 0) {
    throw new UpstreamError('bad-claim', `the provider sent no ${provider.username_claim} claim`);
  }
  let jid;
  try {
    jid = makeBareJid(raw, provider.host!);
  } catch (err) {
    throw new UpstreamError('bad-claim', `${provider.username_claim} is not a valid XMPP user name: ${(err as Error).message}`);
  }
  if (Buffer.byteLength(jid.local) > MAX_NEW_USER_BYTES) {
    throw new UpstreamError('bad-claim', `${provider.username_claim} is longer than ${MAX_NEW_USER_BYTES} bytes`);
  }
  return jid.bare;
}
