// XEP-0030 service discovery: one identity, every namespace we answer as a
// feature (read at query time, so late registrations show up), no items.
import { iqError } from '../errors.js';
import type { IqRegistry } from '../iq.js';
import { xml } from '../xml.js';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

export function installDisco(link: IqRegistry, identity: DiscoIdentity): void {
  link.handleIq('get', NS_DISCO_INFO, 'query', ({ element }) => {
    // We publish no nodes; RFC-style answer for an unknown one.
    if (element.attrs.node) return iqError('item-not-found');
    return xml(
      'query',
      { xmlns: NS_DISCO_INFO },
      xml('identity', { category: identity.category, type: identity.type, name: identity.name }),
      ...link.features().map((ns) => xml('feature', { var: ns })),
    );
  });
  link.handleIq('get', NS_DISCO_ITEMS, 'query', ({ element }) => {
    if (element.attrs.node) return iqError('item-not-found');
    return xml('query', { xmlns: NS_DISCO_ITEMS });
  });
}
