// Issue 26 #3, #6: the server's mfa.required and sign-in through an upstream
// provider. With `required`, an account without a second factor sets one up
// before its sign-in finishes; the half-done sign-in is no session and works
// only in its own browser. An IdP's two factors (its amr, or an acr the
// operator lists) are carried into our amr/acr; a one-factor IdP sign-in must
// then set up TOTP here. Real Chromium, a real oidc-provider IdP, real Redis.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { FormBrowser, parseForm } from '../helpers/browser.js';
import { launchChromium, openPage, startCallbackServer, type CallbackServer } from '../helpers/chromium.js';
import { PASSWORD, authUrl, pkcePair, tokenCall } from '../helpers/flow.js';
import { startTestIdp, type TestIdp } from '../helpers/oidc-idp.js';
import { freePort } from '../helpers/ports.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

const codeOf = (secret: string) => new TOTP({ secret: Secret.fromBase32(secret) }).generate();
const secretIn = (html: string) => /<p class="code-box totp-secret">([^<]+)<\/p>/.exec(html)![1]!.replace(/\s/g, '');

describe('issue 26: mfa.required and upstream sign-in with second factors', { timeout: 120_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let client: CallbackServer;
  let idp: TestIdp;

  before(async () => {
    const port = await freePort();
    [browser, client] = await Promise.all([launchChromium(), startCallbackServer()]);
    idp = await startTestIdp({
      redirectUris: [`http://127.0.0.1:${port}/upstream/test/callback`],
      accounts: {
        gina: { preferred_username: 'gina', amr: ['pwd', 'otp'] },
        hank: { preferred_username: 'hank', amr: ['pwd'], acr: 'urn:idp:loa:mfa' },
        ivan: { preferred_username: 'ivan', amr: ['pwd'] },
      },
    });
    server = await startServer({
      http: { host: '127.0.0.1', port },
      mfa: { required: 'required' },
      upstream: {
        providers: [{ id: 'test', name: 'Test IdP', issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, host: 'localhost', mfa_acr_values: ['urn:idp:loa:mfa'] }],
      },
      clients: [{ id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: [client.redirectUri] }],
    });
    await server.app.accounts.create('dave@localhost', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await client?.stop();
    await idp?.stop();
  });

  it('issue 26: mfa.required: required sends a password sign-in without a factor to set one up first; meanwhile it is no session and works in no other browser', async () => {
    const b = new FormBrowser();
    const login = await (await b.get(`${server.url}/account`)).text();
    const csrf0 = /name="csrf" value="([^"]+)"/.exec(login)![1]!;
    const enrol = await b.post(`${server.url}/account/login`, { csrf: csrf0, username: 'dave@localhost', password: PASSWORD });
    const html = await enrol.text();
    assert.equal(enrol.status, 200);
    assert.match(html, /This server asks every account for a second factor/);
    assert.match(html, /<svg [^>]*class="qr-code"/);
    assert.doesNotMatch(await (await b.get(`${server.url}/account`)).text(), /Signed in as/, 'the pending sign-in is not a session');

    // Its cookies carried to another browser, which has a CSRF cookie of its own: refused.
    const thief = new FormBrowser();
    thief.copyCookiesFrom(b);
    thief.dropCookie('xo_csrf');
    const own = await (await thief.get(`${server.url}/account`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(own)![1]!;
    const form = parseForm(html);
    const stolen = await thief.post(new URL(form.action, server.url).href, { ...form.hidden, csrf, code: codeOf(secretIn(html)) });
    assert.equal(stolen.status, 401);
    assert.match(await stolen.text(), /Your sign-in has expired/);

    const done = await b.submit(server.url, html, { code: codeOf(secretIn(html)) });
    const codes = await done.text();
    assert.equal(done.status, 200);
    assert.equal((codes.match(/<li>[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}<\/li>/g) ?? []).length, 10);
    const account = await (await b.get(`${server.url}/account`)).text();
    assert.match(account, /Signed in as dave@localhost/);
    assert.match(account, /An authenticator app is set up/);

    // Under `required`, the last factor stays.
    const csrf2 = /name="csrf" value="([^"]+)"/.exec(account)![1]!;
    const removal = await b.post(`${server.url}/account/totp/remove`, { csrf: csrf2, code: 'whatever' });
    assert.equal(removal.status, 400);
    assert.match(await removal.text(), /set up another before removing this one/);
  });

  /** A code flow that signs in at the IdP as `login`; returns the page where our server stops. */
  async function upstreamFlow(page: Page, login: string) {
    const pkce = pkcePair();
    await page.goto(authUrl(server.url, { response_type: 'code', client_id: 'webapp', redirect_uri: client.redirectUri, scope: 'openid', state: 's', code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.getByLabel('Login').fill(login);
    await page.getByLabel('Password').fill('anything');
    await page.getByRole('button', { name: 'Sign in at Test IdP' }).click();
    // Back here: the consent page (a redirect to it), or the enrolment, answered at the callback itself.
    await page.waitForURL((u) => u.href.startsWith(server.url));
    return pkce.verifier;
  }

  async function idTokenAfterConsent(page: Page, verifier: string) {
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(client.redirectUri));
    const code = new URL(page.url()).searchParams.get('code')!;
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return JSON.parse(Buffer.from(String(res.body.id_token).split('.')[1]!, 'base64url').toString()) as { amr: string[]; acr: string };
  }

  it('issue 26: an IdP sign-in with two factors (its amr, or its acr listed in mfa_acr_values) carries them into amr/acr, with no step here; a one-factor one must set up TOTP', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const gina = await idTokenAfterConsent(page, await upstreamFlow(page, 'gina'));
    assert.deepEqual(gina.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(gina.acr, 'urn:xmpp-oauth:acr:2fa');
    await w.finish();

    const h = await openPage(browser);
    const hank = await idTokenAfterConsent(h.page, await upstreamFlow(h.page, 'hank'));
    assert.deepEqual(hank.amr, ['pwd', 'mfa']);
    assert.equal(hank.acr, 'urn:xmpp-oauth:acr:2fa');
    await h.finish();

    const i = await openPage(browser);
    const verifier = await upstreamFlow(i.page, 'ivan');
    await i.page.getByText('This server asks every account for a second factor').waitFor();
    const secret = (await i.page.locator('.totp-secret').innerText()).replace(/\s/g, '');
    await i.page.getByLabel('The 6-digit code the app shows now').fill(codeOf(secret));
    await i.page.getByRole('button', { name: 'Turn on' }).click();
    await i.page.getByRole('link', { name: 'I have saved them, continue' }).click();
    // Back to the authorization request the sign-in interrupted.
    const ivan = await idTokenAfterConsent(i.page, verifier);
    assert.ok(ivan.amr.includes('otp') && ivan.amr.includes('mfa'), `amr ${ivan.amr}`);
    await i.finish();
  });
});
