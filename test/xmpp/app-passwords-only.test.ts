// Issue 26 #3: password_logins: app_passwords_only. Chat clients cannot be
// asked for a second factor, so such an account's main password is refused at
// Prosody (PLAIN and SCRAM, pinned in a real client library), by the password
// grant and by the login check every door shares, exactly as a wrong password
// is; app passwords and tokens still log in, and the web sign-in still takes it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { createAppPassword } from '../helpers/app-passwords.js';
import { authorizeInBrowser, authUrl, pkcePair, tokenCall } from '../helpers/flow.js';
import { pinnedLogin, type Mechanism } from '../helpers/pinned-login.js';
import { CLIENT_SECRET, secretHash } from '../helpers/server.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { tokensFor } from '../helpers/tokens.js';

const PASSWORD = 'alice main password 1234';
const MECHANISMS: Mechanism[] = ['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'];

describe('issue 26: app_passwords_only on Prosody 13 (PLAIN, SCRAM) and at the password grant', { timeout: 120_000 }, () => {
  let stack: ProsodyStack;
  let base: string;
  const web = new FormBrowser();

  before(async () => {
    stack = await startProsodyStack({
      version: '13',
      prosody: { extraConfig: 'xmpp_oauth_scram = { "SCRAM-SHA-1", "SCRAM-SHA-256" }' },
      server: {
        login_throttle: { per_account: 100, per_address: 1000, window: 60 },
        allowed_grant_types: ['authorization_code', 'refresh_token', 'password'],
        clients: [
          {
            id: 'webapp',
            name: 'Test Web App',
            secret_hash: secretHash(CLIENT_SECRET),
            redirect_uris: ['https://app.example/cb'],
            grant_types: ['authorization_code', 'refresh_token', 'password'],
          },
        ],
      },
      accounts: { 'alice@localhost': PASSWORD },
    });
    base = stack.server.url;
  });
  after(async () => {
    await stack?.stop();
  });

  const passwordGrant = (password: string) => tokenCall(base, { grant_type: 'password', username: 'alice@localhost', password, scope: 'openid' });
  const login = (secret: string, m: Mechanism) => pinnedLogin(stack.target, 'alice', secret, m);

  it('issue 26: the main password logs in everywhere until the account says app passwords only; then only on the web page, failing elsewhere as a wrong one does', async () => {
    // Before: every door takes it (so the refusals below are the setting's doing).
    for (const m of MECHANISMS) assert.equal((await login(PASSWORD, m)).ok, true, `${m} before`);
    assert.equal((await passwordGrant(PASSWORD)).status, 200);
    const wrong = await Promise.all(MECHANISMS.map((m) => login(`${PASSWORD}!`, m)));
    const wrongGrant = await passwordGrant(`${PASSWORD}!`);

    // The user signs in on the web and chooses "this page only" on /account.
    const callback = await authorizeInBrowser(web, authUrl(base, { response_type: 'code', client_id: 'webapp', redirect_uri: 'https://app.example/cb', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', state: 's' }), { username: 'alice@localhost', password: PASSWORD });
    assert.ok(callback.searchParams.get('code'));
    const page = await (await web.get(`${base}/account`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const set = await web.post(`${base}/account/password-logins`, { csrf, password_logins: 'app_passwords_only' });
    assert.equal(set.headers.get('location'), '/account?notice=account.notice.password_logins');
    assert.match(await (await web.get(`${base}/account`)).text(), /value="app_passwords_only" checked/);

    // After: PLAIN and both SCRAMs fail with what a wrong password gets; so does the password grant.
    for (const [i, m] of MECHANISMS.entries()) {
      const refused = await login(PASSWORD, m);
      assert.equal(refused.ok, false, `${m} refused`);
      assert.deepEqual(refused, wrong[i], `${m}: the same failure as a wrong password`);
    }
    const grant = await passwordGrant(PASSWORD);
    assert.equal(grant.status, 400);
    assert.deepEqual(grant.body, wrongGrant.body, 'the password grant answers as for a wrong password');

    // An app password and a token still log in; the web sign-in still takes the main password.
    const { password: appPassword } = await createAppPassword(web, base, 'Phone');
    assert.equal((await login(appPassword, 'PLAIN')).ok, true, 'app password');
    const { access_token } = await tokensFor(base, 'alice@localhost', PASSWORD, 'openid xmpp');
    assert.equal((await login(access_token, 'PLAIN')).ok, true, 'token');

    // Back to "anywhere": the main password logs in over SCRAM again.
    const csrf2 = /name="csrf" value="([^"]+)"/.exec(await (await web.get(`${base}/account`)).text())![1]!;
    await web.post(`${base}/account/password-logins`, { csrf: csrf2, password_logins: 'anywhere' });
    assert.equal((await login(PASSWORD, 'SCRAM-SHA-256')).ok, true, 'SCRAM-SHA-256 after');
  });
});
