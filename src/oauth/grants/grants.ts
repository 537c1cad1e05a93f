import type { Grant, Store } from '../../store/types.js';
import type { AuthorizationRequest } from './authorization-request.js';
import type { Client } from '../clients/clients.js';
import type { CoreDeps } from '../context.js';
import { describable } from '../errors.js';
import { withParams } from './redirect.js';
import { newAuthorizationCode, newGrantId } from '../tokens/tokens.js';
import { clientLog } from '../clients/client-log.js';
import { recordSecurityEvent } from '../account-life/security-events.js';

export interface Authentication {
  jid: string;
  authTime: number; // unix seconds
  amr: string[];
}

/** True when the user already granted this client every requested scope. */
export async function coveredByGrant(store: Store, jid: string, clientId: string, scope: string[]): Promise<boolean> {
  const grant = await store.findGrant(jid, clientId);
  return grant !== null && scope.every((s) => grant.scope.includes(s));
}

/**
 * Grants one account may hold: one per application, and registration is open,
 * so without a bound an account's index (and its account page) could grow
 * without limit (issue 12 #11). Far above any real person's list of apps.
 */
export const MAX_GRANTS_PER_ACCOUNT = 200;

export class TooManyGrantsError extends Error {
  override name = 'TooManyGrantsError';
  constructor() {
    super(`this account has authorized ${MAX_GRANTS_PER_ACCOUNT} applications, the most it may; revoke some on the account page first`);
  }
}

/**
 * Records the user's consent: one grant per user and client, widened to the
 * union of what was ever approved, so the account page shows one entry per app.
 * A new grant beyond MAX_GRANTS_PER_ACCOUNT throws TooManyGrantsError.
 */
export async function recordConsent(store: Store, jid: string, client: Client, scope: string[], newId = newGrantId()): Promise<Grant> {
  const now = Date.now();
  const existing = await store.findGrant(jid, client.id);
  if (existing) {
    const widened = { ...existing, scope: [...new Set([...existing.scope, ...scope])], lastUsedAt: now };
    // Revoked since we read it? Then this consent starts a new grant.
    if (await store.updateGrant(widened)) {
      // A silent re-approval of what was granted before is no new access; a wider scope is.
      if (widened.scope.length > existing.scope.length) void recordSecurityEvent({ store }, jid, { kind: 'app-approved', client: client.name, scope: widened.scope });
      return widened;
    }
  }
  if ((await store.countGrants(jid)) >= MAX_GRANTS_PER_ACCOUNT) throw new TooManyGrantsError();
  const grant: Grant = {
    id: newId,
    jid,
    clientId: client.id,
    scope,
    createdAt: now,
    lastUsedAt: now,
    clientName: client.name,
    clientUri: client.clientUri,
    logoUri: client.logoUri,
  };
  await store.saveGrant(grant);
  void recordSecurityEvent({ store }, jid, { kind: 'app-approved', client: client.name, scope });
  return grant;
}

/**
 * Consent to a device grant, in the order that keeps a failed decision from
 * widening anything: the device is decided first, naming the grant the
 * consent will be recorded under (the user's existing grant for the client,
 * or a new id), and only a decision that took effect records the consent.
 * false when the device grant was gone or decided already.
 */
export async function approveDevice(
  store: Store,
  userCode: string,
  auth: { jid: string; authTime: number; amr?: string[] },
  client: Client,
  scope: string[],
): Promise<boolean> {
  const existing = await store.findGrant(auth.jid, client.id);
  const grantId = existing?.id ?? newGrantId();
  const decided = await store.decideDevice(userCode, { status: 'approved', jid: auth.jid, grantId, authTime: auth.authTime, amr: auth.amr });
  if (!decided) return false;
  // An id once revoked is never reused (its old codes would come back): only a new id is handed on.
  let grant: Grant;
  try {
    grant = await recordConsent(store, auth.jid, client, scope, existing ? undefined : grantId);
  } catch (err) {
    if (err instanceof TooManyGrantsError) return false; // the approval names no grant: the poll gets invalid_grant
    throw err;
  }
  // Revoked or created elsewhere between the two steps: the approval names no live grant,
  // and the device's poll says so (invalid_grant) rather than receive another grant's tokens.
  return grant.id === grantId;
}

/** Approves an authorization request: grant, single-use code, redirect with `code`, `state`, `iss`. */
export async function approveAuthorization(deps: CoreDeps, req: AuthorizationRequest, auth: Authentication): Promise<string> {
  let grant: Grant;
  try {
    grant = await recordConsent(deps.store, auth.jid, req.client, req.scope);
  } catch (err) {
    if (!(err instanceof TooManyGrantsError)) throw err;
    deps.log.info({ jid: auth.jid, ...clientLog(req.client) }, 'authorization refused: too many grants');
    return errorLocation(deps.config.issuer, req, 'access_denied', err.message);
  }
  const { token: code, digest } = newAuthorizationCode(grant.id);
  await deps.store.saveCode(
    digest,
    {
      grantId: grant.id,
      clientId: req.client.id,
      jid: auth.jid,
      redirectUri: req.redirectUri,
      ...(req.redirectUriSent ? { redirectUriSent: true } : {}),
      scope: req.scope,
      codeChallenge: req.codeChallenge,
      codeChallengeMethod: req.codeChallengeMethod,
      nonce: req.nonce,
      authTime: auth.authTime,
      amr: auth.amr,
    },
    deps.config.code_ttl,
  );
  deps.log.info({ jid: auth.jid, ...clientLog(req.client), scope: req.scope }, 'authorization approved');
  return withParams(req.redirectUri, { code, state: req.state, iss: deps.config.issuer });
}

export function errorLocation(issuer: string, req: AuthorizationRequest, error: string, description: string): string {
  return withParams(req.redirectUri, { error, error_description: describable(description), state: req.state, iss: issuer });
}
