// Whether an HTTP request comes from this machine itself, for the two
// endpoints that trust that: /metrics without a token and ejabberd's token
// lookup without a secret. A reverse proxy on this machine connects from
// loopback on behalf of anyone, so a proxied request is never local (review
// #8): not when it carries a proxy's headers, and not at all once
// http.trust_proxy says requests arrive through a proxy (getting-started's
// set-up), since a proxy need not add any header (nginx adds none by default).
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/schema.js';

/** Headers only a proxy (or someone pretending to be one) sends. */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'via'];

/** The configuration says requests come through a reverse proxy. */
export function behindProxy(config: Pick<Config, 'http'>): boolean {
  const t = config.http.trust_proxy;
  return t !== false && t !== 0 && t !== '';
}

export function isLoopbackAddress(ip: string | undefined): boolean {
  const a = (ip ?? '').toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Why the request is not from this machine, or null when it is. */
export function notLocalBecause(req: IncomingMessage, config: Pick<Config, 'http'>): string | null {
  if (!isLoopbackAddress(req.socket.remoteAddress)) return 'the caller is not on this machine';
  if (behindProxy(config)) return 'http.trust_proxy is set, so loopback callers may be a reverse proxy';
  const header = PROXY_HEADERS.find((h) => req.headers[h] !== undefined);
  if (header) return `the request came through a proxy (${header})`;
  return null;
}
