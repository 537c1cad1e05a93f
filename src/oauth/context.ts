import type { Accounts } from '../accounts/accounts.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { ClientRegistry } from './clients/clients.js';
import type { Clock } from './clock.js';
import type { TokenSigner } from './tokens/tokens.js';

/** Counters the core reports to; the composition root backs them with Prometheus. */
export interface CoreMetrics {
  login(via: 'password' | 'token' | 'app-password' | 'web' | 'upstream', outcome: 'ok' | 'failed' | 'throttled' | 'lapsed' | 'refused'): void;
  tokenIssued(grantType: string): void;
  xmppQuery(op: string, outcome: string): void;
}

/** What every part of the OAuth core works with. Plain objects: no HTTP, no XMPP. */
export interface CoreDeps {
  config: Config;
  store: Store;
  clients: ClientRegistry;
  signer: TokenSigner;
  accounts: Accounts;
  log: Logger;
  metrics?: CoreMetrics;
  /** Absent: the wall clock. */
  clock?: Clock;
}
