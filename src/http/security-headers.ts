import type { RequestHandler } from 'express';

/**
 * Headers every response carries (RFC 9700 section 4.16 for framing; no
 * referrer so codes and tokens in URLs never leak through Referer).
 */
export function securityHeaders(contentSecurityPolicy: string): RequestHandler {
  const headers = securityHeaderPairs(contentSecurityPolicy);
  return (_req, res, next) => {
    // setHeader directly: none of these is Content-Type, the only one res.set treats specially.
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}

/** The same headers as data, for the back channel's direct writes (raw-back-channel.ts). */
export function securityHeaderPairs(contentSecurityPolicy: string): Array<[string, string]> {
  const csp = /frame-ancestors/.test(contentSecurityPolicy)
    ? contentSecurityPolicy
    : `${contentSecurityPolicy.replace(/;\s*$/, '')}; frame-ancestors 'none'`;
  return Object.entries({
    'Content-Security-Policy': csp,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  });
}

/** For every response that carries or reveals a credential (RFC 6749 section 5.1). */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
};
