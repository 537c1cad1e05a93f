import { invalidClientMetadata, invalidRedirectUri } from './errors.js';

// URI rules of dynamic registration. A registered client only ever shows its
// own site: every web URI must be https on the client_uri's host, so a
// registration cannot borrow someone else's domain on the consent page.

export const MAX_URI_LENGTH = 1024;
export const OOB_URI = 'urn:ietf:wg:oauth:2.0:oob';
const LOOPBACK_REDIRECT_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Loopback or unspecified addresses (127.0.0.0/8, ::1, localhost and
 * *.localhost per RFC 6761, IPv4-mapped loopback, 0.0.0.0, ::). Takes a WHATWG
 * URL hostname, which has already turned `127.1` or `2130706433` into 127.0.0.1.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '0.0.0.0') return true;
  return h === '::1' || h === '::' || /^::ffff:(7f[0-9a-f]{2}:[0-9a-f]{1,4}|127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.test(h);
}

/** Same host, ignoring the port and a trailing dot (the URL parser already lowercased both). */
export function sameHost(a: URL, b: URL): boolean {
  return a.hostname.replace(/\.$/, '') === b.hostname.replace(/\.$/, '');
}

type Fail = (description: string) => Error;

/**
 * An absolute URI as registered: a string, no whitespace or control
 * characters (the URL parser would silently strip some, and redirect URIs are
 * compared byte for byte later), no fragment, no user:password@.
 */
function parseAbsolute(field: string, raw: unknown, fail: Fail): URL {
  if (typeof raw !== 'string' || raw === '') throw fail(`${field} must be a non-empty string`);
  if (raw.length > MAX_URI_LENGTH) throw fail(`${field} is longer than ${MAX_URI_LENGTH} characters`);
  if (/[\s\p{Cc}]/u.test(raw)) throw fail(`${field} must not contain whitespace or control characters`);
  if (raw.includes('#')) throw fail(`${field} must not contain a fragment (#)`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw fail(`${field} must be an absolute URI`);
  }
  if (u.username || u.password) throw fail(`${field} must not contain credentials`);
  return u;
}

/** client_uri: https, on a public host. Returns the parsed URL: the other URIs are checked against its host. */
export function checkClientUri(raw: unknown): URL {
  if (raw === undefined) throw invalidClientMetadata('client_uri is required: the consent page shows it');
  const u = parseAbsolute('client_uri', raw, invalidClientMetadata);
  if (u.protocol !== 'https:') throw invalidClientMetadata('client_uri must be an https:// URI');
  if (isLoopbackHost(u.hostname)) throw invalidClientMetadata('client_uri must not point to a loopback host');
  return u;
}

/** logo_uri, tos_uri, policy_uri: https on the client_uri's host. */
export function checkSiteUri(field: string, raw: unknown, clientUri: URL): string {
  const u = parseAbsolute(field, raw, invalidClientMetadata);
  if (u.protocol !== 'https:') throw invalidClientMetadata(`${field} must be an https:// URI`);
  if (!sameHost(u, clientUri)) throw invalidClientMetadata(`${field} must be on the same host as client_uri (${clientUri.hostname})`);
  return raw as string;
}

/**
 * One redirect URI. Web: https on the client_uri's host. Native (RFC 8252):
 * loopback http on any port, a private-use scheme in reverse-domain form
 * (it contains a dot, so it cannot be http, javascript, data …), or out-of-band.
 */
export function checkRedirectUri(raw: unknown, applicationType: 'web' | 'native', clientUri: URL): string {
  if (applicationType === 'native' && raw === OOB_URI) return raw;
  const u = parseAbsolute('redirect_uris', raw, invalidRedirectUri);
  const uri = raw as string;
  // Matching is by exact string, so register the form a browser will be sent to:
  // no `127.1`, dot segments, backslashes or escapes the URL parser would rewrite.
  if (u.href !== uri && u.href !== `${uri}/`) {
    throw invalidRedirectUri(`redirect_uris: ${uri} is not in normal form; register it as ${u.href}`);
  }
  if (applicationType === 'web') {
    if (u.protocol !== 'https:') throw invalidRedirectUri(`redirect_uris: ${uri} must be an https:// URI (application_type web)`);
    if (!sameHost(u, clientUri)) {
      throw invalidRedirectUri(`redirect_uris: ${uri} must be on the same host as client_uri (${clientUri.hostname})`);
    }
    return uri;
  }
  if (u.protocol === 'http:') {
    if (LOOPBACK_REDIRECT_HOSTS.has(u.hostname)) return uri;
    throw invalidRedirectUri(`redirect_uris: ${uri}: a native http:// redirect must be on 127.0.0.1, [::1] or localhost`);
  }
  const scheme = u.protocol.slice(0, -1);
  if (scheme !== 'https' && scheme.includes('.')) return uri;
  throw invalidRedirectUri(
    `redirect_uris: ${uri}: a native redirect must be loopback http, a private-use scheme such as org.example.app:/cb, or ${OOB_URI}`,
  );
}
