// Why a connection attempt failed, and whether retrying can help without an
// operator (DESIGN.md: `error` only when someone must act).

export interface LinkFailure {
  /** `fatal`: configuration is wrong (secret, domain); `transient`: retry with backoff. */
  kind: 'fatal' | 'transient';
  /** Stream error condition or socket error code: short, stable, loggable. */
  reason: string;
  /** Safe to log: never contains the secret. */
  message: string;
  /** A hint for the operator, for fatal failures. */
  hint?: string;
}

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  condition?: string;
  text?: string;
}

const FATAL_HINTS: Record<string, string> = {
  'not-authorized': 'the component secret does not match the XMPP server configuration',
  'host-unknown': 'the XMPP server has no component configured for this domain',
  'handshake-failed': 'the XMPP server rejected the component handshake; check the secret and domain',
};

export function classifyFailure(err: unknown): LinkFailure {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  if (e.name === 'StreamError' && e.condition) {
    const message = e.text ? `${e.condition}: ${e.text}` : e.condition;
    const hint = FATAL_HINTS[e.condition];
    return hint ? { kind: 'fatal', reason: e.condition, message, hint } : { kind: 'transient', reason: e.condition, message };
  }
  // @xmpp/component-core: the server answered the handshake with something else.
  if (e.message === 'Unexpected server response') {
    return { kind: 'fatal', reason: 'handshake-failed', message: e.message, hint: FATAL_HINTS['handshake-failed'] };
  }
  if (e.name === 'TimeoutError') return { kind: 'transient', reason: 'timeout', message: 'timed out' };
  if (e.code) return { kind: 'transient', reason: e.code, message: e.message ?? e.code };
  return { kind: 'transient', reason: 'error', message: e.message ?? 'unknown error' };
}
