import { Passkeys } from '../accounts/passkeys/passkeys.js';
import { relyingPartyFor } from '../accounts/passkeys/relying-party.js';
import type { Config } from '../config/schema.js';
import type { CoreDeps } from '../oauth/context.js';
import type { PasskeyRecord } from '../store/passkeys/types.js';

// What the pages need of passkeys (issue 26 #1): the domain object of this
// server, the /account section's data, and whether the login page offers
// "Sign in with a passkey". The ceremonies are in routes/passkeys.ts.

const domains = new WeakMap<CoreDeps, Passkeys | null>();

/** The passkeys of this server, or null when its issuer cannot have any (WebAuthn needs a domain name, not an IP address). */
export function passkeysOf(core: CoreDeps): Passkeys | null {
  if (!domains.has(core)) {
    const rp = relyingPartyFor(core.config.issuer, core.config.site_name);
    domains.set(core, rp ? new Passkeys(core.store.passkeys, core.store, rp, core.log.child({ part: 'passkeys' })) : null);
  }
  return domains.get(core)!;
}

/** Whether the login page offers a passkey sign-in: a domain-name issuer, and local sign-in on. */
export function passkeySignInOffered(config: Config): boolean {
  return config.local_login && relyingPartyFor(config.issuer, config.site_name) !== null;
}

/** The /account passkeys section (partial passkeys-manage), or undefined when this server has no passkeys. */
export async function passkeySection(core: CoreDeps, jid: string): Promise<{ items: ReturnType<typeof passkeyView>[] } | undefined> {
  const passkeys = passkeysOf(core);
  return passkeys ? { items: (await passkeys.list(jid)).map(passkeyView) } : undefined;
}

function passkeyView(p: PasskeyRecord) {
  const when = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return {
    id: p.id,
    name: p.name,
    createdAt: when(p.createdAt),
    lastUsed: p.lastUsedAt ? when(p.lastUsedAt) : undefined,
    synced: p.deviceType === 'multiDevice',
  };
}
