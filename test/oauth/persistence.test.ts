import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, authUrl, authorizeInBrowser, pkcePair, tokenCall } from '../helpers/flow.js';
import { startRedis } from '../helpers/redis.js';
import { CLIENT_SECRET, startServer } from '../helpers/server.js';

describe('persistence across restarts of Redis and of the service', () => {
  it('keeps accounts, grants, refresh tokens and keys: a refresh chain continues', async () => {
    const redis = await startRedis({ persist: true });
    try {
      let server = await startServer({}, { redis: redis.url });
      await server.app.accounts.create('alice@localhost', PASSWORD);
      const { verifier, challenge } = pkcePair();
      const cb = await authorizeInBrowser(new FormBrowser(), authUrl(server.url, {
        response_type: 'code', client_id: 'webapp', redirect_uri: 'https://app.example/cb', scope: 'openid offline_access xmpp',
        code_challenge: challenge, code_challenge_method: 'S256',
      }));
      const first = await tokenCall(server.url, { grant_type: 'authorization_code', code: cb.searchParams.get('code')!, code_verifier: verifier, redirect_uri: 'https://app.example/cb' });
      const second = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
      assert.equal(second.status, 200);
      const kid = server.app.keys.current().kid;
      await server.stop();

      await redis.restart();
      // Same public address as before: the issuer is part of every token.
      const port = Number(new URL(server.url).port);
      server = await startServer({ issuer: server.url, http: { host: '127.0.0.1', port } }, { redis: redis.url });
      try {
        assert.equal(server.app.keys.current().kid, kid, 'same signing key after the restart');
        const intro = await fetch(`${server.url}/oauth2/introspect`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`webapp:${CLIENT_SECRET}`).toString('base64')}` },
          body: new URLSearchParams({ token: second.body.access_token as string }),
        });
        assert.equal(((await intro.json()) as { active: boolean }).active, true, 'an access token from before is still valid');
        const third = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token as string });
        assert.equal(third.status, 200, 'the refresh chain continues');
        const replay = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
        assert.equal(replay.body.error, 'invalid_grant', 'and the rotation history survived too');
        assert.equal((await server.app.accounts.verify('alice@localhost', PASSWORD)).ok, true);
      } finally {
        await server.stop();
      }
    } finally {
      await redis.stop();
    }
  });
});
