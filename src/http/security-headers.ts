import type { RequestHandler } from 'express';

/**
 * Headers every response carries (RFC 9700 section 4.16 for framing; no
 * referrer so codes and tokens in URLs never leak through Referer).
 */
export function securityHeaders(contentSecurityPolicy: string): RequestHandler {
  const csp = /frame-ancestors/.test(contentSecurityPolicy)
    ? contentSecurityPolicy
    : `${contentSecurityPolicy.replace(/;\s*$/, '')}; frame-ancestors 'none'`;
  return (_req, res, next) => {
    res.set({
      'Content-Security-Policy': csp,
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    next();
  };
}

/** For every response that carries or reveals a credential (RFC 6749 section 5.1). */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  next();
};
