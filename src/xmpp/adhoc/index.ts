// Placeholder until the ad-hoc commands land (issue 5).
import type { Logger } from '../../log.js';
import type { CoreDeps } from '../../oauth/context.js';
import type { IqRegistry } from '../iq.js';

export function registerAdhocCommands(_link: IqRegistry, _deps: { core: CoreDeps; log: Logger }): void {}
