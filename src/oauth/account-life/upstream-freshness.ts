// "Upstream changes reach downstream": an account that signs in through an
// upstream provider keeps its long-lived credentials (app passwords, refresh
// tokens) only while its owner keeps signing in there. A person removed at the
// IdP can no longer sign in upstream, so their access lapses within
// upstream.revalidate_days even if the IdP never tells us.
import type { Account } from '../../store/types.js';
import type { CoreDeps } from '../context.js';

const DAY_MS = 86_400_000;

export function nowOf(deps: Pick<CoreDeps, 'clock'>): number {
  return deps.clock?.now() ?? Date.now();
}

/** When the account's long-lived credentials lapse (unix ms), or undefined for a local account. */
export function lapsesAt(deps: Pick<CoreDeps, 'config'>, account: Account): number | undefined {
  if (!account.upstream) return undefined;
  return account.upstream.lastLoginAt + deps.config.upstream.revalidate_days * DAY_MS;
}

/** True when the account's app passwords and refresh tokens must not work until its next upstream sign-in. */
export function needsUpstreamSignIn(deps: Pick<CoreDeps, 'config' | 'clock'>, account: Account): boolean {
  const at = lapsesAt(deps, account);
  return at !== undefined && nowOf(deps) >= at;
}
