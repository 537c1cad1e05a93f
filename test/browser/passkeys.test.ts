// Issue 26 #1: passkeys in real Chromium, through its virtual authenticator
// (CDP WebAuthn domain), against a real server on a real redis-server. The
// issuer is http://localhost:PORT: WebAuthn has no RP ID for an IP address,
// and Chromium treats localhost as a secure context.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, CDPSession, Locator, Page } from 'playwright-core';
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

const PHONE = { width: 390, height: 844 };
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

  async function idTokenClaims(code: string, verifier: string): Promise<{ sub: string; amr: string[] }> {
    const tokens = await tokenCall(server.url, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return JSON.parse(Buffer.from(String(tokens.body.id_token).split('.')[1]!, 'base64url').toString()) as { sub: string; amr: string[] };
  }

  /** The same page light and dark, at phone width: what `target` points at (the viewport when nothing), for the docs. */
  async function docShots(page: Page, name: string, target?: Locator) {
    const size = page.viewportSize();
    await page.setViewportSize(PHONE);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      const path = join(SCREENSHOT_DIR, `issue-26-passkeys-${name}-${colorScheme}.png`);
      await (target ?? page).screenshot({ path, animations: 'disabled' });
      if (UPDATE_DOCS) {
        mkdirSync(DOC_SHOTS, { recursive: true });
        copyFileSync(path, join(DOC_SHOTS, `passkeys-${name}-${colorScheme}.png`));
      }
    }
    await page.emulateMedia({ colorScheme: null });
    if (size) await page.setViewportSize(size);
  }

  // The two passkeys' credentials as their authenticators held them at registration (first test), and
  // the laptop's as it is now: each sign-in moves its counter, so the next test's copy starts from there.
  const registered: Partial<Record<'laptop' | 'key', VirtualCredential>> = {};
  let laptopNow: VirtualCredential | undefined;

  /** A fresh browser holding the laptop passkey as it is now; `save()` keeps its counter for the next test. */
  async function withLaptop(): Promise<WatchedPage & { save(): Promise<void> }> {
    assert.ok(laptopNow, 'the first test registered the laptop passkey');
    const w = await openPage(browser);
    const laptop = await authenticator(w.page, laptopNow);
    return Object.assign(w, { save: async () => void ([laptopNow] = await laptop.credentials()) });
  }

  /** Drops the browser's report of the expected 401 answer (a refused ceremony) from the problems. */
  const expect401 = (w: WatchedPage) => w.problems.splice(0, w.problems.length, ...w.problems.filter((p) => !/status of 401/.test(p)));

  it('issue 26: alice registers two passkeys on /account (one per authenticator), names one, renames it; the list shows both', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await passwordSignIn(page, 'alice');
    assert.deepEqual(await passkeyNames(page), []);
    const laptop = await authenticator(page);
    await addPasskey(page, 'Laptop');
    [registered.laptop] = await laptop.credentials();
    laptopNow = registered.laptop;
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
    await docShots(page, 'manage', page.locator('section.passkeys'));
    await w.finish();
  });

  it('issue 26: "Sign in with a passkey" alone (no address, no password) completes an OAuth code flow; the ID token says amr hwk + mfa', async () => {
    const w = await withLaptop();
    const { page } = w;
    const pkce = pkcePair();
    await page.goto(authUrl(base, {
      response_type: 'code', client_id: 'webapp', redirect_uri: client.redirectUri, scope: 'openid', state: 'st-pk',
      code_challenge: pkce.challenge, code_challenge_method: 'S256', nonce: 'n-pk',
    }));
    await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
    await docShots(page, 'sign-in');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(client.redirectUri));
    const back = new URL(page.url());
    assert.equal(back.searchParams.get('state'), 'st-pk');
    const claims = await idTokenClaims(back.searchParams.get('code')!, pkce.verifier);
    assert.equal(claims.sub, 'xmpp:alice@localhost');
    assert.ok(claims.amr.includes('hwk') && claims.amr.includes('mfa') && !claims.amr.includes('pwd'), `amr ${claims.amr}`);
    await w.save();
    await w.finish();
  });

  it('issue 26: with a passkey, the password leads to a second step where "Use a passkey" finishes the code flow; the ID token says amr pwd + hwk + mfa', async () => {
    const w = await withLaptop();
    const { page } = w;
    const pkce = pkcePair();
    await page.goto(authUrl(base, {
      response_type: 'code', client_id: 'webapp', redirect_uri: client.redirectUri, scope: 'openid', state: 'st-2fa',
      code_challenge: pkce.challenge, code_challenge_method: 'S256', prompt: 'consent',
    }));
    await page.getByLabel('XMPP address').fill('alice@localhost');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
    await docShots(page, 'second-step');
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(client.redirectUri));
    const claims = await idTokenClaims(new URL(page.url()).searchParams.get('code')!, pkce.verifier);
    assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa', 'pwd']);
    await w.save();
    await w.finish();
  });

  it('issue 26: a replayed assertion is refused (same ceremony, and a fresh one), and so is a cloned authenticator whose counter went back', async () => {
    const w = await withLaptop();
    const { page } = w;
    const before = laptopNow!.signCount;
    const captured: Array<{ body: string; cookie: string }> = [];
    page.on('request', (req) => {
      if (req.url().endsWith('/passkeys/sign-in/verify')) void req.allHeaders().then((h) => captured.push({ body: req.postData() ?? '', cookie: h.cookie ?? '' }));
    });
    await page.goto(`${base}/account?from=login`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${base}/account`);
    await page.getByText('Signed in as alice@localhost').waitFor();
    await w.save();
    assert.ok(laptopNow!.signCount > before, `the authenticator counts uses (${before} → ${laptopNow!.signCount})`);
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
    assert.equal(await c.page.getByLabel('XMPP address').count(), 1, 'still on the login page');
    expect401(c);
    await c.finish();
  });

  it('issue 26: a removed passkey no longer signs in (the browser says so); the one left still does', async () => {
    const w = await withLaptop();
    await w.page.goto(`${base}/account`);
    await w.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await w.page.getByText('Signed in as alice@localhost').waitFor();
    await w.page.getByRole('button', { name: 'Remove the passkey Security key' }).click();
    await w.page.waitForURL(`${base}/account?notice=account.notice.passkey_removed`);
    assert.deepEqual(await passkeyNames(w.page), ['Laptop']);
    await w.save();
    await w.finish();

    const gone = await openPage(browser);
    await authenticator(gone.page, registered.key);
    await gone.page.goto(`${base}/account`);
    await gone.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await gone.page.getByRole('alert').filter({ hasText: 'not registered here' }).waitFor();
    expect401(gone);
    await gone.finish();
  });
});
