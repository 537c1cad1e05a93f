// Prosody 13's mod_auth_oauth_external with its own defaults (scope "openid",
// username field "preferred_username"): each SASL PLAIN login is a password
// grant with the client credentials in the form body, then a userinfo call.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORD } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

describe('issue 15: Prosody 13 mod_auth_oauth_external on its defaults', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({
      allowed_grant_types: ['authorization_code', 'refresh_token', 'device_code', 'password'],
      clients: [{ id: 'prosody', name: 'Prosody (localhost)', secret_hash: secretHash(CLIENT_SECRET), grant_types: ['password'], scope: 'openid profile' }],
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  /** What the module does for one PLAIN login. */
  async function login(username: string, scope: string) {
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD, client_id: 'prosody', client_secret: CLIENT_SECRET, scope }),
    });
    const token = (await res.json()) as { access_token: string; scope: string };
    assert.equal(res.status, 200, JSON.stringify(token));
    const info = await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${token.access_token}` } });
    assert.equal(info.status, 200);
    return { scope: token.scope, info: (await info.json()) as Record<string, unknown> };
  }

  it('issue 15 #5: userinfo returns preferred_username (the localpart) for an openid-only token from the password grant', async () => {
    const { scope, info } = await login('alice', 'openid');
    assert.equal(scope, 'openid');
    assert.equal(info.sub, 'xmpp:alice@localhost');
    assert.equal(info.preferred_username, 'alice');
  });

  it('issue 15 #5: the same with oauth_external_sasl_username_mapping = "join" (user@host)', async () => {
    const { info } = await login('alice@localhost', 'openid');
    assert.equal(info.preferred_username, 'alice');
  });

  it('issue 15 #5: a token with neither openid nor profile gets no preferred_username', async () => {
    await server.stop();
    server = await startServer({
      allowed_grant_types: ['authorization_code', 'refresh_token', 'password'],
      clients: [{ id: 'prosody', name: 'Prosody (localhost)', secret_hash: secretHash(CLIENT_SECRET), grant_types: ['password'], scope: 'xmpp' }],
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
    const { scope, info } = await login('alice', 'xmpp');
    assert.equal(scope, 'xmpp');
    assert.equal(info.preferred_username, undefined);
    assert.equal(info.jid, 'alice@localhost');
  });
});
