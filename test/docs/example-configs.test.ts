// The example configurations in contrib/ as an operator starts them: a chat
// client that registers itself (XEP-0493, examples/xep0493-client.mjs) can,
// because the examples open dynamic registration.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { serveProcess, type ServeProcess } from '../helpers/cli.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';

const EXAMPLES = ['contrib/prosody/xmpp-oauth.example.yml', 'contrib/ejabberd/xmpp-oauth.example.yml'];

describe('review #12: the example configurations let the example client register', () => {
  let redis: RedisInstance;
  const servers: ServeProcess[] = [];

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await redis?.stop();
  });

  for (const example of EXAMPLES) {
    it(`review #12: ${example} answers /oauth2/register with a client`, async () => {
      const file = fileURLToPath(new URL(`../../${example}`, import.meta.url));
      // Only what moves it onto this test's Redis and off any XMPP server on the machine.
      const server = await serveProcess({ XMPP_OAUTH_REDIS__URL: redis.url, XMPP_OAUTH_XMPP__ENABLED: 'false' }, ['--config', file]);
      servers.push(server);
      // What examples/xep0493-client.mjs registers.
      const res = await fetch(`${server.base}/oauth2/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: 'XEP-0493 example client',
          client_uri: 'https://example.org/xep0493-example',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: ['http://127.0.0.1/callback'],
          scope: 'xmpp:client:normal offline_access',
        }),
      });
      const body = (await res.json()) as { client_id?: string; error_description?: string };
      assert.equal(res.status, 201, JSON.stringify(body));
      assert.ok(body.client_id);
    });
  }
});
