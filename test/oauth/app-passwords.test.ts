// App passwords (issue 18): made on /account, shown once, stored only as a
// digest, accepted by the core's XMPP login check, listed and revoked as grants.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkLogin } from '../../src/oauth/xmpp-login/xmpp-server-api.js';
import { grantsOf } from '../../src/oauth/grants/grant-management.js';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD } from '../helpers/flow.js';
import { appPasswordId, createAppPassword, revokeAppPassword } from '../helpers/app-passwords.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('app passwords', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    for (const u of ['alice', 'bob', 'carol', 'dave']) await server.app.accounts.create(`${u}@localhost`, PASSWORD);
  });
  after(() => server.stop());

  async function signedIn(username: string): Promise<FormBrowser> {
    const browser = new FormBrowser();
    const page = await (await browser.get(`${server.url}/account`)).text();
    const res = await browser.submit(server.url, page, { username, password: PASSWORD });
    assert.equal(res.status, 303);
    return browser;
  }
  const login = (user: string, secret: string) => checkLogin(server.app.core, user, 'localhost', secret);

  it('issue 18 app passwords: created on the page, shown once in groups of letters, accepted as the XMPP password', async () => {
    const browser = await signedIn('alice');
    const { password } = await createAppPassword(browser, server.url, 'Dino on laptop');
    assert.match(password, /^[a-z]{4}( [a-z]{4}){4}$/, 'five groups of four lowercase letters (94 bits)');
    const result = await login('alice', password);
    assert.equal(result.ok, true);
    assert.ok(result.ok);
    assert.equal(result.via, 'app-password');
    assert.deepEqual(result.scope, ['xmpp:client:normal']);
    assert.equal(result.grantId, await appPasswordId(browser, server.url, 'Dino on laptop'));
    // Typed on a phone: no spaces, a capital from auto-capitalisation, dashes.
    assert.equal((await login('alice', password.replace(/ /g, ''))).ok, true);
    assert.equal((await login('alice', password.replace(/ /g, '-').replace(/^./, (c) => c.toUpperCase()))).ok, true);
    // Only for its own account, and only exactly.
    assert.equal((await login('bob', password)).ok, false);
    assert.equal((await login('alice', password.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')))).ok, false);
    // The page shows it once: a reload has its name, never the secret.
    const again = await (await browser.get(`${server.url}/account`)).text();
    assert.match(again, /Dino on laptop/);
    assert.ok(!again.includes(password));
    assert.ok(!again.includes(password.replace(/ /g, '')));
  });

  it('issue 18 app passwords: stored only as a digest, listed as a grant of kind app_password with last use', async () => {
    const browser = await signedIn('bob');
    const { password } = await createAppPassword(browser, server.url, 'Conversations');
    const id = (await appPasswordId(browser, server.url, 'Conversations'))!;
    const grant = await server.app.store.getGrant(id);
    assert.ok(grant);
    assert.equal(grant.kind, 'app_password');
    assert.equal(grant.label, 'Conversations');
    assert.match(grant.secretDigest!, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(grant).includes(password.replace(/ /g, '')), 'the secret itself is not stored');
    const listed = await grantsOf(server.app.core, 'bob@localhost');
    assert.deepEqual(listed.map((g) => [g.clientName, g.kind, g.label]), [['App password: Conversations', 'app_password', 'Conversations']]);
    assert.match(await (await browser.get(`${server.url}/account`)).text(), /never used/);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await login('bob', password)).ok, true);
    await new Promise((r) => setTimeout(r, 50));
    const page = await (await browser.get(`${server.url}/account`)).text();
    assert.doesNotMatch(page.slice(page.indexOf('app-passwords')), /never used/, 'last use is shown');
  });

  it('issue 18 app passwords: revoked on the page, the next login is refused', async () => {
    const browser = await signedIn('carol');
    const { password } = await createAppPassword(browser, server.url, 'Gajim');
    const keep = await createAppPassword(browser, server.url, 'Phone');
    assert.equal((await login('carol', password)).ok, true);
    await revokeAppPassword(browser, server.url, 'Gajim');
    assert.equal((await login('carol', password)).ok, false);
    assert.equal((await login('carol', keep.password)).ok, true, 'the other one still works');
    assert.equal(await appPasswordId(browser, server.url, 'Gajim'), undefined);
  });

  it('issue 18 app passwords: a restricted scope; bad names and scopes get a precise error and write nothing', async () => {
    const browser = await signedIn('dave');
    const { password } = await createAppPassword(browser, server.url, 'Account tool', 'xmpp:account:read');
    // Accepted at a door that restricts the session (our Prosody module); review #3: refused at the others.
    const result = await checkLogin(server.app.core, 'dave', 'localhost', password, { canRestrict: true });
    assert.ok(result.ok);
    assert.deepEqual(result.scope, ['xmpp:account:read']);
    const page = await (await browser.get(`${server.url}/account`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    for (const [fields, message] of [
      [{ label: '   ' }, /give the app password a name/],
      [{ label: 'x'.repeat(65) }, /at most 64 characters/],
      [{ label: 'ok', scope: 'openid' }, /scope must be one of/],
    ] as const) {
      const res = await browser.post(`${server.url}/account/app-passwords`, { csrf, ...fields });
      assert.equal(res.status, 400);
      assert.match(await res.text(), message);
    }
    assert.equal((await grantsOf(server.app.core, 'dave@localhost')).length, 1);
    // No CSRF token: refused.
    const forged = await browser.post(`${server.url}/account/app-passwords`, { label: 'forged' });
    assert.equal(forged.status, 403);
    assert.equal((await grantsOf(server.app.core, 'dave@localhost')).length, 1);
  });

  it('issue 18 app passwords: logins are counted in the metrics', async () => {
    const browser = await signedIn('alice');
    const { password } = await createAppPassword(browser, server.url, 'Metrics check');
    const count = async (outcome: string) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(new RegExp(`xmpp_oauth_logins_total\\{via="app-password",outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    const before = await count('ok');
    assert.equal((await login('alice', password)).ok, true);
    assert.equal(await count('ok'), before + 1);
  });

  it('issue 18 app passwords: the account password still works and is not mistaken for an app password', async () => {
    await server.app.accounts.create('eve@localhost', 'abcd efgh ijkl mnop qrst');
    const result = await login('eve', 'abcd efgh ijkl mnop qrst');
    assert.ok(result.ok);
    assert.equal(result.via, 'password');
  });
});
