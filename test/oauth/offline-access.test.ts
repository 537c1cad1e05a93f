// Issue 12 #19: a refresh token is what "keep access while you are away"
// (offline_access) means, so it is issued with that scope and only then.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, tokenCall } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';

describe('issue 12 #19: refresh tokens need offline_access', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      allowed_grant_types: ['authorization_code', 'refresh_token', 'password'],
      clients: [
        {
          id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: ['https://app.example/cb'],
          grant_types: ['authorization_code', 'refresh_token', 'password'],
        },
      ],
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  it('issue 12 #19: the code flow gives a refresh token for offline_access only, not for xmpp alone', async () => {
    const without = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid xmpp');
    assert.equal(without.refresh_token, undefined);
    assert.equal(without.scope, 'openid xmpp');
    const withOffline = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid offline_access xmpp');
    assert.ok(withOffline.refresh_token);
    const refreshed = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: withOffline.refresh_token });
    assert.equal(refreshed.status, 200);
    assert.ok(refreshed.body.refresh_token, 'rotation keeps offline access');
  });

  it('issue 12 #19: the password grant (Prosody 13 mod_auth_oauth_external) gets no refresh token without offline_access', async () => {
    const res = await tokenCall(server.url, { grant_type: 'password', username: 'alice', password: PASSWORD, scope: 'openid profile xmpp' });
    assert.equal(res.status, 200);
    assert.equal(res.body.refresh_token, undefined);
    const info = await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${res.body.access_token as string}` } });
    assert.equal(((await info.json()) as { preferred_username: string }).preferred_username, 'alice', 'what the module needs still works');
  });
});
