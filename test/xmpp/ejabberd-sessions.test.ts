// Issue 22 #7 on ejabberd 23.01 and 24.12 (issue 24 #7), which have no module of ours: disabling or removing
// an account ends its live ejabberd sessions within 5 s, through ejabberd's own
// mod_http_api (kick_user, allowed from loopback only), whatever the session
// logged in with (here: PLAIN through the extauth bridge).
// Issue 24 #7: so does revoking one grant or app password (on /account, RFC
// 7009) or a password change that signs out the old password's sessions.
// ejabberd cannot tell which login a session used, so every session of the
// account ends; clients with a credential that still works log in again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAppPassword, revokeAppPassword } from '../helpers/app-passwords.js';
import { csrfOf, FormBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { EJABBERD_VERSIONS, type EjabberdInstance } from '../helpers/ejabberd.js';
import { startEjabberdStack, type EjabberdStack } from '../helpers/ejabberd-stack.js';
import { captureLog } from '../helpers/log-capture.js';
import { waitFor } from '../helpers/wait.js';
import type { RedisInstance } from '../helpers/redis.js';
import type { TestServer } from '../helpers/server.js';
import { revoke, tokensFor } from '../helpers/tokens.js';
import { chatSession, plainLogin, xml, type ChatSession } from '../helpers/xmpp-client.js';

const PW = { kim: 'kim password 1234', lou: 'lou password 1234', max: 'max password 1234', nia: 'nia password 1234', ona: 'ona password 1234' };
const KICKED = { condition: 'policy-violation', text: 'has been kicked' };


async function signedIn(base: string, username: keyof typeof PW): Promise<FormBrowser> {
  const browser = new FormBrowser();
  const page = await (await browser.get(`${base}/account`)).text();
  assert.equal((await browser.submit(base, page, { username, password: PW[username] })).status, 303);
  return browser;
}

/** Settles with true when the session ends within `ms`, false when it is still open. */
const endsWithin = (s: ChatSession, ms: number) => Promise.race([s.ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

for (const version of EJABBERD_VERSIONS) {
  describe(`ejabberd ${version}: kick_user (mod_http_api) ends live sessions when an account is disabled or removed, or a grant revoked`, { timeout: 120_000 }, () => {
    let redis: RedisInstance;
    let ejabberd: EjabberdInstance;
    let server: TestServer;
    let stack: EjabberdStack | undefined;
    const open: ChatSession[] = [];
    const captured = captureLog('info');
    const target = () => ({ port: ejabberd.c2sPort, domain: 'localhost' });
    const login = async (user: keyof typeof PW, secret: string = PW[user], resource = `r-${user}`) => {
      const s = await chatSession(target(), user, secret, resource);
      open.push(s);
      return s;
    };
    const cli = (...args: string[]) => runCli(args, { env: { XMPP_OAUTH_REDIS__URL: redis.url, XMPP_OAUTH_XMPP__HOSTS: '["localhost"]' } });
    const cliWithInput = (input: string, ...args: string[]) =>
      runCli(args, { input, env: { XMPP_OAUTH_REDIS__URL: redis.url, XMPP_OAUTH_XMPP__HOSTS: '["localhost"]' } });

    before(async () => {
      stack = await startEjabberdStack({
        version,
        httpApi: true,
        log: captured.log,
        linkTimeoutMs: 15_000,
        accounts: Object.fromEntries(Object.entries(PW).map(([user, pw]) => [`${user}@localhost`, pw])),
      });
      ({ redis, ejabberd, server } = stack);
    });
    after(async () => {
      for (const s of open) await s.stop();
      await stack?.stop();
    });

    it(`review #7 (ejabberd ${version}): \`user disable\` ends the account\u2019s session within 5 s; another account\u2019s stays`, async () => {
      const kim = await login('kim');
      const lou = await login('lou');
      const res = await cli('user', 'disable', 'kim@localhost');
      assert.equal(res.code, 0, res.stderr);
      assert.equal(await endsWithin(kim, 5000), true, 'the disabled account\u2019s session ended');
      assert.equal((await lou.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }))).name, 'iq', 'the other session is open');
      assert.equal(await plainLogin(target(), 'kim', PW.kim), false, 'and it cannot log in again');
      // mod_http_api's answer differs: 23.01 {"num_resources":1}, 24.12 "Kicked sessions: 1"; both read as one session closed.
      const kicked = await waitFor('the kick_user line', () => captured.lines().find((l) => l.msg === 'ejabberd sessions of the account ended (kick_user)'), { timeoutMs: 5_000 });
      assert.equal(kicked.closed, 1, captured.raw.slice(-20).join('\n'));
    });

    it(`review #7 (ejabberd ${version}): \`user remove\` ends the account\u2019s session within 5 s`, async () => {
      const max = await login('max');
      const res = await cli('user', 'remove', 'max@localhost');
      assert.equal(res.code, 0, res.stderr);
      assert.equal(await endsWithin(max, 5000), true);
    });

    it(`issue 24 #7 (ejabberd ${version}): revoking a token's grant on /account ends the account's sessions within 5 s, the password one too (an openid-only grant's none); the token is refused, the password logs in again`, async () => {
      const { access_token } = await tokensFor(server.url, 'nia@localhost', PW.nia);
      const gid = (await server.app.core.signer.verifyAccessToken(access_token))?.gid;
      assert.ok(gid);
      const byToken = await login('nia', access_token, 'phone');
      const byPassword = await login('nia', PW.nia, 'laptop');
      const lou = await login('lou', PW.lou, 'r-lou-2');
      // A grant that could never log in to ejabberd (a web app's sign-in) ends no session when revoked.
      // (lou's: one client's consents of one account are one grant, so nia's would be her chat grant.)
      const webApp = await tokensFor(server.url, 'lou@localhost', PW.lou, 'openid offline_access');
      await revoke(server.url, webApp.refresh_token);
      assert.equal(await endsWithin(lou, 1500), false, 'revoking an openid-only grant kicks nobody');
      const browser = await signedIn(server.url, 'nia');
      const page = await (await browser.get(`${server.url}/account`)).text();
      const res = await browser.post(`${server.url}/account/revoke`, { csrf: csrfOf(page), grant: gid });
      assert.equal(res.headers.get('location'), '/account?notice=account.notice.revoked');
      const within = (s: ChatSession) => Promise.race([s.ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
      assert.deepEqual(await within(byToken), KICKED, 'the token session was kicked');
      assert.deepEqual(await within(byPassword), KICKED, 'ejabberd cannot tell sessions apart: the password one ends too');
      assert.equal((await lou.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }))).name, 'iq', 'another account\u2019s session is open');
      assert.equal(await plainLogin(target(), 'nia', access_token), false, 'the revoked token is refused');
      assert.equal(await plainLogin(target(), 'nia', PW.nia), true, 'the password client logs in again');
    });

    it(`issue 24 #7 (ejabberd ${version}): an RFC 7009 revocation, an app password revoked on /account and \`user passwd --end-sessions\` each end the live session within 5 s`, async () => {
      const { access_token, refresh_token } = await tokensFor(server.url, 'ona@localhost', PW.ona);
      const byToken = await login('ona', access_token, 'token');
      await revoke(server.url, refresh_token);
      assert.equal(await endsWithin(byToken, 5000), true, 'RFC 7009');

      const browser = await signedIn(server.url, 'ona');
      const { password } = await createAppPassword(browser, server.url, 'Gajim');
      const byApp = await login('ona', password, 'app');
      await revokeAppPassword(browser, server.url, 'Gajim');
      assert.equal(await endsWithin(byApp, 5000), true, 'app password');
      assert.equal(await plainLogin(target(), 'ona', password), false);

      const byPassword = await login('ona', PW.ona, 'password');
      const res = await cliWithInput('ona new password 5678\n', 'user', 'passwd', 'ona@localhost', '--end-sessions', '--password-stdin');
      assert.equal(res.code, 0, res.stderr);
      assert.equal(await endsWithin(byPassword, 5000), true, 'password change');
    });
  });
}
