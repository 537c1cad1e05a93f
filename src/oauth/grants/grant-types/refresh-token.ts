import type { Client } from '../../clients/clients.js';
import type { CoreDeps } from '../../context.js';
import { invalidGrant, invalidRequest, invalidScope } from '../../errors.js';
import { issueTokens, type TokenResponse } from '../../tokens/issue.js';
import { parseScope } from '../../scopes.js';
import { newRefreshToken, parseRefreshToken } from '../../tokens/tokens.js';
import { revokeGrant } from '../grant-management.js';
import { recordSecurityEvent } from '../../account-life/security-events.js';
import { needsUpstreamSignIn } from '../../account-life/upstream-freshness.js';
import { clientLog } from '../../clients/client-log.js';

const INVALID = 'the refresh token is invalid, expired or revoked';

/** RFC 6749 6 with rotation (RFC 9700 4.14.2): every use returns a new refresh token. */
export async function refreshTokenGrant(deps: CoreDeps, client: Client, params: Record<string, string>): Promise<TokenResponse> {
  if (!params.refresh_token) throw invalidRequest('refresh_token is required');
  const parsed = parseRefreshToken(params.refresh_token);
  if (!parsed) throw invalidGrant(INVALID);
  const fast = await oneStepRefresh(deps, client, params, parsed);
  if (fast) return fast;

  const { refresh: current, account } = await deps.store.getRefreshAndAccount(parsed.grantId, parsed.digest);
  if (!current || current.expiresAt <= Date.now()) throw invalidGrant(INVALID);
  if (current.clientId !== client.id) throw invalidGrant('the refresh token was issued to another client');
  if (current.rotatedAt) {
    // Used before: either the client or a thief holds a copy. Revoke the whole grant (RFC 9700 4.14.2).
    await revokeGrant(deps, parsed.grantId);
    throw replayed(deps, client, current.jid);
  }

  // Upstream accounts keep long-lived access only while their owner keeps signing in upstream (issue 18).
  if (!account || account.disabled) throw invalidGrant(INVALID);
  if (needsUpstreamSignIn(deps, account)) {
    deps.log.info({ ...clientLog(client), jid: current.jid, provider: account.upstream?.provider }, 'refresh refused: lapsed until the next upstream sign-in');
    throw invalidGrant('the account must sign in again through its identity provider');
  }

  // Narrowing applies to the new access token; the refresh token keeps its scope (RFC 6749 6).
  let scope = current.scope;
  if (params.scope !== undefined) {
    const asked = params.scope.split(' ').filter(Boolean);
    const wanted = parseScope(params.scope);
    if (asked.length !== wanted.length || !wanted.every((s) => current.scope.includes(s))) {
      throw invalidScope('the requested scope exceeds what was granted');
    }
    scope = wanted;
  }

  const next = newRefreshToken(parsed.grantId);
  const now = Date.now();
  const { rotatedAt: _, ...base } = current;
  const rotated = await deps.store.rotateRefresh(parsed.grantId, parsed.digest, next.digest, {
    ...base,
    issuedAt: now,
    expiresAt: now + deps.config.refresh_token_ttl * 1000,
  });
  if (rotated.status === 'replayed') {
    throw replayed(deps, client, current.jid);
  }
  if (rotated.status !== 'ok') throw invalidGrant(INVALID);

  // The rotation checked the grant (and marked it used) atomically; no second
  // read that a concurrent replay (which revokes the grant) could win.
  return issueTokens(deps, { grant: { id: parsed.grantId, jid: current.jid }, client, scope, refreshToken: next.token, withIdToken: deps.config.id_token_on_refresh });
}

/**
 * The common refresh in one round trip: no scope narrowing asked, and the
 * grant's account known in process as a local, enabled account (an upstream
 * account's refresh tokens depend on its last upstream sign-in, which must be
 * read before the token is used up). The store checks the token's client
 * and expiry in the same atomic step that rotates it. null: take the long way.
 */
async function oneStepRefresh(
  deps: CoreDeps,
  client: Client,
  params: Record<string, string>,
  parsed: { grantId: string; digest: string },
): Promise<TokenResponse | null> {
  if (params.scope !== undefined) return null;
  const account = deps.store.knownAccountOfGrant(parsed.grantId);
  if (!account || account.disabled || account.upstream) return null;
  const next = newRefreshToken(parsed.grantId);
  const now = Date.now();
  const rotated = await deps.store.rotateRefreshAs(parsed.grantId, parsed.digest, next.digest, client.id, {
    issuedAt: now,
    expiresAt: now + deps.config.refresh_token_ttl * 1000,
  });
  if (rotated.status === 'long-way') return null;
  if (rotated.status === 'other-client') throw invalidGrant('the refresh token was issued to another client');
  if (rotated.status === 'replayed') {
    throw replayed(deps, client, account.jid);
  }
  if (rotated.status !== 'ok') throw invalidGrant(INVALID);
  const { previous } = rotated;
  return issueTokens(deps, { grant: { id: parsed.grantId, jid: previous.jid }, client, scope: previous.scope, refreshToken: next.token, withIdToken: deps.config.id_token_on_refresh });
}

/** A used refresh token came back: the grant is revoked by now; say so and refuse. */
function replayed(deps: CoreDeps, client: Client, jid: string): Error {
  deps.log.warn({ ...clientLog(client), jid }, 'refresh token replayed: grant revoked');
  void recordSecurityEvent(deps, jid, { kind: 'app-revoked', client: client.name, by: 'replay' });
  return invalidGrant(INVALID);
}
