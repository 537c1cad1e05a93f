import type { Client } from '../../clients/clients.js';
import type { CoreDeps } from '../../context.js';
import { OAuthError, invalidGrant, invalidRequest, invalidScope } from '../../errors.js';
import { TooManyGrantsError, recordConsent } from '../grants.js';
import { issueTokens, type TokenResponse } from '../../tokens/issue.js';
import { grantScope } from '../../scopes.js';
import { nowSeconds } from '../../tokens/tokens.js';
import { usernameToJid } from '../../account-life/username.js';

/** RFC 6749 4.3, off unless `password` is in allowed_grant_types (RFC 9700 2.4 says don't). */
export async function passwordGrant(
  deps: CoreDeps,
  client: Client,
  params: Record<string, string>,
  address?: string,
): Promise<TokenResponse> {
  const { username, password } = params;
  if (!username || password === undefined) throw invalidRequest('username and password are required');
  const scope = grantScope(params.scope ?? client.scope.join(' '), client.scope);
  if (scope.length === 0) throw invalidScope('none of the requested scopes is available to this client');

  const jid = usernameToJid(username, deps.config);
  if (!jid) throw invalidGrant(deps.config.expect_username_jid ? 'username must be a full JID (user@domain)' : 'unknown username');
  // A login proxy's address is everyone's: counting it would let 32 wrong guesses lock out every user behind it.
  // No second factor can be asked here: app_passwords_only accounts refuse the main password (issue 26).
  const result = await deps.accounts.verify(jid, password, client.loginProxy ? undefined : address, { outsideWeb: true });
  if (!result.ok) {
    if (result.reason === 'throttled') {
      throw new OAuthError('invalid_grant', `too many failed attempts; try again in ${Math.ceil(result.retryAfterMs / 1000)} seconds`);
    }
    throw invalidGrant('wrong username or password');
  }
  const grant = await recordConsent(deps.store, result.jid, client, scope).catch((err: unknown) => {
    throw err instanceof TooManyGrantsError ? invalidGrant(err.message) : err;
  });
  return issueTokens(deps, { grant, client, scope, authTime: nowSeconds(), amr: ['pwd'], mayIssueRefresh: true, withIdToken: false });
}
