// App passwords at real XMPP servers (issue 18): made on the account page,
// then used as the password of a PLAIN login at Prosody 0.12 (through our
// module and the component) and at ejabberd 23.01 and 24.12 (through the extauth
// bridge, a separate process sharing the Redis store); revoked on the page,
// after which the next login is refused.
// (That revocation also ends the live session comes with the `cam` branch.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAppPassword, revokeAppPassword } from '../helpers/app-passwords.js';
import { FormBrowser } from '../helpers/browser.js';
import { EJABBERD_VERSIONS, type EjabberdInstance } from '../helpers/ejabberd.js';
import { startEjabberdStack, type EjabberdStack } from '../helpers/ejabberd-stack.js';
import type { ProsodyInstance } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import type { TestServer } from '../helpers/server.js';
import { plainLogin } from '../helpers/xmpp-client.js';

const PASSWORD = 'alice password 1234';

async function signedIn(base: string, username: string): Promise<FormBrowser> {
  const browser = new FormBrowser();
  const page = await (await browser.get(`${base}/account`)).text();
  assert.equal((await browser.submit(base, page, { username, password: PASSWORD })).status, 303);
  return browser;
}

describe('issue 18: app passwords at Prosody 0.12 (PLAIN through mod_auth_xmpp_oauth)', () => {
  let prosody: ProsodyInstance;
  let server: TestServer;
  let stack: ProsodyStack | undefined;
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  before(async () => {
    stack = await startProsodyStack({ moduleOptions: { xmpp_oauth_timeout: 5 }, accounts: { 'alice@localhost': PASSWORD } });
    ({ prosody, server } = stack);
  });
  after(async () => {
    await stack?.stop();
  });

  it('issue 18 app passwords: created on the page, logs in to Prosody; revoked on the page, the next login is refused', async () => {
    const browser = await signedIn(server.url, 'alice');
    const { password } = await createAppPassword(browser, server.url, 'Dino on laptop');
    assert.equal(await plainLogin(target(), 'alice', password), true, prosody.log().slice(-3000));
    assert.equal(await plainLogin(target(), 'alice', password.replace(/ /g, '')), true, 'typed without the spaces');
    assert.equal(await plainLogin(target(), 'alice', 'abcd efgh ijkl mnop qrst'), false, 'a made-up one');
    await revokeAppPassword(browser, server.url, 'Dino on laptop');
    assert.equal(await plainLogin(target(), 'alice', password), false);
    assert.equal(await plainLogin(target(), 'alice', PASSWORD), true, 'the account password is untouched');
  });
});

for (const version of EJABBERD_VERSIONS) {
  describe(`issue 18: app passwords at ejabberd ${version} (PLAIN through the extauth bridge)`, () => {
    let ejabberd: EjabberdInstance;
    let server: TestServer;
    let stack: EjabberdStack | undefined;
    const target = () => ({ port: ejabberd.c2sPort, domain: 'localhost' });

    before(async () => {
      stack = await startEjabberdStack({ version, accounts: { 'alice@localhost': PASSWORD } });
      ({ ejabberd, server } = stack);
    });
    after(async () => {
      await stack?.stop();
    });

    it('issue 18 app passwords: created on the page, logs in to ejabberd; revoked on the page, the next login is refused', async () => {
      const browser = await signedIn(server.url, 'alice');
      const { password } = await createAppPassword(browser, server.url, 'Conversations on phone');
      assert.equal(await plainLogin(target(), 'alice', password), true, ejabberd.log().slice(-3000));
      await revokeAppPassword(browser, server.url, 'Conversations on phone');
      assert.equal(await plainLogin(target(), 'alice', password), false);
      assert.equal(await plainLogin(target(), 'alice', PASSWORD), true, 'the account password is untouched');
    });
  });
}
