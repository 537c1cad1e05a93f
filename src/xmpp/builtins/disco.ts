// XEP-0030 service discovery: one identity, every namespace we answer as a
// feature (read at query time, so late registrations show up), and the nodes
// modules publish (ad-hoc commands); no top-level items.
import { iqError } from '../errors.js';
import type { DiscoIdentity, IqRegistry } from '../iq.js';
import { xml } from '../xml.js';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

export type { DiscoIdentity };

const identityElement = (i: DiscoIdentity) => xml('identity', { category: i.category, type: i.type, name: i.name });

export function installDisco(link: IqRegistry, identity: DiscoIdentity): void {
  link.handleIq('get', NS_DISCO_INFO, 'query', ({ element, from }) => {
    const node = element.attrs.node as string | undefined;
    if (node !== undefined) {
      const info = link.discoNode(node)?.info?.(from);
      if (!info) return iqError('item-not-found');
      return xml(
        'query',
        { xmlns: NS_DISCO_INFO, node },
        ...info.identities.map(identityElement),
        ...info.features.map((ns) => xml('feature', { var: ns })),
      );
    }
    return xml('query', { xmlns: NS_DISCO_INFO }, identityElement(identity), ...link.features().map((ns) => xml('feature', { var: ns })));
  });
  link.handleIq('get', NS_DISCO_ITEMS, 'query', ({ element, from }) => {
    const node = element.attrs.node as string | undefined;
    if (node === undefined) return xml('query', { xmlns: NS_DISCO_ITEMS });
    const items = link.discoNode(node)?.items?.(from);
    if (!items) return iqError('item-not-found');
    return xml('query', { xmlns: NS_DISCO_ITEMS, node }, ...items.map((i) => xml('item', { jid: i.jid, node: i.node, name: i.name })));
  });
}
