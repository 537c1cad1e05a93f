// Tokens for a user the honest way: authorization code + PKCE through our own
// login and consent pages, then the token endpoint.
import assert from 'node:assert/strict';
import { FormBrowser } from './browser.js';
import { authorizeInBrowser, authUrl, pkcePair, tokenCall } from './flow.js';

export interface IssuedTokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

export async function tokensFor(
  base: string,
  username: string,
  password: string,
  scope = 'openid xmpp offline_access',
): Promise<IssuedTokens> {
  const { verifier, challenge } = pkcePair();
  const url = authUrl(base, {
    response_type: 'code',
    client_id: 'webapp',
    redirect_uri: 'https://app.example/cb',
    scope,
    state: 'st',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const callback = await authorizeInBrowser(new FormBrowser(), url, { username, password });
  const code = callback.searchParams.get('code');
  assert.ok(code, `no code in ${callback}`);
  const res = await tokenCall(base, { grant_type: 'authorization_code', code, redirect_uri: 'https://app.example/cb', code_verifier: verifier });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as unknown as IssuedTokens;
}

/** RFC 7009 revocation of a refresh token as the test client: ends the whole grant. */
export async function revoke(base: string, token: string): Promise<void> {
  const { CLIENT_SECRET } = await import('./server.js');
  const res = await fetch(new URL('/oauth2/revoke', base), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`webapp:${CLIENT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token, token_type_hint: 'refresh_token' }),
  });
  assert.equal(res.status, 200);
}

/**
 * The JWT with one signature character changed in the middle, where every
 * base64url character carries six data bits: always a different, invalid
 * signature (changing the last characters to a fixed value is sometimes no
 * change at all, or only a change of padding bits).
 */
export function tamperSignature(jwt: string): string {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const i = Math.floor(s.length / 2);
  return `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
}
