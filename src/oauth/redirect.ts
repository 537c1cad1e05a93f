import type { Client } from './clients.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Exact redirect URI matching (RFC 9700 section 4.1.3). The one exception is
 * RFC 8252 section 7.3: a native client's loopback redirect matches on any port,
 * because the port is picked by the operating system at run time.
 */
export function matchRedirectUri(client: Client, requested: string): boolean {
  if (client.redirectUris.includes(requested)) return true;
  if (client.applicationType !== 'native') return false;
  const want = loopback(requested);
  if (!want) return false;
  return client.redirectUris.some((registered) => {
    const have = loopback(registered);
    return have !== null && have.host === want.host && have.rest === want.rest;
  });
}

function loopback(uri: string): { host: string; rest: string } | null {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' || !LOOPBACK_HOSTS.has(u.hostname) || u.username || u.password) return null;
  return { host: u.hostname, rest: `${u.pathname}${u.search}` };
}

/** Appends parameters to a redirect URI, keeping any query it already has. */
export function withParams(uri: string, params: Record<string, string | undefined>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.append(k, v);
  return u.toString();
}
