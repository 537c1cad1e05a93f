import type { AuthorizationCode } from '../../../store/types.js';
import type { Client } from '../../clients/clients.js';
import type { CoreDeps } from '../../context.js';
import { invalidGrant, invalidRequest } from '../../errors.js';
import { issueTokens, type TokenResponse } from '../../tokens/issue.js';
import { verifierMatches } from '../pkce.js';
import { parseAuthorizationCode } from '../../tokens/tokens.js';
import { revokeGrant } from '../grant-management.js';
import { recordSecurityEvent } from '../../account-life/security-events.js';
import { clientLog } from '../../clients/client-log.js';

const INVALID = 'the authorization code is invalid, expired or already used';

/** RFC 6749 4.1.3 + RFC 7636 4.5: redeem a single-use code. */
export async function authorizationCodeGrant(
  deps: CoreDeps,
  client: Client,
  params: Record<string, string>,
): Promise<TokenResponse> {
  const { code, redirect_uri: redirectUri, code_verifier: verifier } = params;
  if (!code) throw invalidRequest('code is required');
  const parsed = parseAuthorizationCode(code);
  if (!parsed) throw invalidGrant(INVALID);

  // Check the request against the code before using it up: someone who saw the
  // code but holds no verifier must not be able to burn it, which would make the
  // rightful redemption look like a replay and revoke the user's grant.
  const peeked = await deps.store.peekCode(parsed.grantId, parsed.digest);
  if (!peeked) throw invalidGrant(INVALID);
  checkRedemption(peeked.code, client, redirectUri, verifier);

  const result = await deps.store.consumeCode(parsed.grantId, parsed.digest);
  if (result.status === 'missing') throw invalidGrant(INVALID);
  if (result.status === 'revoked') throw invalidGrant('the grant behind this code has been revoked');
  if (result.status === 'replayed') {
    // RFC 6749 4.1.2: a code used twice, by a caller able to pass every check,
    // may have been stolen with its verifier; kill everything issued from it.
    await revokeGrant(deps, result.code.grantId);
    deps.log.warn({ ...clientLog(client), jid: result.code.jid }, 'authorization code replayed: grant revoked');
    void recordSecurityEvent(deps, result.code.jid, { kind: 'app-revoked', client: client.name, by: 'replay' });
    throw invalidGrant(INVALID);
  }
  const stored = result.code;

  // The grant existed when the code was consumed (same atomic step). It is not
  // read again: a concurrent replay may revoke it now, and then these tokens die
  // with it, which is the replay rule; but this request was the one that won.
  void deps.store.touchGrant(stored.grantId, Date.now()).catch(() => {});
  return issueTokens(deps, {
    grant: { id: stored.grantId, jid: stored.jid },
    client,
    scope: stored.scope,
    nonce: stored.nonce,
    authTime: stored.authTime,
    amr: stored.amr,
    mayIssueRefresh: true,
    withIdToken: true,
  });
}

/** Client, redirect URI and PKCE (RFC 6749 4.1.3, RFC 7636 4.6, RFC 9700 2.1.1). */
function checkRedemption(stored: AuthorizationCode, client: Client, redirectUri: string | undefined, verifier: string | undefined): void {
  if (stored.clientId !== client.id) throw invalidGrant('the authorization code was issued to another client');
  // RFC 6749 4.1.3: required, and identical, when the authorization request carried it.
  if (redirectUri === undefined || redirectUri === '') {
    if (stored.redirectUriSent) throw invalidRequest('redirect_uri is required: the authorization request carried one');
  } else if (redirectUri !== stored.redirectUri) {
    throw invalidGrant('redirect_uri does not match the authorization request');
  }
  if (stored.codeChallenge) {
    if (!verifier) throw invalidGrant('code_verifier is required (PKCE)');
    if (!verifierMatches(stored.codeChallengeMethod ?? 'plain', stored.codeChallenge, verifier)) {
      throw invalidGrant('code_verifier does not match the code_challenge');
    }
  } else if (verifier) {
    // A verifier without a challenge means a PKCE downgrade attempt.
    throw invalidGrant('code_verifier given, but the authorization request had no code_challenge');
  }
}
