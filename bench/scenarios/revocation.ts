// RFC 7009 revocation of an access token, the same one on every request: the
// first request ends its grant, every later one finds it ended and answers
// the same silent 200 (client auth, token check, the store's answer). Each
// server gets a token on a grant of its own, so the other scenarios' grants
// are untouched.
import { FORM, http, type Row, type Target } from '../lib.js';

export async function revocationScenario(target: Target, accessToken: string): Promise<Row> {
  return http(target, 'revocation (RFC 7009, access token; grant ended by the first)', {
    method: 'POST',
    path: target.revokePath,
    headers: FORM,
    body: new URLSearchParams({ token: accessToken, token_type_hint: 'access_token' }).toString(),
  });
}
