// Issue 22 #7 on ejabberd 23.01 and 24.12 (issue 24 #7), which have no module of ours: disabling or removing
// an account ends its live ejabberd sessions within 5 s, through ejabberd's own
// mod_http_api (kick_user, allowed from loopback only), whatever the session
// logged in with (here: PLAIN through the extauth bridge).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { EJABBERD_VERSIONS, type EjabberdInstance } from '../helpers/ejabberd.js';
import { startEjabberdStack, type EjabberdStack } from '../helpers/ejabberd-stack.js';
import { captureLog } from '../helpers/log-capture.js';
import { waitFor } from '../helpers/wait.js';
import type { RedisInstance } from '../helpers/redis.js';
import type { TestServer } from '../helpers/server.js';
import { chatSession, plainLogin, xml, type ChatSession } from '../helpers/xmpp-client.js';

const PW = { kim: 'kim password 1234', lou: 'lou password 1234', max: 'max password 1234' };

/** Settles with true when the session ends within `ms`, false when it is still open. */
const endsWithin = (s: ChatSession, ms: number) => Promise.race([s.ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

for (const version of EJABBERD_VERSIONS) {
  describe(`ejabberd ${version}: disabling or removing an account ends its live sessions (mod_http_api kick_user)`, { timeout: 120_000 }, () => {
    let redis: RedisInstance;
    let ejabberd: EjabberdInstance;
    let server: TestServer;
    let stack: EjabberdStack | undefined;
    const open: ChatSession[] = [];
    const captured = captureLog('info');
    const target = () => ({ port: ejabberd.c2sPort, domain: 'localhost' });
    const login = async (user: keyof typeof PW) => {
      const s = await chatSession(target(), user, PW[user], `r-${user}`);
      open.push(s);
      return s;
    };
    const cli = (...args: string[]) => runCli(args, { env: { XMPP_OAUTH_REDIS__URL: redis.url, XMPP_OAUTH_XMPP__HOSTS: '["localhost"]' } });

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
  });
}
