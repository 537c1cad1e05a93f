// Issue 22 #7, last sentence: closing the chat sessions that logged in with the
// old password is an option of a password change, on /account (ticked by
// default) and on the command line; token and app-password sessions stay.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { FormBrowser } from '../helpers/browser.js';
import { closedWithin, resource } from '../helpers/cam.js';
import { runCli } from '../helpers/cli.js';
import { authorizeInBrowser, pkcePair } from '../helpers/flow.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { chatSession, xml, type ChatSession } from '../helpers/xmpp-client.js';

const ping = (s: ChatSession) => s.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
const CLOSED = { condition: 'policy-violation', text: 'access revoked' };
const PW1 = 'ivy password one 111';
const PW2 = 'ivy password two 222';
const PW3 = 'ivy password three 333';

for (const version of PROSODY_VERSIONS) {
  describe(`Prosody ${version}: a password change can close the chat sessions of the old password`, { timeout: 120_000 }, () => {
    let stack: ProsodyStack;
    const open: ChatSession[] = [];
    const login = async (secret: string) => {
      const s = await chatSession(stack.target, 'ivy', secret, resource());
      open.push(s);
      return s;
    };

    before(async () => {
      stack = await startProsodyStack({ version, accounts: { 'ivy@localhost': PW1 } });
    });
    after(async () => {
      for (const s of open) await s.stop();
      await stack?.stop();
    });

    it('on /account (the box ticked): the old password\u2019s session closes within 5 s; an app-password session stays; unticked, nothing closes', async () => {
      const { password: appPassword } = await createAppPassword({ store: stack.server.app.store, log: silentLogger }, 'ivy@localhost', { label: 'Phone' });
      const viaPassword = await login(PW1);
      const viaApp = await login(appPassword);

      const browser = new FormBrowser();
      await authorizeInBrowser(browser, `${stack.server.url}/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'webapp', redirect_uri: 'https://app.example/cb', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', state: 's' })}`, { username: 'ivy@localhost', password: PW1 });
      const page = await (await browser.get(`${stack.server.url}/account`)).text();
      assert.match(page, /<input type="checkbox" name="end_sessions" checked>/, 'offered, ticked by default');
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
      const res = await browser.post(`${stack.server.url}/account/password`, { csrf, current: PW1, password: PW2, confirm: PW2, end_sessions: 'on' });
      assert.equal(res.status, 303, await res.text());

      assert.deepEqual(await closedWithin(viaPassword, 5000), CLOSED);
      assert.equal((await ping(viaApp)).name, 'iq', 'the app-password session stays');

      // Unticked: the new password's session stays through the next change.
      const viaPassword2 = await login(PW2);
      const csrf2 = /name="csrf" value="([^"]+)"/.exec(await (await browser.get(`${stack.server.url}/account`)).text())![1]!;
      const res2 = await browser.post(`${stack.server.url}/account/password`, { csrf: csrf2, current: PW2, password: PW3, confirm: PW3 });
      assert.equal(res2.status, 303);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await ping(viaPassword2)).name, 'iq', 'no box, no closing');
    });

    it('on the command line: `user passwd --end-sessions` closes them too', async () => {
      const session = await login(PW3);
      const res = await runCli(['user', 'passwd', 'ivy@localhost', '--password-stdin', '--end-sessions'], { input: PW1, env: { XMPP_OAUTH_REDIS__URL: stack.server.redisUrl! } });
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(await closedWithin(session, 5000), CLOSED);
    });
  });
}
