// Issue 25 (back channel): a refresh may leave the ID token out (OpenID
// Connect Core 12.2), saving one signature per refresh; rotation and replay
// detection are unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { validate } from '../../src/config/load.js';
import { PASSWORD, tokenCall } from '../helpers/flow.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';

describe('issue 25: id_token_on_refresh', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ id_token_on_refresh: false });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  it('issue 25: is on unless configured off', () => {
    const config = validate({ issuer: 'https://auth.example', xmpp: { enabled: false, hosts: ['example.org'] } });
    assert.equal(config.id_token_on_refresh, true);
  });

  it('issue 25: off, the code still gets an ID token, a refresh does not, and a replayed refresh token still ends the grant', async () => {
    const issued = (await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid offline_access xmpp')) as Awaited<ReturnType<typeof tokensFor>> & { id_token?: string };
    assert.ok(issued.id_token, 'the code exchange answers an ID token as before');
    const refreshed = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: issued.refresh_token });
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.body.id_token, undefined);
    assert.ok(refreshed.body.access_token);
    assert.equal(refreshed.body.scope, 'openid offline_access xmpp');
    const next = refreshed.body.refresh_token as string;
    assert.ok(next && next !== issued.refresh_token, 'rotated');

    const replay = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: issued.refresh_token });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    const afterReplay = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: next });
    assert.equal(afterReplay.status, 400, 'the replay revoked the grant, its newest token included');
  });
});
