// Issue 26 #1: passkeys in real Chromium, through its virtual authenticator
// (CDP WebAuthn domain), against a real server on a real redis-server. The
// issuer is http://localhost:PORT: WebAuthn has no RP ID for an IP address,
// and Chromium treats localhost as a secure context.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContextOptions, CDPSession, Locator, Page } from 'playwright-core';
import { launchChromium, openPage, SCREENSHOT_DIR, startCallbackServer, type CallbackServer, type WatchedPage } from '../helpers/chromium.js';
import { PASSWORD, authUrl, pkcePair, tokenCall } from '../helpers/flow.js';
import { freePort } from '../helpers/ports.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

/** A credential as CDP's WebAuthn.getCredentials gives it (with its private key): enough to clone the authenticator. */
interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 } };
const DOC_SHOTS = join(process.cwd(), 'docs', 'screenshots');
/** UPDATE_DOC_SCREENSHOTS=1 also copies the screenshots into docs/screenshots (otherwise only test-output/browser). */
const UPDATE_DOCS = process.env.UPDATE_DOC_SCREENSHOTS === '1';

describe('issue 26: passkeys in Chromium (virtual authenticator)', { timeout: 120_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let client: CallbackServer;
  let base: string;

  before(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    [browser, client] = await Promise.all([launchChromium(), startCallbackServer()]);
    server = await startServer({
      issuer: base,
      http: { host: '127.0.0.1', port },
      site_name: 'Example Chat',
      clients: [{ id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: [client.redirectUri] }],
    });
    await Promise.all(['alice', 'bob'].map((u) => server.app.accounts.create(`${u}@localhost`, PASSWORD)));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await client?.stop();
  });

  /** A platform authenticator with user verification, as a phone or laptop has; optionally holding `credential` (a clone). */
  async function authenticator(page: Page, credential?: VirtualCredential): Promise<{ cdp: CDPSession; id: string; credentials(): Promise<VirtualCredential[]> }> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId: id } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    if (credential) await cdp.send('WebAuthn.addCredential', { authenticatorId: id, credential });
    return { cdp, id, credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId: id })).credentials as VirtualCredential[] };
  }

  async function passwordSignIn(page: Page, user: string) {
    await page.goto(`${base}/account`);
    await page.getByLabel('XMPP address').fill(`${user}@localhost`);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/account`);
  }

  async function addPasskey(page: Page, name: string) {
    await page.goto(`${base}/account`);
    await page.getByLabel('Name of the new passkey').fill(name);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(`${base}/account?notice=account.notice.passkey_added`);
  }

  const passkeyNames = (page: Page) => page.locator('li.passkey-entry h3').allInnerTexts();

  /** Light and dark, at phone width: what `shoot` points at (the viewport when nothing), for the docs. */
  async function docShots(name: string, shoot: (w: WatchedPage) => Promise<Locator | undefined>) {
    for (const colorScheme of ['light', 'dark'] as const) {
      const w = await openPage(browser, { ...PHONE, colorScheme });
      const target = await shoot(w);
      const path = join(SCREENSHOT_DIR, `issue-26-passkeys-${name}-${colorScheme}.png`);
      await (target ?? w.page).screenshot({ path, animations: 'disabled' });
      if (UPDATE_DOCS) {
        mkdirSync(DOC_SHOTS, { recursive: true });
        copyFileSync(path, join(DOC_SHOTS, `passkeys-${name}-${colorScheme}.png`));
      }
      await w.finish();
    }
  }

  // The two passkeys' credentials as their authenticators held them at registration (first test),
  // and the laptop's after its first sign-in (second test).
  const registered: Partial<Record<'laptop' | 'key', VirtualCredential>> = {};
  let laptopNow: VirtualCredential | undefined;

  it('issue 26: alice registers two passkeys on /account (one per authenticator), names one, renames it; the list shows both', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await passwordSignIn(page, 'alice');
    assert.deepEqual(await passkeyNames(page), []);
    const laptop = await authenticator(page);
    await addPasskey(page, 'Laptop');
    [registered.laptop] = await laptop.credentials();
    assert.equal(registered.laptop?.isResidentCredential, true, 'a discoverable credential');
    assert.equal(registered.laptop?.rpId, 'localhost');
    // A second authenticator (the first one is excluded by the server's options anyway).
    await laptop.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: laptop.id });
    const key = await authenticator(page);
    await addPasskey(page, '');
    [registered.key] = await key.credentials();
    assert.notEqual(registered.key?.credentialId, registered.laptop?.credentialId);
    const names = await passkeyNames(page);
    assert.equal(names[0], 'Laptop');
    assert.match(names[1] ?? '', /^Passkey \d{4}-\d\d-\d\d$/, 'an unnamed passkey gets a dated name');
    await page.locator('li.passkey-entry').nth(1).getByLabel('Name', { exact: true }).fill('Security key');
    await page.getByRole('button', { name: `Rename the passkey ${names[1]}` }).click();
    await page.waitForURL(`${base}/account?notice=account.notice.passkey_renamed`);
    assert.deepEqual(await passkeyNames(page), ['Laptop', 'Security key']);
    assert.match(await page.locator('li.passkey-entry').first().innerText(), /added \d{4}-\d\d-\d\d \d\d:\d\d UTC · never used/);
    await w.finish();

    await docShots('manage', async ({ page: p }) => {
      await passwordSignIn(p, 'alice');
      return p.locator('section.passkeys');
    });
  });

  it('issue 26: "Sign in with a passkey" alone (no address, no password) completes an OAuth code flow; the ID token says amr hwk + mfa', async () => {
    assert.ok(registered.laptop, 'the first test registered the passkey');
    const w = await openPage(browser);
    const { page } = w;
    const laptop = await authenticator(page, registered.laptop);
    const pkce = pkcePair();
    await page.goto(authUrl(base, {
      response_type: 'code', client_id: 'webapp', redirect_uri: client.redirectUri, scope: 'openid', state: 'st-pk',
      code_challenge: pkce.challenge, code_challenge_method: 'S256', nonce: 'n-pk',
    }));
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(client.redirectUri));
    const back = new URL(page.url());
    assert.equal(back.searchParams.get('state'), 'st-pk');
    const tokens = await tokenCall(server.url, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, code_verifier: pkce.verifier, redirect_uri: client.redirectUri });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const claims = JSON.parse(Buffer.from(String(tokens.body.id_token).split('.')[1]!, 'base64url').toString()) as { sub: string; amr: string[] };
    assert.equal(claims.sub, 'xmpp:alice@localhost');
    assert.ok(claims.amr.includes('hwk') && claims.amr.includes('mfa') && !claims.amr.includes('pwd'), `amr ${claims.amr}`);
    [laptopNow] = await laptop.credentials();
    await w.finish();

    await docShots('sign-in', async ({ page: p }) => {
      await p.goto(`${base}/account`);
      await p.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
      return undefined;
    });
  });

  it('issue 26: a replayed assertion is refused (same ceremony, and a fresh one), and so is a cloned authenticator whose counter went back', async () => {
    const w = await openPage(browser);
    const { page } = w;
    assert.ok(laptopNow, 'the second test signed in with the laptop passkey');
    const live = await authenticator(page, laptopNow);
    // Two sign-ins with the current authenticator move its counter (and the server's) forward.
    const captured: Array<{ body: string; cookie: string }> = [];
    page.on('request', (req) => {
      if (req.url().endsWith('/passkeys/sign-in/verify')) void req.allHeaders().then((h) => captured.push({ body: req.postData() ?? '', cookie: h.cookie ?? '' }));
    });
    await page.goto(`${base}/account?from=login`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${base}/account`);
    await page.getByText('Signed in as alice@localhost').waitFor();
    const [now] = await live.credentials();
    assert.ok(now!.signCount > laptopNow!.signCount, `the authenticator counts uses (${laptopNow!.signCount} → ${now!.signCount})`);
    assert.equal(captured.length, 1);
    const { body, cookie } = captured[0]!;

    // The very same request again: its challenge was taken.
    const again = await fetch(`${server.url}/passkeys/sign-in/verify`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body });
    assert.equal(again.status, 401);
    assert.equal(((await again.json()) as { error: string }).error, 'expired');
    // The captured assertion under a fresh ceremony of this browser: it signed another challenge.
    const csrf = (JSON.parse(body) as { csrf: string }).csrf;
    const options = await page.request.post(`${base}/passkeys/sign-in/options`, { data: { csrf } });
    assert.equal(options.status(), 200);
    const replay = await page.request.post(`${base}/passkeys/sign-in/verify`, { data: body, headers: { 'content-type': 'application/json' } });
    assert.equal(replay.status(), 401);
    assert.equal(((await replay.json()) as { error: string }).error, 'refused');
    await w.finish();

    // A copy of the authenticator as it was at registration: its counter is behind the server's.
    const c = await openPage(browser);
    await authenticator(c.page, registered.laptop);
    await c.page.goto(`${base}/account`);
    await c.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await c.page.getByRole('alert').filter({ hasText: 'looks replayed or copied' }).waitFor();
    assert.equal(new URL(c.page.url()).pathname, '/account');
    assert.equal(await c.page.getByLabel('XMPP address').count(), 1, 'still on the login page');
    // The refusal is a 401 the browser reports in its console: that one is expected.
    c.problems.splice(0, c.problems.length, ...c.problems.filter((p) => !/status of 401/.test(p)));
    await c.finish();
  });

  it('issue 26: a removed passkey no longer signs in (the browser says so), and the list shows the one left', async () => {
    const w = await openPage(browser);
    await passwordSignIn(w.page, 'alice');
    await w.page.getByRole('button', { name: 'Remove the passkey Security key' }).click();
    await w.page.waitForURL(`${base}/account?notice=account.notice.passkey_removed`);
    assert.deepEqual(await passkeyNames(w.page), ['Laptop']);
    await w.finish();

    const gone = await openPage(browser);
    await authenticator(gone.page, registered.key);
    await gone.page.goto(`${base}/account`);
    await gone.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await gone.page.getByRole('alert').filter({ hasText: 'not registered here' }).waitFor();
    gone.problems.splice(0, gone.problems.length, ...gone.problems.filter((p) => !/status of 401/.test(p)));
    await gone.finish();
  });
});
