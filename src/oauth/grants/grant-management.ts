// A user's view of their grants, and revoking them: shared by the account page,
// the XMPP ad-hoc commands, XEP-0494, RFC 7009 and replay detection. Revoking
// deletes the grant, so its refresh tokens die with it and every online token
// check fails from then on; the store announces each revocation to every
// instance (GrantRevokedEvent), which is how live XMPP sessions get closed.
import type { Grant, GrantRevokedEvent, UserAgent } from '../../store/types.js';
import type { CoreDeps } from '../context.js';
import { clientLog } from '../clients/client-log.js';
import { recordSecurityEvent } from '../account-life/security-events.js';

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
  /** SASL2 `<user-agent>` of the latest XMPP login with this grant (issue 24 #2). */
  userAgent?: UserAgent;
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
    ...(g.userAgent ? { userAgent: g.userAgent } : {}),
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
  return revoke(deps, grant, by);
}

/**
 * Revokes every grant of `jid` (password change, account removal, "sign out
 * of every app"). Returns what was revoked; a grant revoked meanwhile by
 * another door is simply not listed.
 */
export async function revokeAllGrantsOf(
  deps: Pick<CoreDeps, 'store' | 'log'>,
  jid: string,
  by: string,
): Promise<GrantSummary[]> {
  const grants = await deps.store.listGrants(jid);
  const revoked = await Promise.all(grants.map((g) => revoke(deps, g, by)));
  return revoked.filter((g): g is GrantSummary => g !== null);
}

/** The one place a grant is revoked on a user's or operator's behalf. */
async function revoke(deps: Pick<CoreDeps, 'store' | 'log'>, grant: Grant, by: string): Promise<GrantSummary | null> {
  if (!(await revokeGrant(deps, grant.id))) return null;
  deps.log.info({ jid: grant.jid, ...clientLog({ id: grant.clientId, name: grant.clientName }), by }, 'grant revoked');
  // Awaited (it never throws): an account removal forgets the log only after its revocations are in it.
  await recordSecurityEvent(
    deps,
    grant.jid,
    grant.kind === 'app_password'
      ? { kind: 'app-password-revoked', label: grant.label ?? '', by }
      : { kind: 'app-revoked', client: grant.clientName ?? grant.clientId.slice(0, 40), by },
  );
  return summarise(grant);
}

/**
 * The one way to end a grant, whatever the door: the grant, its refresh tokens,
 * and (through the store's announcement) every XMPP session that logged in
 * with it. false when it was gone already.
 */
export function revokeGrant(deps: Pick<CoreDeps, 'store'>, grantId: string): Promise<boolean> {
  return deps.store.revokeGrant(grantId);
}

/**
 * Hears every revocation on every instance sharing the store. `onGap` runs
 * when news may have been lost (the feed reconnected): re-check what you hold.
 */
export function onGrantRevoked(
  deps: Pick<CoreDeps, 'store'>,
  listener: (event: GrantRevokedEvent) => void,
  onGap?: () => void,
): () => void {
  return deps.store.onRevocation(listener, onGap);
}
