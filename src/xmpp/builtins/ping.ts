// XEP-0199: answer pings so the server (and operators) can check we are alive.
import type { IqRegistry } from '../iq.js';

export const NS_PING = 'urn:xmpp:ping';

export function installPing(link: IqRegistry): void {
  link.handleIq('get', NS_PING, 'ping', () => undefined);
}
