// From a verified upstream identity to one of our accounts. The binding is
// the provider's (iss, sub), never the user name: once an account is bound, a
// later change of the username claim still lands in the same account, and a
// claim that now names someone else's account cannot take it over.
import type { Config, UpstreamProviderConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store, UpstreamOrigin } from '../store/types.js';
import { allowed, jidFromClaims, type Claims } from './claims.js';
import { UpstreamError } from './errors.js';
import { reservedBecause } from '../oauth/account-life/reserved-names.js';

export interface ProvisionDeps {
  store: Store;
  log: Logger;
  /** Read at each sign-in: the names no sign-in may take. */
  config: Pick<Config, 'admins' | 'upstream'>;
}

export interface Provisioned {
  jid: string;
  /** What happened this time, for the log and the metrics. */
  outcome: 'existing' | 'created' | 'linked';
}

/** The account for this sign-in: the bound one, a new one (JIT), or, with link_existing, a local one now bound. */
export async function accountFor(
  deps: ProvisionDeps,
  provider: UpstreamProviderConfig,
  claims: Claims & { iss: string; sub: string },
  now: number,
): Promise<Provisioned> {
  // Checked at every sign-in, so leaving the group at the IdP ends the next one.
  if (!allowed(provider.allow, claims)) {
    throw new UpstreamError('not-allowed', `claims do not satisfy upstream.providers[${provider.id}].allow`);
  }
  const origin: UpstreamOrigin = { provider: provider.id, iss: claims.iss, sub: claims.sub, lastLoginAt: now };

  const bound = await existing(deps, claims.iss, claims.sub, now);
  if (bound) return { jid: bound, outcome: 'existing' };

  const jid = jidFromClaims(provider, claims);
  // A renamed username claim must not make its holder an admin, or the
  // operator's postmaster (review #9): neither created nor linked.
  const reserved = reservedBecause(deps.config, jid);
  if (reserved) throw new UpstreamError('reserved', `${jid}: ${reserved}`);
  const created = await deps.store.createUpstreamAccount({ jid, passwordHash: '', createdAt: Date.now(), upstream: origin });
  if (created === 'created') {
    deps.log.info({ jid, provider: provider.id }, 'account created from an upstream sign-in');
    return { jid, outcome: 'created' };
  }
  if (created === 'subject-taken') {
    // A concurrent first sign-in of the same person won the race: use its account.
    const raced = await existing(deps, claims.iss, claims.sub, now);
    if (raced) return { jid: raced, outcome: 'existing' };
    throw new UpstreamError('failed', 'the upstream identity is bound to an account that no longer exists');
  }
  if (!provider.link_existing) {
    throw new UpstreamError('collision', `${jid} exists already and upstream.providers[${provider.id}].link_existing is false`);
  }
  const local = await deps.store.getAccount(jid);
  if (local?.disabled) throw new UpstreamError('disabled', `${jid} is disabled`);
  if (!local || !(await deps.store.linkUpstream(jid, origin))) {
    throw new UpstreamError('collision', `${jid} is bound to another upstream identity`);
  }
  deps.log.info({ jid, provider: provider.id }, 'existing account linked to an upstream identity');
  return { jid, outcome: 'linked' };
}

async function existing(deps: ProvisionDeps, iss: string, sub: string, now: number): Promise<string | null> {
  const jid = await deps.store.findAccountBySubject(iss, sub);
  if (!jid) return null;
  const account = await deps.store.getAccount(jid);
  if (!account) return null;
  if (account.disabled) throw new UpstreamError('disabled', `${jid} is disabled`);
  await deps.store.touchUpstreamLogin(jid, now);
  return jid;
}

