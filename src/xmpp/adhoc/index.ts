// XEP-0050 ad-hoc commands on the component (docs/protocol.md, "Ad-hoc commands").
import type { Logger } from '../../log.js';
import type { LiveSessions } from '../../oauth/clients/client-access.js';
import type { CoreDeps } from '../../oauth/context.js';
import type { IqRegistry } from '../iq.js';
import { installCommands, requesterOf } from './framework.js';
import { activityCommands } from './activity-commands.js';
import { grantCommands } from './grant-commands.js';
import { sessionAccessOver, type Asker } from './session-access.js';

export { NS_COMMANDS } from './framework.js';

export function registerAdhocCommands(link: IqRegistry & { domain?: string } & Partial<Asker>, deps: { core: CoreDeps; log: Logger; liveSessions?: LiveSessions }): void {
  const { config } = deps.core;
  installCommands(
    link,
    [...grantCommands(deps.core, deps.liveSessions), ...activityCommands(deps.core)],
    (from) => requesterOf(from, config.xmpp.hosts, config.admins),
    () => link.domain ?? config.xmpp.domain,
    // The link asks the XMPP server what the sending session may do.
    link.request ? sessionAccessOver(link as Asker, config.xmpp.hosts, deps.log) : undefined,
  );
}
