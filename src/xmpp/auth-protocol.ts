// Placeholder until the auth IQ protocol lands (issue 5).
import type { Logger } from '../log.js';
import type { CoreDeps } from '../oauth/context.js';
import type { IqRegistry } from './iq.js';

export const NS_AUTH = 'urn:xmpp-oauth:auth:0';

export function registerAuthProtocol(_link: IqRegistry, _deps: { core: CoreDeps; log: Logger }): void {}
