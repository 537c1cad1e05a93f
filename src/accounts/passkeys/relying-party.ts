import { isIP } from 'node:net';

/** Who the passkeys are for, as WebAuthn names it: the RP ID (a domain), the page origin, a name to show. */
export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

/**
 * The relying party of a server reached at `issuer`: its host is the RP ID
 * and its origin the only one accepted. WebAuthn has no RP ID for an IP
 * address, so such an issuer has no passkeys (null).
 */
export function relyingPartyFor(issuer: string, siteName: string): RelyingParty | null {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return null;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host || isIP(host) !== 0) return null;
  return { id: host, origin: url.origin, name: siteName };
}
