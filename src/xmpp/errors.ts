// Stanza errors (RFC 6120 §8.3) as plain data, so IQ handlers can refuse a
// request without touching XML, and the link-level errors callers may see.
import { xml, type Element } from './xml.js';

export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

// RFC 6120 §8.3.3: each condition with the error type the RFC suggests for it.
const DEFAULT_TYPES = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
} as const satisfies Record<string, StanzaErrorType>;

export type StanzaErrorCondition = keyof typeof DEFAULT_TYPES;

/** What an IQ handler returns (or throws, wrapped in IqError) to refuse a request. */
export interface IqErrorReply {
  error: StanzaErrorCondition;
  /** Human-readable, sent to the requester: never put secrets here. */
  text?: string;
  /** Defaults to the type RFC 6120 suggests for the condition. */
  type?: StanzaErrorType;
  /** An application-specific condition element (RFC 6120 §8.3.4), e.g. XEP-0050's. */
  extra?: Element;
}

export function iqError(error: StanzaErrorCondition, text?: string): IqErrorReply {
  return text === undefined ? { error } : { error, text };
}

/** Throwable form of IqErrorReply, for refusing from deep inside a handler. */
export class IqError extends Error {
  constructor(
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'IqError';
  }

  toReply(): IqErrorReply {
    return iqError(this.condition, this.text);
  }
}

export function isIqErrorReply(value: unknown): value is IqErrorReply {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { error?: unknown }).error === 'string' &&
    Object.hasOwn(DEFAULT_TYPES, (value as { error: string }).error)
  );
}

/** `<error type=…><condition/><text/></error>`, the child of an `iq type="error"`. */
export function errorElement({ error, text, type, extra }: IqErrorReply): Element {
  return xml(
    'error',
    { type: type ?? DEFAULT_TYPES[error] },
    xml(error, { xmlns: NS_STANZAS }),
    text ? xml('text', { xmlns: NS_STANZAS }, text) : null,
    extra ?? null,
  );
}

/** `send()`/`request()` while the component link is down: nothing was written. */
export class LinkOfflineError extends Error {
  constructor(message = 'XMPP component link is offline') {
    super(message);
    this.name = 'LinkOfflineError';
  }
}
