/**
 * An OAuth protocol error (RFC 6749 section 5.2 and friends). The front doors
 * turn it into the right wire form; the core only says what went wrong.
 */
export class OAuthError extends Error {
  override name = 'OAuthError';
  /** Extra response headers (WWW-Authenticate, Retry-After) a front door should send. */
  headers: Record<string, string> = {};
  readonly error: string;
  readonly description: string;
  readonly status: number;
  constructor(error: string, description: string, status = 400) {
    // A protocol answer, not a fault: no stack to capture (a measurable share of the 401 path).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${error}: ${description}`);
    Error.stackTraceLimit = limit;
    this.error = error;
    this.description = description;
    this.status = status;
  }

  withHeaders(headers: Record<string, string>): this {
    Object.assign(this.headers, headers);
    return this;
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: describable(this.description) };
  }
}

/**
 * RFC 6749 5.2 limits error_description to %x20-21 / %x23-5B / %x5D-7E; a
 * description may quote caller input (a parameter name), so map the rest.
 */
export function describable(text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
}

export const invalidRequest = (d: string) => new OAuthError('invalid_request', d);
export const invalidClient = (d: string) => new OAuthError('invalid_client', d, 401);
export const invalidGrant = (d: string) => new OAuthError('invalid_grant', d);
export const invalidScope = (d: string) => new OAuthError('invalid_scope', d);
export const unauthorizedClient = (d: string) => new OAuthError('unauthorized_client', d);
export const unsupportedGrantType = (d: string) => new OAuthError('unsupported_grant_type', d);
