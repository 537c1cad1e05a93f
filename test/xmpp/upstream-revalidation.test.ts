// The hackerspace walkthrough, end to end (issue 18): sign in through the
// organisation's IdP in Chromium, make an app password on the account page,
// log in to a real Prosody 0.12 with it. Then upstream.revalidate_days: with
// the server's clock moved past it, the app password and the refresh token
// stop working and the account page says why; a new upstream sign-in restores both.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, startCallbackServer, type CallbackServer } from '../helpers/chromium.js';
import { authUrl, pkcePair, tokenCall } from '../helpers/flow.js';
import { startTestIdp, type TestIdp } from '../helpers/oidc-idp.js';
import { freePort } from '../helpers/ports.js';
import type { ProsodyInstance } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { CLIENT_SECRET, secretHash, type TestServer } from '../helpers/server.js';
import { plainLogin } from '../helpers/xmpp-client.js';
import { SignJWT, importJWK } from 'jose';

const DAY_MS = 86_400_000;

describe('issue 18: SSO sign-in, an app password at Prosody, and revalidation', () => {
  let browser: Browser;
  let prosody: ProsodyInstance;
  let server: TestServer;
  let client: CallbackServer;
  let idp: TestIdp;
  let stack: ProsodyStack | undefined;
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  before(async () => {
    const port = await freePort();
    [browser, client, idp] = await Promise.all([
      launchChromium(),
      startCallbackServer(),
      startTestIdp({
        redirectUris: [`http://127.0.0.1:${port}/upstream/space/callback`],
        backchannelLogoutUri: `http://127.0.0.1:${port}/upstream/space/backchannel-logout`,
        accounts: { erin: { preferred_username: 'erin', groups: ['members'] } },
      }),
    ]);
    stack = await startProsodyStack({
      moduleOptions: { xmpp_oauth_timeout: 5 },
      server: {
        http: { host: '127.0.0.1', port },
        upstream: {
          revalidate_days: 30,
          providers: [{ id: 'space', name: 'Hackerspace SSO', issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, allow: { groups: 'members' } }],
        },
        clients: [{ id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: [client.redirectUri] }],
      },
    });
    ({ prosody, server } = stack);
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    await client?.stop();
    await idp?.stop();
  });

  async function signInUpstream(page: Page) {
    await page.getByRole('button', { name: 'Sign in with Hackerspace SSO' }).click();
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.getByLabel('Login').fill('erin');
    await page.getByLabel('Password').fill('anything');
    await page.getByRole('button', { name: 'Sign in at Test IdP' }).click();
    await page.waitForURL((u) => u.href.startsWith(server.url) && !u.pathname.startsWith('/upstream/'));
  }

  it('issue 18 revalidation: the app password and refresh token lapse after revalidate_days; a new upstream sign-in restores them', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/account`);
    await signInUpstream(page);
    assert.match(await page.locator('main').innerText(), /Signed in as erin@localhost/);

    // The walkthrough: an app password for Dino, typed into the chat client as the password.
    await page.getByLabel('Name of the app').fill('Dino on laptop');
    await page.getByRole('button', { name: 'Create app password' }).click();
    const password = (await page.locator('.app-password').innerText()).trim();
    assert.match(password, /^[a-z]{4}( [a-z]{4}){4}$/);
    await w.screenshot('upstream-app-password');
    assert.equal(await plainLogin(target(), 'erin', password), true, prosody.log().slice(-3000));
    assert.equal(await plainLogin(target(), 'erin', 'not the password at all'), false, 'no local password');

    // An application with a refresh token, consented in the same browser.
    const pkce = pkcePair();
    await page.goto(authUrl(server.url, {
      response_type: 'code', client_id: 'webapp', redirect_uri: client.redirectUri, scope: 'openid offline_access', code_challenge: pkce.challenge, code_challenge_method: 'S256',
    }));
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(client.redirectUri));
    const code = new URL(page.url()).searchParams.get('code')!;
    const tokens = await tokenCall(server.url, { grant_type: 'authorization_code', code, code_verifier: pkce.verifier, redirect_uri: client.redirectUri });
    assert.equal(tokens.status, 200);
    let refresh = (tokens.body as { refresh_token: string }).refresh_token;
    const refreshOnce = async () => {
      const r = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: refresh });
      if (r.status === 200) refresh = (r.body as { refresh_token: string }).refresh_token;
      return r;
    };
    assert.equal((await refreshOnce()).status, 200);

    // 31 days without an upstream sign-in.
    server.app.core.clock!.advance(31 * DAY_MS);
    assert.equal(await plainLogin(target(), 'erin', password), false, 'the app password has lapsed');
    const lapsed = await refreshOnce();
    assert.equal(lapsed.status, 400);
    assert.equal((lapsed.body as { error: string }).error, 'invalid_grant');
    assert.match((lapsed.body as { error_description: string }).error_description, /sign in again through its identity provider/);
    await page.goto(`${server.url}/account`);
    assert.match(await page.locator('main').innerText(), /paused until you sign in through Hackerspace SSO again/);
    await w.finish();

    // A fresh upstream sign-in (another browser) restores both.
    const again = await openPage(browser);
    await again.page.goto(`${server.url}/account`);
    await signInUpstream(again.page);
    assert.doesNotMatch(await again.page.locator('main').innerText(), /paused/);
    assert.equal(await plainLogin(target(), 'erin', password), true, 'restored by the new sign-in');
    assert.equal((await refreshOnce()).status, 200);
    await again.finish();
  });

  it('issue 18 back-channel logout: signing out at the IdP stops the app password at once; the next sign-in restores it', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/account`);
    await signInUpstream(page);
    await page.getByLabel('Name of the app').fill('Conversations');
    await page.getByRole('button', { name: 'Create app password' }).click();
    const password = (await page.locator('.app-password').innerText()).trim();
    assert.equal(await plainLogin(target(), 'erin', password), true);

    // Sign out at the IdP: it POSTs a logout token to /upstream/space/backchannel-logout.
    await page.goto(`${idp.issuer}/session/end`);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL((u) => u.href.startsWith(idp.issuer) && !u.pathname.endsWith('/session/end'));
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) {
      refused = !(await plainLogin(target(), 'erin', password));
      if (!refused) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(refused, 'the app password stopped after the back-channel logout');
    await page.goto(`${server.url}/account`);
    assert.match(await page.locator('main').innerText(), /paused until you sign in through Hackerspace SSO again/);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.goto(`${server.url}/account`);
    await signInUpstream(page);
    assert.doesNotMatch(await page.locator('main').innerText(), /paused/);
    assert.equal(await plainLogin(target(), 'erin', password), true, 'restored by the new sign-in');
    await w.finish();
  });

  it('issue 18 back-channel logout: forged, wrong-audience, nonce-carrying, event-less and replayed logout tokens are refused', async () => {
    const key = await importJWK(idp.signingJwk, 'ES256');
    const url = `${server.url}/upstream/space/backchannel-logout`;
    const now = Math.floor(Date.now() / 1000);
    const token = (claims: Record<string, unknown>, signWith = key) =>
      new SignJWT({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, sub: 'erin', jti: `j-${Math.random()}`, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: idp.signingJwk.kid, typ: 'logout+jwt' })
        .setIssuer(idp.issuer).setAudience(idp.clientId).setIssuedAt(now).sign(signWith);
    const post = (logout_token: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token }) });
    const other = (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    for (const [name, t] of [
      ['garbage', 'not-a-jwt'],
      ['another key', await token({}, other as never)],
      ['wrong audience', await new SignJWT({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, sub: 'erin', jti: 'x1' }).setProtectedHeader({ alg: 'ES256', kid: idp.signingJwk.kid }).setIssuer(idp.issuer).setAudience('someone-else').setIssuedAt(now).sign(key)],
      ['nonce', await token({ nonce: 'n' })],
      ['no event', await token({ events: {} })],
      ['no sub', await token({ sub: undefined })],
    ] as const) {
      const res = await post(t);
      assert.equal(res.status, 400, name);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request', name);
    }
    const good = await token({ sub: 'nobody-here' });
    assert.equal((await post(good)).status, 200);
    assert.equal((await post(good)).status, 400, 'a logout token works once');
  });
});
