// The browser experience in a real browser (issue 6): Debian's Chromium clicks
// through login, consent, device and account pages of a real server backed by
// a real redis-server. Every test saves screenshots under test-output/browser/
// and fails on any console error, page error or CSP violation.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, startCallbackServer, type CallbackServer } from '../helpers/chromium.js';
import { PASSWORD, authUrl, pkcePair, tokenCall } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'];

describe('browser: login, consent, device and account pages in Chromium', () => {
  let browser: Browser;
  let server: TestServer;
  let client: CallbackServer;

  before(async () => {
    [browser, client] = await Promise.all([launchChromium(), startCallbackServer()]);
    server = await startServer({
      site_name: 'Example Chat',
      device_poll_interval: 1,
      clients: [
        {
          id: 'webapp',
          name: 'Test Web App',
          secret_hash: secretHash(CLIENT_SECRET),
          redirect_uris: ['https://app.example/cb', client.redirectUri],
          client_uri: 'https://app.example/',
        },
        { id: 'tv', name: 'Test TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
      ],
    });
    // One account per test, so no test sees another's grants or sessions.
    await Promise.all(USERS.map((user) => server.app.accounts.create(`${user}@localhost`, PASSWORD)));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await client?.stop();
  });

  const codeRequest = (extra: Record<string, string> = {}) => {
    const pkce = pkcePair();
    const state = `st-${Math.random().toString(36).slice(2)}`;
    const url = authUrl(server.url, {
      response_type: 'code',
      client_id: 'webapp',
      redirect_uri: client.redirectUri,
      scope: 'openid offline_access xmpp',
      state,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      ...extra,
    });
    return { url, state, verifier: pkce.verifier };
  };

  const atCallback = (page: Page) => page.waitForURL((u) => u.href.startsWith(client.redirectUri));

  const redeem = async (code: string, verifier: string) => {
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { access_token: string; refresh_token?: string; id_token?: string; token_type: string; scope: string };
  };

  const introspect = async (token: string) =>
    (await (
      await fetch(`${server.url}/oauth2/introspect`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`webapp:${CLIENT_SECRET}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token }),
      })
    ).json()) as { active: boolean; sub?: string };

  /** Fills the login form through its labels, as a person would read it. */
  const signIn = async (page: Page, username = 'alice@localhost') => {
    await page.getByLabel('XMPP address').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  it('authorization code flow: login, consent, redirect to the client, code redeemed for tokens', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const req = codeRequest();
    await page.goto(req.url);
    await assertHeading(page, 'Sign in');
    assert.match(await page.locator('main').innerText(), /Test Web App wants to use your XMPP account/);
    assert.match(await page.title(), /Example Chat/);
    await w.screenshot('code-flow-1-login');

    await signIn(page);
    await assertHeading(page, 'Allow Test Web App to use your account?');
    const consentText = await page.locator('main').innerText();
    assert.match(consentText, /Signed in as alice@localhost/);
    assert.match(consentText, /app\.example/, 'the client\u2019s site is named');
    assert.match(consentText, /127\.0\.0\.1/, 'where the browser will be sent is named');
    await w.screenshot('code-flow-2-consent');

    await page.getByRole('button', { name: 'Allow' }).click();
    await atCallback(page);
    await assertHeading(page, 'Client received the redirect');
    const cb = new URL(page.url());
    assert.equal(cb.searchParams.get('state'), req.state);
    assert.equal(cb.searchParams.get('iss'), server.url);
    assert.equal(cb.searchParams.get('error'), null);
    const code = cb.searchParams.get('code');
    assert.ok(code, `no code in ${cb.href}`);

    const tokens = await redeem(code, req.verifier);
    assert.equal(tokens.token_type, 'Bearer');
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
    assert.ok(tokens.id_token, 'openid gives an id_token');
    const info = await introspect(tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info.sub, 'xmpp:alice@localhost');
    await w.finish();
  });

  it('device flow: the code typed into the device page, approved, and the device gets tokens', async () => {
    const w = await openPage(browser, { colorScheme: 'dark' });
    const { page } = w;
    const started = await fetch(`${server.url}/oauth2/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'tv', scope: 'openid offline_access xmpp' }),
    });
    assert.equal(started.status, 200);
    const device = (await started.json()) as { device_code: string; user_code: string; verification_uri: string; interval: number };
    const poll = async () => {
      const res = await fetch(`${server.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: device.device_code, client_id: 'tv' }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    assert.equal((await poll()).body.error, 'authorization_pending');

    await page.goto(device.verification_uri);
    await assertHeading(page, 'Connect a device');
    const codeField = page.getByLabel('Code');
    await codeField.click();
    await page.keyboard.type(device.user_code, { delay: 20 });
    await w.screenshot('device-1-code-entered');
    await page.getByRole('button', { name: 'Continue' }).click();

    await assertHeading(page, 'Sign in');
    await signIn(page, 'carol@localhost');
    await assertHeading(page, 'Allow Test TV App to use your account?');
    assert.match(await page.locator('main').innerText(), new RegExp(`Code shown on the device: ${device.user_code}`));
    await w.screenshot('device-2-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await assertHeading(page, 'Device connected');
    await w.screenshot('device-3-connected');

    // The device keeps polling at its interval until the tokens come.
    let result = await poll();
    for (let i = 0; i < 10 && result.status !== 200; i++) {
      assert.ok(['authorization_pending', 'slow_down'].includes(result.body.error as string), JSON.stringify(result.body));
      await sleep((device.interval + (result.body.error === 'slow_down' ? 5 : 0)) * 1000 + 100);
      result = await poll();
    }
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.ok(result.body.access_token);
    assert.ok(result.body.refresh_token);
    const userinfo = await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${result.body.access_token as string}` } });
    assert.equal(userinfo.status, 200);
    assert.equal(((await userinfo.json()) as { sub: string }).sub, 'xmpp:carol@localhost');
    await w.finish();
  });

  it('deny on consent sends the browser back with error=access_denied, state and iss', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const req = codeRequest();
    await page.goto(req.url);
    await signIn(page, 'bob@localhost');
    await assertHeading(page, 'Allow Test Web App to use your account?');
    await w.screenshot('deny-consent');
    await page.getByRole('button', { name: 'Deny' }).click();
    await atCallback(page);
    const cb = new URL(page.url());
    assert.equal(cb.searchParams.get('error'), 'access_denied');
    assert.equal(cb.searchParams.get('state'), req.state);
    assert.equal(cb.searchParams.get('iss'), server.url);
    assert.equal(cb.searchParams.get('code'), null);
    await w.finish();
  });

  it('account page lists the grant with the client name and revokes it; the earlier token is then inactive', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const req = codeRequest();
    await page.goto(req.url);
    await signIn(page, 'dave@localhost');
    await page.getByRole('button', { name: 'Allow' }).click();
    await atCallback(page);
    const tokens = await redeem(new URL(page.url()).searchParams.get('code')!, req.verifier);
    assert.equal((await introspect(tokens.access_token)).active, true);

    await page.goto(`${server.url}/account`);
    await assertHeading(page, 'Applications with access to your account');
    const grant = page.locator('li.grant', { hasText: 'Test Web App' });
    assert.equal(await grant.count(), 1);
    assert.match(await grant.innerText(), /app\.example/);
    assert.match(await grant.innerText(), /Allowed .* last used/);
    await w.screenshot('account-1-listing');

    await grant.getByRole('button', { name: 'Revoke access for Test Web App' }).click();
    await page.waitForURL(/notice=account\.notice\.revoked/);
    assert.match(await page.getByRole('status').innerText(), /Access revoked/);
    assert.equal(await page.locator('li.grant', { hasText: 'Test Web App' }).count(), 0);
    await w.screenshot('account-2-revoked');

    const info = await introspect(tokens.access_token);
    assert.equal(info.active, false);
    assert.equal((await introspect(tokens.refresh_token!)).active, false);
    await w.finish();
  });

  it('a second authorization in the same browser skips the login page', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const first = codeRequest({ scope: 'openid xmpp' });
    await page.goto(first.url);
    await signIn(page, 'erin@localhost');
    await page.getByRole('button', { name: 'Allow' }).click();
    await atCallback(page);
    await redeem(new URL(page.url()).searchParams.get('code')!, first.verifier);

    // Same scopes, already granted: no login, no consent, straight back to the client.
    const second = codeRequest({ scope: 'openid xmpp' });
    const response = await page.goto(second.url);
    assert.ok(page.url().startsWith(client.redirectUri), `expected the callback, got ${page.url()}`);
    assert.equal(response?.request().redirectedFrom()?.url(), second.url);
    const cb = new URL(page.url());
    assert.equal(cb.searchParams.get('state'), second.state);
    assert.ok((await redeem(cb.searchParams.get('code')!, second.verifier)).access_token);

    // More scopes than granted: consent again, but still no login.
    const third = codeRequest({ scope: 'openid xmpp offline_access' });
    await page.goto(third.url);
    await assertHeading(page, 'Allow Test Web App to use your account?');
    assert.equal(await page.locator('input[type=password]').count(), 0, 'no login form');
    assert.match(await page.locator('main').innerText(), /Signed in as erin@localhost/);
    await w.screenshot('second-auth-consent-without-login');
    await page.getByRole('button', { name: 'Allow' }).click();
    await atCallback(page);
    assert.ok(new URL(page.url()).searchParams.get('code'));
    await w.finish();
  });

  it('phone-sized screen, keyboard only: Tab to the fields, type, Enter to sign in and to allow', async () => {
    const w = await openPage(browser, { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const { page } = w;
    const req = codeRequest();
    await page.goto(req.url);
    await assertHeading(page, 'Sign in');
    assert.ok(await fitsWidth(page), 'the login page needs no horizontal scrolling at 375 px');

    await tabTo(page, 'username');
    await page.keyboard.type('frank@localhost');
    await page.keyboard.press('Tab');
    assert.equal(await focusedId(page), 'password');
    await page.keyboard.type(PASSWORD);
    await w.screenshot('keyboard-1-login');
    await page.keyboard.press('Enter');

    await assertHeading(page, 'Allow Test Web App to use your account?');
    assert.ok(await fitsWidth(page), 'the consent page needs no horizontal scrolling at 375 px');
    await tabTo(page, 'Allow');
    assert.equal(await page.evaluate('document.activeElement.matches(":focus-visible")'), true, 'keyboard focus is visible');
    await w.screenshot('keyboard-2-consent-focused');
    await page.keyboard.press('Enter');
    await atCallback(page);
    const cb = new URL(page.url());
    assert.equal(cb.searchParams.get('state'), req.state);
    assert.ok(await redeem(cb.searchParams.get('code')!, req.verifier));
    await w.finish();
  });

  it('issue 15: the landing page at / leads a person to /account and a developer to /docs, with no console error or CSP violation', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const response = await page.goto(`${server.url}/`);
    assert.equal(response?.status(), 200);
    await page.getByRole('link', { name: 'Connect a device' }).waitFor();
    await w.screenshot('landing');
    await page.getByRole('link', { name: 'Manage access' }).click();
    await page.waitForURL(`${server.url}/account`);
    await page.getByLabel('XMPP address').waitFor();
    await page.goBack();
    await page.getByRole('link', { name: /Developer information/ }).click();
    await page.waitForURL(`${server.url}/docs`);
    await w.finish();
  });

  it('the browser\u2019s icon request succeeds, so no page logs a 404 to the console', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/account`);
    const link = page.locator('link[rel~="icon"]');
    const declared = (await link.count()) ? ((await link.first().getAttribute('href')) ?? '/favicon.ico') : '/favicon.ico';
    const icon = await page.request.get(new URL(declared, server.url).toString());
    assert.ok(icon.ok(), `the page's icon ${declared} answers ${icon.status()}: Chromium asks for it on every page and logs the failure as a console error`);
    await w.screenshot('account-login');
    await w.finish();
  });

  it('works without JavaScript: login and consent are plain forms', async () => {
    const w = await openPage(browser, { javaScriptEnabled: false });
    const { page } = w;
    const req = codeRequest();
    await page.goto(req.url);
    await signIn(page, 'grace@localhost');
    await assertHeading(page, 'Allow Test Web App to use your account?');
    await w.screenshot('no-js-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await atCallback(page);
    assert.ok(await redeem(new URL(page.url()).searchParams.get('code')!, req.verifier));
    await w.finish();
  });
});

async function assertHeading(page: Page, text: string): Promise<void> {
  const h1 = page.locator('h1');
  await h1.waitFor();
  assert.equal((await h1.innerText()).trim(), text);
}

async function focusedId(page: Page): Promise<string> {
  return (await page.evaluate('(() => { const e = document.activeElement; return e ? (e.id || e.textContent || "").trim() : ""; })()')) as string;
}

/** Presses Tab until the element with this id (or button text) has focus. */
async function tabTo(page: Page, idOrText: string): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < 15; i++) {
    await page.keyboard.press('Tab');
    const now = await focusedId(page);
    if (now === idOrText) return;
    seen.push(now);
  }
  assert.fail(`Tab never reached ${idOrText}; focus went through: ${seen.join(', ')}`);
}

async function fitsWidth(page: Page): Promise<boolean> {
  return (await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')) as boolean;
}
