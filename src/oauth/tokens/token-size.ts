// An access token doubles as an XMPP password (SASL PLAIN). Prosody refuses
// auth queries over 1000 bytes and SASLprep gives up near 1023, so the largest
// token we can issue must stay below this budget.
import { MAX_NEW_USER_BYTES } from '../../accounts/accounts.js';
import type { Config } from '../../config/schema.js';
import { largestGrantScopes } from '../scopes.js';
import { newGrantId, TOKEN_CLIENT_ID_MAX, type TokenSigner } from './tokens.js';

export const XMPP_PASSWORD_BUDGET = 900;

/**
 * Signs (and throws away) the largest access token this configuration can
 * produce: longest user name on the longest host, the largest scope sets one
 * grant can hold (grantScope), a client id of the length past which ids are replaced by a shorter digest.
 */
export async function largestAccessTokenBytes(signer: TokenSigner, config: Pick<Config, 'xmpp'>): Promise<number> {
  const host = [...config.xmpp.hosts].sort((a, b) => Buffer.byteLength(b) - Buffer.byteLength(a))[0] ?? 'localhost';
  let largest = 0;
  for (const scope of largestGrantScopes()) {
    const { token } = await signer.accessToken({
      jid: `${'u'.repeat(MAX_NEW_USER_BYTES)}@${host}`,
      clientId: 'c'.repeat(TOKEN_CLIENT_ID_MAX),
      scope,
      grantId: newGrantId(),
    });
    largest = Math.max(largest, Buffer.byteLength(token));
  }
  return largest;
}
