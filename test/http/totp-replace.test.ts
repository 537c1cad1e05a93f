// Issue 26, after review: TOTP set-up on /account is for an account without
// TOTP. With TOTP on, set-up (start or confirm) would swap the factor without
// a current code; it is refused (409, a page error, an info log line), and
// the factor stays as it was. Replacing it is removal (behind a code), then set-up.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SecondFactors } from '../../src/accounts/second-factor/second-factors.js';
import { newTotpSecret, totpCode } from '../../src/accounts/second-factor/totp.js';
import { csrfOf, FormBrowser } from '../helpers/browser.js';
import { PASSWORD } from '../helpers/flow.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { startServerOnLocalhost, type TestServer } from '../helpers/server.js';


describe('issue 26: TOTP set-up does not replace a TOTP already on', () => {
  let server: TestServer;
  let base: string;
  let logs: CapturedLog;

  before(async () => {
    logs = captureLog('info');
    ({ server, base } = await startServerOnLocalhost({}, { redis: true, log: logs.log }));
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server?.stop());

  it('issue 26: with TOTP on, /account/totp/start and /confirm answer 409 with a page error, and the factor is unchanged', async () => {
    const b = new FormBrowser();
    const login = await (await b.get(`${base}/account`)).text();
    assert.equal((await b.submit(base, login, { username: 'alice', password: PASSWORD })).status, 303);
    const post = async (path: string, fields: Record<string, string> = {}) => {
      const csrf = csrfOf(await (await b.get(`${base}/account`)).text());
      return b.post(`${base}${path}`, { csrf, ...fields });
    };

    // A set-up begun while TOTP was off: the page holds a key for this browser.
    const start = await post('/account/totp/start');
    assert.equal(start.status, 200);
    const pending = /<p class="code-box totp-secret">([^<]+)<\/p>/.exec(await start.text())![1]!.replace(/\s/g, '');

    // Meanwhile TOTP is turned on (another tab, or the owner on another device).
    const store = server.app.core.store;
    const factors = new SecondFactors(store, { throttle: { per_account: 100, per_address: 100, window: 60 }, issuer: 'test' }, server.app.core.log);
    const own = newTotpSecret();
    assert.ok((await factors.confirmTotp('alice@localhost', own, totpCode(own))).ok);
    const sealed = (await store.secondFactors.get('alice@localhost'))?.totp?.sealedSecret;

    const again = await post('/account/totp/start');
    assert.equal(again.status, 409);
    const html = await again.text();
    assert.match(html, /class="error" role="alert">An authenticator app is set up already\. To move to another one, remove it first/);
    assert.doesNotMatch(html, /totp-secret/, 'no new key shown');
    const confirm = await post('/account/totp/confirm', { code: totpCode(pending) });
    assert.equal(confirm.status, 409);
    assert.equal((await store.secondFactors.get('alice@localhost'))?.totp?.sealedSecret, sealed, 'the factor is the one set up first');
    assert.ok(logs.lines().some((l) => l.level === 30 && /totp set-up refused: totp is on already/.test(String(l.msg))));
  });
});
