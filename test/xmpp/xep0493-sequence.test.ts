// The whole XEP-0493 sequence the way a new client does it, starting from a
// JID and a password typed into our pages in a real Chromium: empty-token
// discovery over SASL OAUTHBEARER on a real Prosody 0.12, the metadata,
// dynamic registration, code + PKCE, OAUTHBEARER login, refresh, login with
// the new token. The client is the documented example, examples/xep0493-client.mjs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import * as client from '../../examples/xep0493-client.mjs';
import { launchChromium, openPage } from '../helpers/chromium.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import type { ProsodyInstance } from '../helpers/prosody.js';
import type { TestServer } from '../helpers/server.js';

const PASSWORD = 'alice password 1234';

for (const version of PROSODY_VERSIONS) {
  describe(`issue 13: the XEP-0493 sequence end to end on Prosody ${version}`, () => {
    let prosody: ProsodyInstance;
    let server: TestServer;
    let browser: Browser;
    let stack: ProsodyStack | undefined;

    before(async () => {
      stack = await startProsodyStack({
        version,
        server: { registration_key: 'registration-key-for-the-xep0493-test-0123456789' },
        accounts: { 'alice@localhost': PASSWORD },
      });
      ({ prosody, server } = stack);
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await stack?.stop();
    });

    it('discovery, registration, code + PKCE in the browser, OAUTHBEARER login, refresh, login again', async () => {
      const xmpp = { host: '127.0.0.1', port: prosody.c2sPort, domain: 'localhost' };

      const found = await client.discover(xmpp);
      assert.equal(found.openidConfiguration, `${server.url}/.well-known/openid-configuration`);
      assert.equal(found.scope, 'xmpp:client:normal');

      const meta = await client.fetchMetadata(found.openidConfiguration);
      assert.equal(meta.issuer, server.url);
      assert.ok((meta.scopes_supported as string[]).includes('xmpp:client:normal'));
      const scope = `${found.scope} offline_access`;
      const clientId = await client.register(meta, { scope });

      const { url, tokens } = await client.authorize(meta, clientId, { scope, loginHint: 'alice@localhost' });
      const w = await openPage(browser);
      try {
        await w.page.goto(url);
        await w.page.getByLabel('XMPP address').fill('alice@localhost');
        await w.page.getByLabel('Password').fill(PASSWORD);
        await w.page.getByRole('button', { name: 'Sign in' }).click();
        // The consent page names the XMPP scope in plain words.
        await w.page.getByText('xmpp:client:normal').waitFor();
        assert.match(await w.page.content(), /Sign in to your XMPP account as you/);
        await w.page.getByRole('button', { name: 'Allow' }).click();
        await w.page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
        await tokens;
        // The account page lists the new grant with the scope in the same words.
        await w.page.goto(`${server.url}/account`);
        await w.page.getByText('XEP-0493 example client').waitFor();
        assert.match(await w.page.content(), /Sign in to your XMPP account as you/);
      } finally {
        await w.context.close();
      }
      const first = await tokens;
      assert.deepEqual(first.scope.split(' ').sort(), ['offline_access', 'xmpp:client:normal']);
      assert.ok(first.refresh_token);

      const login = await client.oauthbearerLogin(xmpp, first.access_token);
      assert.ok(login.ok, JSON.stringify(login));
      assert.match(login.jid, /^alice@localhost\//);

      const next = await client.refresh(meta, clientId, first.refresh_token);
      assert.notEqual(next.access_token, first.access_token);
      const again = await client.oauthbearerLogin(xmpp, next.access_token, { authzid: 'alice@localhost' });
      assert.ok(again.ok, JSON.stringify(again));
      assert.match(again.jid, /^alice@localhost\//);

      // And the refused case a client must handle: a token without the login scope.
      const refused = await client.oauthbearerLogin(xmpp, 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln');
      assert.equal(refused.ok, false);
      assert.ok(!refused.ok && refused.condition === 'not-authorized' && refused.error?.status === 'invalid_token');
    });
  });
}
