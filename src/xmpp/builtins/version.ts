// XEP-0092 software version. No <os/> unless configured: it only helps attackers.
import type { IqRegistry } from '../iq.js';
import { xml } from '../xml.js';

export const NS_VERSION = 'jabber:iq:version';

export interface SoftwareInfo {
  name: string;
  version: string;
  os?: string;
}

export function installVersion(link: IqRegistry, software: SoftwareInfo): void {
  link.handleIq('get', NS_VERSION, 'query', () =>
    xml(
      'query',
      { xmlns: NS_VERSION },
      xml('name', {}, software.name),
      xml('version', {}, software.version),
      software.os ? xml('os', {}, software.os) : null,
    ),
  );
}
