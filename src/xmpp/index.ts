// The XMPP front door: the component link and the pieces handlers need.
export { ComponentLink, type ComponentLinkOptions, type LinkState, type LinkStatus } from './link.js';
export type { IqContext, IqHandler, IqHandlerResult, IqRegistry } from './iq.js';
export {
  iqError,
  IqError,
  LinkOfflineError,
  NS_STANZAS,
  type IqErrorReply,
  type StanzaErrorCondition,
  type StanzaErrorType,
} from './errors.js';
export type { LinkFailure } from './failure.js';
export { xml, Element, isElement } from './xml.js';
