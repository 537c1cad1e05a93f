// A user's view of their grants, and revoking them: shared by the account page
// and the XMPP ad-hoc commands. Revoking deletes the grant, so its refresh
// tokens die with it and every online token check fails from then on.
import type { Grant } from '../store/types.js';
import type { CoreDeps } from './context.js';

export interface GrantSummary {
  id: string;
  clientId: string;
  /** What the consent screen showed; falls back to a shortened client id. */
  clientName: string;
  clientUri?: string;
  clientHost?: string;
  logoUri?: string;
  scope: string[];
  createdAt: number;
  lastUsedAt: number;
  /** `app_password` for an app password (contract 4); absent for an OAuth client. */
  kind?: 'app_password';
  /** App passwords: the name the user gave it. */
  label?: string;
}

export function summarise(g: Grant): GrantSummary {
  let clientHost: string | undefined;
  try {
    clientHost = g.clientUri ? new URL(g.clientUri).host : undefined;
  } catch {
    clientHost = undefined;
  }
  return {
    id: g.id,
    clientId: g.clientId,
    // Every listing (ad-hoc, XEP-0494) says what an app password is without knowing about them.
    clientName: g.kind === 'app_password' ? `App password: ${g.label ?? ''}` : (g.clientName ?? g.clientId.slice(0, 40)),
    clientUri: g.clientUri,
    clientHost,
    logoUri: g.logoUri,
    scope: g.scope,
    createdAt: g.createdAt,
    lastUsedAt: g.lastUsedAt,
    ...(g.kind ? { kind: g.kind, label: g.label } : {}),
  };
}

/** Most recently used first. */
export async function grantsOf(deps: Pick<CoreDeps, 'store'>, jid: string): Promise<GrantSummary[]> {
  const grants = await deps.store.listGrants(jid);
  return grants.sort((a, b) => b.lastUsedAt - a.lastUsedAt).map(summarise);
}

/**
 * Revokes one of `jid`'s grants. Someone else's grant id reads exactly like an
 * unknown one (null), so ids cannot be probed. `by` names who acted, for the log.
 */
export async function revokeGrantOf(
  deps: Pick<CoreDeps, 'store' | 'log'>,
  jid: string,
  grantId: string,
  by: string,
): Promise<GrantSummary | null> {
  if (typeof grantId !== 'string' || grantId.length === 0 || grantId.length > 100) return null;
  const grant = await deps.store.getGrant(grantId);
  if (!grant || grant.jid !== jid) return null;
  if (!(await deps.store.revokeGrant(grant.id))) return null;
  deps.log.info({ jid, client: grant.clientId.slice(0, 64), by }, 'grant revoked');
  return summarise(grant);
}

/**
 * Revokes every grant of `jid`, app passwords included (admin disable, removal).
 * One grant at a time through revokeGrantOf, so each revocation is announced
 * like any other. Returns how many were revoked.
 */
export async function revokeAllGrantsOf(deps: Pick<CoreDeps, 'store' | 'log'>, jid: string, by: string): Promise<number> {
  let n = 0;
  for (const g of await deps.store.listGrants(jid)) if (await revokeGrantOf(deps, jid, g.id, by)) n++;
  return n;
}
