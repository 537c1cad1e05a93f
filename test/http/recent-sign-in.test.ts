// Issue 26 (found while building it): a browser session that signed in long
// ago may look, but not plant a lasting way in: setting up TOTP or a passkey,
// removing a passkey, letting the password work everywhere again, or making an
// app password needs a recent sign-in (`recent_sign_in`); "Sign in again"
// brings the page back with a fresh one.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { csrfOf, FormBrowser } from '../helpers/browser.js';
import { PASSWORD } from '../helpers/flow.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { startServerOnLocalhost, type TestServer } from '../helpers/server.js';

const WITHIN = 1;

describe('issue 26: lasting account changes need a recent sign-in', () => {
  let server: TestServer;
  let base: string;
  let logs: CapturedLog;

  before(async () => {
    logs = captureLog('info');
    // A domain-name issuer, so passkeys are on; mfa optional (the default), so TOTP is offered.
    ({ server, base } = await startServerOnLocalhost({ recent_sign_in: WITHIN }, { redis: true, log: logs.log }));
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server?.stop());

  async function signIn(b: FormBrowser): Promise<void> {
    const page = await (await b.get(`${base}/account`)).text();
    assert.equal((await b.submit(base, page, { username: 'alice', password: PASSWORD })).status, 303);
  }
  const post = async (b: FormBrowser, path: string, fields: Record<string, string> = {}) => {
    const csrf = csrfOf(await (await b.get(`${base}/account`)).text());
    return b.post(`${base}${path}`, { csrf, ...fields });
  };
  const postJson = async (b: FormBrowser, path: string) => {
    const csrf = csrfOf(await (await b.get(`${base}/account`)).text());
    return b.request(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csrf }) });
  };

  it('issue 26: a fresh sign-in makes an app password, starts TOTP and passkey set-up; an old one is refused each time, with a way to sign in again', async () => {
    const b = new FormBrowser();
    await signIn(b);
    assert.equal((await post(b, '/account/app-passwords', { label: 'Dino' })).status, 200, 'fresh: an app password');
    assert.equal((await post(b, '/account/totp/start')).status, 200, 'fresh: the TOTP set-up page');
    assert.equal((await postJson(b, '/passkeys/register/options')).status, 200, 'fresh: a passkey ceremony');

    await sleep((WITHIN + 1.2) * 1000);
    const before = (await server.app.core.store.listGrants('alice@localhost')).length;
    const app = await post(b, '/account/app-passwords', { label: 'Gajim' });
    assert.equal(app.status, 403);
    const html = await app.text();
    assert.match(html, /your sign-in must be recent/);
    assert.match(html, /action="\/account\/sign-in-again"/);
    assert.doesNotMatch(html, /class="code-box app-password"/, 'no secret shown');
    assert.equal((await server.app.core.store.listGrants('alice@localhost')).length, before, 'nothing was made');
    assert.equal((await post(b, '/account/totp/start')).status, 403);
    assert.equal((await post(b, '/account/totp/confirm', { code: '123456' })).status, 403);
    assert.equal((await post(b, '/account/password-logins', { password_logins: 'anywhere' })).status, 403);
    const passkey = await postJson(b, '/passkeys/register/options');
    assert.equal(passkey.status, 403);
    assert.equal(((await passkey.json()) as { error: string }).error, 'reauth_required');
    const removal = await post(b, '/account/passkeys/remove', { id: 'any' });
    assert.equal(removal.headers.get('location'), '/account?notice=account.notice.reauth_needed');
    // Looking is still fine.
    assert.equal((await b.get(`${base}/account`)).status, 200);
    assert.ok(logs.lines().some((l) => l.msg === 'account change refused: the sign-in is not recent enough' && l.level === 30));

    // "Sign in again": signed out, the login page says why; signed in, the change goes through.
    const again = await post(b, '/account/sign-in-again');
    assert.equal(again.headers.get('location'), '/account?notice=account.notice.sign_in_again');
    const login = await (await b.get(`${base}/account?notice=account.notice.sign_in_again`)).text();
    assert.match(login, /Sign in again to change your security settings/);
    assert.equal((await b.submit(base, login, { username: 'alice', password: PASSWORD })).status, 303);
    assert.equal((await post(b, '/account/app-passwords', { label: 'Gajim' })).status, 200);
  });
});
