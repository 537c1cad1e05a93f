// Issue 26 #2, #3: TOTP as a second factor on the web sign-in, in real
// Chromium against a real server on a real redis-server; the ID token's
// acr/amr/auth_time checked by openid-client. Codes come from otpauth, as an
// authenticator app would make them from the key the page shows.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { SecondFactors } from '../../src/accounts/second-factor/second-factors.js';
import { silentLogger } from '../../src/log.js';
import { FormBrowser, parseForm } from '../helpers/browser.js';
import { launchChromium, openPage, SCREENSHOT_DIR, startCallbackServer, type CallbackServer } from '../helpers/chromium.js';
import { PASSWORD, authorizeInBrowser } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

const PHONE = { viewport: { width: 390, height: 844 } };
const DOC_SHOTS = join(process.cwd(), 'docs', 'screenshots');
/** UPDATE_DOC_SCREENSHOTS=1 also copies the screenshots into docs/screenshots (otherwise only test-output/browser). */
const UPDATE_DOCS = process.env.UPDATE_DOC_SCREENSHOTS === '1';
const ACR_2FA = 'urn:xmpp-oauth:acr:2fa';
const ACR_1FA = 'urn:xmpp-oauth:acr:1fa';
const PER_ACCOUNT = 5;

/** The code an authenticator app shows `offset` steps from now (1: the next one, still inside the window). */
const codeOf = (secret: string, offset = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + offset * 30_000 });

/** The page in light and dark at phone width, for the docs. */
async function shots(page: Page, name: string) {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const path = join(SCREENSHOT_DIR, `issue-26-second-factor-${name}-${colorScheme}.png`);
    await page.screenshot({ path, fullPage: true, animations: 'disabled' });
    if (UPDATE_DOCS) {
      mkdirSync(DOC_SHOTS, { recursive: true });
      copyFileSync(path, join(DOC_SHOTS, `second-factor-${name}-${colorScheme}.png`));
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

describe('issue 26: TOTP second factor on the web sign-in (Chromium, openid-client)', { timeout: 120_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let client: CallbackServer;
  let rp: oidc.Configuration;
  // Set by the first test: alice's TOTP key as the page showed it, and her recovery codes.
  let secret = '';
  let recovery: string[] = [];
  let usedCode = '';

  before(async () => {
    [browser, client] = await Promise.all([launchChromium(), startCallbackServer()]);
    server = await startServer({
      site_name: 'Example Chat',
      login_throttle: { per_account: PER_ACCOUNT, per_address: 1000, window: 60 },
      clients: [{ id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: [client.redirectUri] }],
    });
    await Promise.all(['alice', 'bob', 'carol', 'erin'].map((u) => server.app.accounts.create(`${u}@localhost`, PASSWORD)));
    rp = await oidc.discovery(new URL(server.url), 'webapp', CLIENT_SECRET, oidc.ClientSecretBasic(CLIENT_SECRET), { execute: [oidc.allowInsecureRequests] });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await client?.stop();
  });

  async function passwordStep(page: Page, user: string, url = `${server.url}/account`) {
    await page.goto(url);
    await page.getByLabel('XMPP address').fill(`${user}@localhost`);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /** A code flow as openid-client builds it; returns what it checks and the browser's way there. */
  async function codeFlow(extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: client.redirectUri,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    const redeem = async (callback: URL) => (await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true })).claims()!;
    return { url, redeem };
  }

  it('issue 26: TOTP is set up on /account: a QR code rendered by the server (no script, CSP intact), a first code confirms, ten recovery codes shown once; the key is stored encrypted', async () => {
    const w = await openPage(browser, PHONE);
    const { page } = w;
    await passwordStep(page, 'alice');
    await page.waitForURL(`${server.url}/account`);
    await page.getByText('Add an authenticator app').waitFor();
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.locator('svg.qr-code').waitFor();
    secret = (await page.locator('.totp-secret').innerText()).replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.equal(await page.locator('script').count(), 0, 'no script on the enrolment page');
    await shots(page, 'enrol');

    usedCode = codeOf(secret);
    await page.getByLabel('The 6-digit code the app shows now').fill(usedCode);
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    recovery = await page.locator('.recovery-codes li').allInnerTexts();
    assert.equal(recovery.length, 10);
    assert.equal(new Set(recovery).size, 10);
    for (const c of recovery) assert.match(c, /^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
    await page.getByRole('link', { name: 'I have saved them, continue' }).click();
    await page.getByText('Two-step sign-in is on.').waitFor();
    await page.getByText('Recovery codes left: 10').waitFor();
    await w.finish();

    // At rest: neither the key nor a recovery code in clear, anywhere under the account's keys.
    const redis = new Redis(server.redisUrl!);
    try {
      const keys = await redis.keys('*mfa:alice@localhost*');
      assert.ok(keys.length >= 1, 'a second-factor record');
      const read = async (k: string) => JSON.stringify((await redis.type(k)) === 'hash' ? await redis.hgetall(k) : await redis.smembers(k));
      const dump = (await Promise.all(keys.map(read))).join('\n');
      assert.ok(!dump.includes(secret), 'the TOTP key is not stored in clear');
      for (const c of recovery) assert.ok(!dump.includes(c) && !dump.includes(c.replace(/-/g, '')), 'recovery codes are digests');
    } finally {
      redis.disconnect();
    }
  });

  it('issue 26: a code flow asks for the code after the password; openid-client verifies acr 2fa, amr pwd+otp+mfa and auth_time; the same code again is refused', async () => {
    assert.ok(secret, 'the first test set TOTP up');
    const w = await openPage(browser, PHONE);
    const { page } = w;
    const flow = await codeFlow();
    const started = Math.floor(Date.now() / 1000);
    await passwordStep(page, 'alice', flow.url.href);
    await page.getByRole('heading', { name: 'One more step' }).waitFor();
    await shots(page, 'step');
    // The next step's code: the one shown at enrolment may still be the current one, and it is spent.
    usedCode = codeOf(secret, 1);
    await page.getByLabel('Code from your authenticator app').fill(usedCode);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${client.redirectUri}?**`);
    const claims = await flow.redeem(new URL(page.url()));
    assert.equal(claims.acr, ACR_2FA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.ok(typeof claims.auth_time === 'number' && claims.auth_time >= started - 1, `auth_time ${claims.auth_time}`);
    assert.deepEqual(rp.serverMetadata().acr_values_supported, [ACR_1FA, ACR_2FA]);
    await w.finish();

    // Another browser, the right password, the very same code: refused, still on the step.
    const again = await openPage(browser);
    await passwordStep(again.page, 'alice');
    await again.page.getByLabel('Code from your authenticator app').fill(usedCode);
    await again.page.getByRole('button', { name: 'Verify' }).click();
    await again.page.getByRole('alert').filter({ hasText: 'used already' }).waitFor();
    assert.equal(await again.page.getByText('Signed in as').count(), 0);
    again.problems.splice(0, again.problems.length, ...again.problems.filter((p) => !/status of 401/.test(p)));
    await again.finish();
  });

  it('issue 26: a recovery code signs in once; the second use is refused', async () => {
    const code = recovery[0]!;
    const w = await openPage(browser);
    await passwordStep(w.page, 'alice');
    await w.page.getByText('Use a recovery code instead').click();
    await w.page.getByLabel('Recovery code').fill(code.toUpperCase());
    await w.page.getByRole('button', { name: 'Use recovery code' }).click();
    await w.page.waitForURL(`${server.url}/account`);
    await w.page.getByText('Recovery codes left: 9').waitFor();
    await w.finish();

    const again = await openPage(browser);
    await passwordStep(again.page, 'alice');
    await again.page.getByText('Use a recovery code instead').click();
    await again.page.getByLabel('Recovery code').fill(code);
    await again.page.getByRole('button', { name: 'Use recovery code' }).click();
    await again.page.getByRole('alert').filter({ hasText: 'not right' }).waitFor();
    again.problems.splice(0, again.problems.length, ...again.problems.filter((p) => !/status of 401/.test(p)));
    await again.finish();
  });

  it('issue 26: a burst of wrong codes is throttled like passwords (at most the account budget checked), and then even the right code waits', async () => {
    const factors = new SecondFactors(server.app.store, { throttle: { per_account: 100, per_address: 100, window: 60 }, issuer: 'test' }, silentLogger);
    const key = factors.newTotpSecret();
    assert.equal((await factors.confirmTotp('carol@localhost', key, codeOf(key))).ok, true);
    const b = new FormBrowser();
    const login = await (await b.get(`${server.url}/account`)).text();
    const step = await b.submit(server.url, login, { username: 'carol@localhost', password: PASSWORD });
    const html = await step.text();
    assert.match(html, /One more step/);
    const form = parseForm(html);
    const right = new Set([-1, 0, 1, 2].map((o) => codeOf(key, o)));
    const wrong = ['111111', '222222', '333333', '444444', '555555'].find((c) => !right.has(c))!;
    const post = (code: string) => b.post(new URL(form.action, server.url).href, { ...form.hidden, step: 'second-factor', method: 'totp', code });
    const statuses = (await Promise.all(Array.from({ length: 8 }, () => post(wrong)))).map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 401).length, PER_ACCOUNT, `statuses ${statuses}`);
    assert.equal(statuses.filter((s) => s === 429).length, 8 - PER_ACCOUNT);
    const blocked = await post(codeOf(key, 1));
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
  });

  it('issue 26: a session of one factor asked for acr 2fa steps up through the second step (TOTP set up meanwhile); removing TOTP takes a recovery code', async () => {
    const b = new FormBrowser();
    const login = await (await b.get(`${server.url}/account`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(login)![1]!;
    assert.equal((await b.post(`${server.url}/account/login`, { csrf, username: 'erin@localhost', password: PASSWORD })).status, 303);
    const enrol = await (await b.post(`${server.url}/account/totp/start`, { csrf })).text();
    const key = /<p class="code-box totp-secret">([^<]+)<\/p>/.exec(enrol)![1]!.replace(/\s/g, '');
    const codes = await (await b.submit(server.url, enrol, { code: codeOf(key) })).text();
    const recoveryCode = /<li>([0-9a-z-]{14})<\/li>/.exec(codes)![1]!;

    const flow = await codeFlow({ acr_values: ACR_2FA });
    const step = await b.get(flow.url.href);
    const html = await step.text();
    assert.equal(step.status, 200);
    assert.match(html, /One more step/, 'the pwd session is asked for the second factor');
    // The form helper gathers every hidden field of the page: the TOTP form's method is named.
    const consent = await b.submit(server.url, html, { method: 'totp', code: codeOf(key, 1) });
    const callback = await b.submit(server.url, await consent.text(), { decision: 'approve' });
    const claims = await flow.redeem(new URL(callback.headers.get('location')!));
    assert.equal(claims.acr, ACR_2FA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);

    const removed = await b.post(`${server.url}/account/totp/remove`, { csrf, code: recoveryCode });
    assert.equal(removed.headers.get('location'), '/account?notice=account.notice.totp_off');
    assert.match(await (await b.get(`${server.url}/account`)).text(), /Add an authenticator app/);
    // Both changes are security events of the account.
    const activity = await (await b.get(`${server.url}/account/activity`)).text();
    assert.match(activity, /Added an authenticator app/);
    assert.match(activity, /Removed an authenticator app/);
  });

  it('issue 26: acr_values asking for two factors of an account with one gives unmet_authentication_requirements (so does an unknown value); 1fa is met; max_age=0 asks for the password again', async () => {
    const b = new FormBrowser();
    const strict = await codeFlow({ acr_values: ACR_2FA });
    const refused = await authorizeInBrowser(b, strict.url.href, { username: 'bob@localhost' });
    assert.equal(refused.searchParams.get('error'), 'unmet_authentication_requirements');
    const unknown = await codeFlow({ acr_values: 'urn:example:loa:4' });
    assert.equal((await authorizeInBrowser(b, unknown.url.href)).searchParams.get('error'), 'unmet_authentication_requirements');

    const plain = await codeFlow({ acr_values: `${ACR_1FA} ${ACR_2FA}` });
    const claims = await plain.redeem(await authorizeInBrowser(b, plain.url.href));
    assert.equal(claims.acr, ACR_1FA);
    assert.deepEqual(claims.amr, ['pwd']);

    // Signed in already: straight back without max_age, the password again with max_age=0.
    const quiet = await codeFlow();
    const direct = await b.get(quiet.url.href);
    assert.equal(direct.status, 303);
    const fresh = await codeFlow({ max_age: '0' });
    const page = await (await b.get(fresh.url.href)).text();
    assert.match(page, /name="password"/, 'max_age=0 shows the login page');
    await new Promise((r) => setTimeout(r, 1100));
    const again = await fresh.redeem(await authorizeInBrowser(b, fresh.url.href, { username: 'bob@localhost' }));
    assert.ok((again.auth_time as number) > (claims.auth_time as number), 'a fresh auth_time');
  });
});
