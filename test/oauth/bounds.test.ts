// Issue 12 #11: endpoints anyone may call are throttled per address, and the
// structures a client or a user can grow are bounded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, tokenCall } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';
import { MAX_GRANTS_PER_ACCOUNT } from '../../src/oauth/grants/grants.js';

describe('issue 12 #11: per-address limits and bounded structures', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      registration_key: 'registration-key-for-tests-0123456789abcdef',
      address_throttle: { registrations: 3, device_authorizations: 4, window: 600 },
      allowed_grant_types: ['authorization_code', 'refresh_token', 'device_code', 'password'],
      clients: [
        { id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: ['https://app.example/cb'], grant_types: ['authorization_code', 'refresh_token', 'password'] },
        { id: 'tv', name: 'Test TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
      ],
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  it('issue 12 #11: dynamic registration is limited per caller address', async () => {
    const register = () =>
      fetch(`${server.url}/oauth2/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'Spam', redirect_uris: ['https://spam.example/cb'], client_uri: 'https://spam.example/' }),
      });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await register()).status);
    assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
    const refused = await register();
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal(((await refused.json()) as { error: string }).error, 'temporarily_unavailable');
  });

  it('issue 12 #11: device authorization is limited per caller address, before anything is stored', async () => {
    const start = () =>
      fetch(`${server.url}/oauth2/device`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: 'tv', scope: 'openid' }) });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await start()).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  });

  it('issue 12 #11: an account holds at most MAX_GRANTS_PER_ACCOUNT grants; widening an existing one still works', async () => {
    const now = Date.now();
    for (let i = 0; i < MAX_GRANTS_PER_ACCOUNT - 1; i++) {
      await server.app.store.saveGrant({ id: `filler${i}`.padEnd(16, 'x'), jid: 'alice@localhost', clientId: `client-${i}`, scope: ['openid'], createdAt: now, lastUsedAt: now });
    }
    const last = await tokenCall(server.url, { grant_type: 'password', username: 'alice', password: PASSWORD, scope: 'openid' });
    assert.equal(last.status, 200, 'the 200th grant');
    const again = await tokenCall(server.url, { grant_type: 'password', username: 'alice', password: PASSWORD, scope: 'openid xmpp' });
    assert.equal(again.status, 200, 'the same client widens its grant');
    await server.app.store.revokeGrant((await server.app.store.findGrant('alice@localhost', 'webapp'))!.id);
    await server.app.store.saveGrant({ id: 'one-too-many-xx', jid: 'alice@localhost', clientId: 'other', scope: ['openid'], createdAt: now, lastUsedAt: now });
    const refused = await tokenCall(server.url, { grant_type: 'password', username: 'alice', password: PASSWORD, scope: 'openid' });
    assert.equal(refused.status, 400);
    assert.match(String(refused.body.error_description), /authorized 200 applications/);
  });
});
