import { Accounts } from '../accounts/accounts.js';
import { defaultHashConcurrency, setHashConcurrency } from '../accounts/passwords.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { StoreUnavailableError } from '../store/unavailable.js';
import { ClientRegistry, StaticClients, type ClientSource } from './clients/clients.js';
import { Clock } from './clock.js';
import type { CoreDeps } from './context.js';
import { KeyManager } from './tokens/keys.js';
import { largestAccessTokenBytes, XMPP_PASSWORD_BUDGET } from './tokens/token-size.js';
import { DynamicClients } from './clients/registration/dynamic-clients.js';
import { TokenSigner } from './tokens/tokens.js';
import { activityFromConfig, configureSecurityEvents, recordFactorChange } from './account-life/security-events.js';
import { SecondFactors } from '../accounts/second-factor/second-factors.js';
import { Passkeys } from '../accounts/passkeys/passkeys.js';
import { relyingPartyFor } from '../accounts/passkeys/relying-party.js';

/**
 * Start-up needs the store (the signing keys live there). If it is down, say
 * so once and keep trying rather than exiting: Redis often starts later.
 */
async function untilStoreAnswers(step: () => Promise<void>, log: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (attempt === 0) log.error('cannot reach Redis at start-up; waiting for it');
      await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5_000)));
    }
  }
}

/** The account's second factors and passkeys, built once here and handed to the front door that asks for them. */
export interface Factors {
  secondFactors: SecondFactors;
  /** Null when the issuer cannot have passkeys (WebAuthn needs a domain name, not an IP address). */
  passkeys: Passkeys | null;
}

/** Builds the OAuth core from config: clients, keys, signer, second factors and passkeys. */
export async function createCore(
  config: Config,
  store: Store,
  log: Logger,
  extraClientSources: ClientSource[] = [],
  trustedPublicKeys?: Record<string, unknown>[],
): Promise<{ deps: CoreDeps; keys: KeyManager; dynamicClients?: DynamicClients; factors: Factors }> {
  const keys = new KeyManager(
    store,
    { algorithm: config.signing_algorithm, keyFile: config.signing_key_file, maxTokenTtl: config.access_token_ttl, trustedPublicKeys },
    log,
  );
  await untilStoreAnswers(() => keys.init(), log);
  const signer = new TokenSigner(keys, {
    issuer: config.issuer!,
    accessTokenTtl: config.access_token_ttl,
    refreshTokenTtl: config.refresh_token_ttl,
  });
  const dynamicClients = config.registration_key
    ? new DynamicClients({
        registrationKey: config.registration_key,
        algorithm: config.registration_algorithm,
        issuer: config.issuer,
        ttl: config.registration_ttl,
      })
    : undefined;
  const sources: ClientSource[] = [new StaticClients(() => config.clients), ...(dynamicClients ? [dynamicClients] : []), ...extraClientSources];
  const clients = new ClientRegistry(sources);
  setHashConcurrency(config.password_hash_concurrency ?? defaultHashConcurrency());
  const accounts = new Accounts(store, config.login_throttle, log, config.scram, config.password_logins);
  configureSecurityEvents(store, { ...activityFromConfig(config), log });
  const largest = await largestAccessTokenBytes(signer, config);
  if (largest > XMPP_PASSWORD_BUDGET) {
    log.warn(
      { bytes: largest, budget: XMPP_PASSWORD_BUDGET, issuer: config.issuer },
      'access tokens for the longest user names exceed what an XMPP password can carry; a shorter issuer URL or host name fixes it',
    );
  }
  const deps: CoreDeps = { config, store, clients, signer, accounts, log, clock: new Clock() };
  const secondFactors = new SecondFactors(
    store,
    { throttle: config.login_throttle, issuer: config.site_name, onChange: (jid, change) => recordFactorChange(deps, jid, change) },
    log.child({ part: 'second-factor' }),
  );
  const rp = relyingPartyFor(config.issuer!, config.site_name);
  const passkeys = rp ? new Passkeys(store.passkeys, store, rp, log.child({ part: 'passkeys' })) : null;
  return { deps, keys, dynamicClients, factors: { secondFactors, passkeys } };
}
