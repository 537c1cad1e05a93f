import type { Accounts } from '../accounts/accounts.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { ClientRegistry } from './clients.js';
import type { TokenSigner } from './tokens.js';

/** What every part of the OAuth core works with. Plain objects: no HTTP, no XMPP. */
export interface CoreDeps {
  config: Config;
  store: Store;
  clients: ClientRegistry;
  signer: TokenSigner;
  accounts: Accounts;
  log: Logger;
}
