import type { Client } from '../clients/clients.js';

// A loopback redirect as RFC 8252 section 7.3 describes it, read from the raw
// string: literal host, optional port, then the rest. Never through the URL
// parser, which would turn `127.1`, `0x7f.1`, `\callback` or `/x/../callback`
// into something that looks registered.
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::([1-9]\d{0,4}))?([/?].*)?$/s;

/** Whitespace, control characters and fragments have no place in a redirect URI (RFC 6749 section 3.1.2). */
const UNSAFE = /[\s\p{Cc}#]/u;

/**
 * Exact redirect URI matching (RFC 9700 section 4.1.3): the requested string
 * must equal a registered one. The one exception is RFC 8252 section 7.3: a
 * native client's loopback redirect matches on any port, because the port is
 * picked by the operating system at run time; all else still compares exactly.
 */
export function matchRedirectUri(client: Client, requested: string): boolean {
  if (UNSAFE.test(requested)) return false;
  if (client.redirectUris.includes(requested)) return true;
  if (client.applicationType !== 'native') return false;
  const want = loopbackWithoutPort(requested);
  if (want === null) return false;
  return client.redirectUris.some((registered) => loopbackWithoutPort(registered) === want);
}

/** `http://127.0.0.1:4444/cb?x` → `http://127.0.0.1/cb?x`; null when not a loopback redirect. */
function loopbackWithoutPort(uri: string): string | null {
  const m = LOOPBACK.exec(uri);
  if (!m || Number(m[2] ?? 80) > 65535) return null;
  return `http://${m[1]}${m[3] ?? ''}`;
}

/**
 * Whether the identity of the client that will receive the code is assured,
 * so that an earlier consent may be reused silently (RFC 8252 section 8.6).
 * A confidential client proves itself with its secret when it redeems the
 * code. For a public client only an https redirect does: the host's owner, or
 * the operating system for a claimed https link, decides who receives it,
 * while a loopback port, a private-use scheme or out-of-band can be taken by
 * any program on the device that claims the same client_id.
 */
export function clientIdentityAssured(client: Client, redirectUri: string): boolean {
  return !client.public || redirectUri.startsWith('https://');
}

/** Appends parameters to a redirect URI, keeping any query it already has. */
export function withParams(uri: string, params: Record<string, string | undefined>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.append(k, v);
  return u.toString();
}
