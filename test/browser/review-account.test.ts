// Issue 22, item 12 (what operators tripped over), on the account page in
// real Chromium: app passwords listed with the words the form used, and no
// password form for an account that signs in only through SSO.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage } from '../helpers/chromium.js';
import { PASSWORD } from '../helpers/flow.js';
import { startTestIdp, type TestIdp } from '../helpers/oidc-idp.js';
import { freePort } from '../helpers/ports.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('review #12: the account page says what the forms said', { timeout: 120_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let idp: TestIdp;

  before(async () => {
    const port = await freePort();
    browser = await launchChromium();
    idp = await startTestIdp({
      redirectUris: [`http://127.0.0.1:${port}/upstream/test/callback`],
      accounts: { erin: { preferred_username: 'erin', groups: ['xmpp-users'] } },
    });
    server = await startServer({
      http: { host: '127.0.0.1', port },
      upstream: { providers: [{ id: 'test', name: 'Test IdP', issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, host: 'localhost' }] },
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await idp?.stop();
  });

  const passwordSection = (page: Page) => page.locator('main').innerText().then((t) => t.slice(t.indexOf('Change password')));

  it('review #12: /account lists app passwords as "Chat as you", "Only see which apps have access", not as raw scope strings', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/account`);
    await page.getByLabel('XMPP address').fill('alice@localhost');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${server.url}/account`);
    for (const [label, choice] of [['Dino on laptop', 'Chat as you (a normal session)'], ['Grant viewer', 'Only see which apps have access']] as const) {
      await page.getByLabel('Name of the app').fill(label);
      await page.getByLabel(choice).check();
      await page.getByRole('button', { name: 'Create app password' }).click();
      await page.waitForLoadState();
    }
    const entries = page.locator('li.app-password-entry');
    assert.equal(await entries.count(), 2);
    const listed = (await entries.allInnerTexts()).join('\n');
    assert.match(listed, /Dino on laptop\s+Chat as you \(a normal session\) · created/);
    assert.match(listed, /Grant viewer\s+Only see which apps have access · created/);
    assert.doesNotMatch(listed, /xmpp:/, 'no raw scope string in the list');
    await w.screenshot('review-12-app-password-labels');
    await w.finish();
  });

  it('review #12: an account that signs in only through SSO gets no password-change form, but a sentence saying why', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/account`);
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.getByLabel('Login').fill('erin');
    await page.getByLabel('Password').fill('anything');
    await page.getByRole('button', { name: 'Sign in at Test IdP' }).click();
    await page.waitForURL(`${server.url}/account`, { timeout: 15_000 });
    assert.match(await page.locator('main').innerText(), /Signed in as erin@localhost/);
    assert.equal(await page.locator('form[action="/account/password"]').count(), 0, 'no form that can never succeed');
    assert.match(await passwordSection(page), /no password here to change/);
    // A form from elsewhere (or an old tab) gets the same explanation, not "the current password is not right".
    const csrf = await page.locator('form[action="/account/logout"] input[name="csrf"]').getAttribute('value');
    const res = await page.request.post(`${server.url}/account/password`, { form: { csrf: csrf!, current: 'x', password: 'new password 1234', confirm: 'new password 1234' } });
    assert.equal(res.status(), 400);
    assert.match(await res.text(), /no password here to change/);
    await w.screenshot('review-12-sso-only-account');
    w.problems.splice(0); // the hand-made POST's 400 is expected
    await w.finish();

    // A local account still has its form.
    const local = await openPage(browser);
    await local.page.goto(`${server.url}/account`);
    await local.page.getByLabel('XMPP address').fill('alice@localhost');
    await local.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await local.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await local.page.waitForURL(`${server.url}/account`);
    assert.equal(await local.page.locator('form[action="/account/password"]').count(), 1);
    await local.finish();
  });
});
