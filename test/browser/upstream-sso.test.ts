// Sign-in through an upstream OpenID Connect provider (issue 18), in Chromium:
// the IdP is a real oidc-provider on a loopback port with its own accounts;
// our server is the relying party through openid-client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, startCallbackServer, type CallbackServer } from '../helpers/chromium.js';
import { PASSWORD, authUrl, pkcePair, tokenCall } from '../helpers/flow.js';
import { startTestIdp, type TestIdp } from '../helpers/oidc-idp.js';
import { freePort } from '../helpers/ports.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

describe('browser: sign in with an upstream OpenID Connect provider', () => {
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
        erin: { preferred_username: 'Erin', name: 'Erin Example', groups: ['xmpp-users', 'staff'] },
        frank: { preferred_username: 'frank', groups: ['xmpp-users'] },
        mallory: { preferred_username: 'mallory', groups: ['guests'] },
        'alice-at-idp': { preferred_username: 'alice', groups: ['xmpp-users'] },
        spacey: { preferred_username: 'no spaces allowed', groups: ['xmpp-users'] },
      },
    });
    server = await startServer({
      http: { host: '127.0.0.1', port },
      upstream: {
        providers: [
          { id: 'test', name: 'Test IdP', issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, host: 'localhost', allow: { groups: 'xmpp-users' } },
        ],
      },
      clients: [
        { id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: [client.redirectUri], client_uri: 'https://app.example/' },
        { id: 'tv', name: 'Test TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
      ],
      device_poll_interval: 1,
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await client?.stop();
    await idp?.stop();
  });

  const heading = (page: Page) => page.locator('h1').first().innerText();
  /** The IdP keeps its redirect back to us, and hands over its URL: the promise settles with it. */
  function holdCallback(): Promise<string> {
    return new Promise((resolve) => (idp.holdCallback = resolve));
  }
  /** Chromium logs the refusal page's own 4xx status as a console error: expected there, and only there. */
  const expectRefusalStatus = (problems: string[]) => {
    const rest = problems.filter((p) => !/status of 40[034] .*\/upstream\/test\/callback\?/.test(p));
    problems.splice(0, problems.length, ...rest);
  };

  /** From our login page: the provider's button, then the IdP's own login form. */
  async function signInUpstream(page: Page, login: string, held?: Promise<string>) {
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.getByLabel('Login').fill(login);
    await page.getByLabel('Password').fill('anything');
    await page.getByRole('button', { name: 'Sign in at Test IdP' }).click();
    // Back on our origin: the callback's answer (a refusal page, or a redirect followed in the
    // same navigation); or, with the callback held at the IdP, its URL handed over.
    if (held) await held;
    else await page.waitForURL((u) => u.href.startsWith(server.url));
  }

  async function codeFlow(page: Page, login: string) {
    const pkce = pkcePair();
    await page.goto(authUrl(server.url, {
      response_type: 'code', client_id: 'webapp', redirect_uri: client.redirectUri, scope: 'openid offline_access xmpp', state: 'st-1',
      code_challenge: pkce.challenge, code_challenge_method: 'S256',
    }));
    await signInUpstream(page, login);
    return pkce.verifier;
  }

  it('issue 18: "Sign in with Test IdP" creates erin@localhost, then consent and the code flow give tokens; the account page names the provider', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const verifier = await codeFlow(page, 'erin');
    assert.equal(await heading(page), 'Allow Test Web App to use your account?');
    assert.match(await page.locator('main').innerText(), /Signed in as erin@localhost/);
    await w.screenshot('upstream-1-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(client.redirectUri));
    const code = new URL(page.url()).searchParams.get('code');
    assert.ok(code);
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { id_token } = res.body as { id_token: string };
    assert.equal(JSON.parse(Buffer.from(id_token.split('.')[1]!, 'base64url').toString()).sub, 'xmpp:erin@localhost');

    const account = await server.app.store.getAccount('erin@localhost');
    assert.ok(account, 'erin@localhost was created on first sign-in');
    assert.equal(account.passwordHash, '', 'no local password');
    assert.deepEqual([account.upstream?.provider, account.upstream?.iss, account.upstream?.sub], ['test', idp.issuer, 'erin']);

    await page.goto(`${server.url}/account`);
    const text = await page.locator('main').innerText();
    assert.match(text, /Signed in as erin@localhost/);
    assert.match(text, /You sign in through Test IdP/);
    assert.match(text, /Test Web App/);
    await w.screenshot('upstream-2-account');
    await w.finish();
  });

  it('issue 18: the second sign-in reuses the account, even after the username claim changed at the IdP', async () => {
    const before = await server.app.store.getAccount('erin@localhost');
    assert.ok(before);
    idp.accounts.set('erin', { ...idp.accounts.get('erin'), preferred_username: 'erin-renamed' });
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/account`);
    await signInUpstream(page, 'erin');
    assert.match(await page.locator('main').innerText(), /Signed in as erin@localhost/);
    const after = await server.app.store.getAccount('erin@localhost');
    assert.equal(after?.createdAt, before.createdAt, 'the same account');
    assert.ok(after!.upstream!.lastLoginAt >= before.upstream!.lastLoginAt);
    assert.equal(await server.app.store.accountExists('erin-renamed@localhost'), false);
    idp.accounts.set('erin', { ...idp.accounts.get('erin'), preferred_username: 'Erin' });
    await w.finish();
  });

  it('issue 18: the device flow works for an upstream account: sign-in upstream returns to the code page, then consent, then the device polls tokens', async () => {
    const started = await fetch(`${server.url}/oauth2/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'tv', scope: 'openid offline_access xmpp' }),
    });
    const device = (await started.json()) as { device_code: string; user_code: string; verification_uri_complete: string };
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(device.verification_uri_complete);
    await page.getByRole('button', { name: 'Continue' }).click();
    await signInUpstream(page, 'erin');
    // Back on the code page with the code filled in.
    assert.equal(new URL(page.url()).pathname, '/oauth2/device');
    await page.getByRole('button', { name: 'Continue' }).click();
    assert.equal(await heading(page), 'Allow Test TV App to use your account?');
    assert.match(await page.locator('main').innerText(), /Signed in as erin@localhost/);
    await page.getByRole('button', { name: 'Allow' }).click();
    assert.equal(await heading(page), 'Device connected');
    let result: { status: number; body: Record<string, unknown> } = { status: 0, body: {} };
    for (let i = 0; i < 15 && result.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 1200));
      const res = await fetch(`${server.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.device_code, client_id: 'tv' }),
      });
      result = { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const info = await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${result.body.access_token as string}` } });
    assert.equal(((await info.json()) as { sub: string }).sub, 'xmpp:erin@localhost');
    await w.finish();
  });

  it('issue 18: the password form still signs local users in next to the button', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/account`);
    await page.getByLabel('XMPP address').fill('alice@localhost');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    assert.match(await page.locator('main').innerText(), /Signed in as alice@localhost/);
    await w.finish();
  });

  async function refused(login: string, expected: RegExp): Promise<void> {
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/account`);
    await signInUpstream(page, login);
    assert.equal(await heading(page), 'This request cannot be completed');
    assert.match(await page.locator('main').innerText(), expected);
    await page.goto(`${server.url}/account`);
    assert.match(await page.locator('main').innerText(), /Sign in to see and manage/, 'no session was started');
    expectRefusalStatus(w.problems);
    await w.finish();
  }

  it('issue 18 refusal: a user failing `allow` is refused, and no account is made', async () => {
    await refused('mallory', /not allowed to use this service/);
    assert.equal(await server.app.store.accountExists('mallory@localhost'), false);
  });

  it('issue 18 refusal: a username claim colliding with a local account is refused while link_existing is false', async () => {
    await refused('alice-at-idp', /exists already and is not linked/);
    assert.equal((await server.app.store.getAccount('alice@localhost'))?.upstream, undefined, 'alice stays local');
  });

  it('issue 18 refusal: a username claim that is not a valid localpart gets a clear page', async () => {
    await refused('spacey', /cannot be used as a chat address/);
    assert.deepEqual((await server.app.store.listAccounts()).filter((j) => j.startsWith('no')), []);
  });

  it('issue 18 refusal: a tampered state is refused; the untampered callback still works once', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const held = holdCallback();
    await page.goto(`${server.url}/account`);
    await signInUpstream(page, 'frank', held);
    const callback = await held;
    const tampered = new URL(callback);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    await page.goto(tampered.href);
    assert.equal(await heading(page), 'This request cannot be completed');
    assert.match(await page.locator('main').innerText(), /was not started here, was already used, or took too long/);
    assert.equal(await server.app.store.accountExists('frank@localhost'), false);
    await page.goto(callback);
    assert.match(await page.locator('main').innerText(), /Signed in as frank@localhost/);
    await page.goto(callback);
    assert.match(await page.locator('main').innerText(), /already used/, 'a state works once');
    expectRefusalStatus(w.problems);
    await w.finish();
  });

  it('issue 18 refusal: a tampered ID token is refused', async () => {
    idp.tamperIdTokens = true;
    try {
      await refused('frank', /could not be verified/);
    } finally {
      idp.tamperIdTokens = false;
    }
  });

  it('issue 18: a callback in another browser than the one that started the sign-in is refused (login CSRF)', async () => {
    const w = await openPage(browser);
    const held = holdCallback();
    await w.page.goto(`${server.url}/account`);
    await signInUpstream(w.page, 'frank', held);
    const callback = await held;
    const victim = await openPage(browser);
    await victim.page.goto(callback);
    assert.match(await victim.page.locator('main').innerText(), /was not started here/);
    expectRefusalStatus(victim.problems);
    await victim.finish();
    await w.finish();
  });
});
