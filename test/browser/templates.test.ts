// Operator theming in a real browser (issue 6): `template_path` overrides a
// template and the stylesheet, `site_name` and `security_policy` take effect,
// and the CSP watcher the other browser tests rely on really does see
// violations.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage, startCallbackServer, type CallbackServer } from '../helpers/chromium.js';
import { PASSWORD, authUrl, pkcePair } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

const VIEWS = join(import.meta.dirname, '..', '..', 'views');
const MARKER = 'Operated by the Example Chat volunteers';
const MARKER_COLOUR = 'rgb(1, 2, 3)';
/** The browser globals used in page functions (the project compiles without the DOM lib). */
interface InPage {
  getComputedStyle(e: unknown): { color: string };
}
const POLICY = "default-src 'self'; img-src 'self' https://logo.example";

describe('browser: operator template overrides', () => {
  let browser: Browser;
  let server: TestServer;
  let client: CallbackServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xo-templates-'));
    // The operator's login page: the stock one plus a banner of their own.
    const login = readFileSync(join(VIEWS, 'login.hbs'), 'utf8');
    writeFileSync(join(dir, 'login.hbs'), `<p class="operator-banner">${MARKER}</p>\n${login}`);
    // The operator's stylesheet: the stock one plus a rule for the banner.
    mkdirSync(join(dir, 'static'));
    const css = readFileSync(join(VIEWS, 'static', 'style.css'), 'utf8');
    writeFileSync(join(dir, 'static', 'style.css'), `${css}\n.operator-banner { color: ${MARKER_COLOUR}; font-style: italic; }\n`);
    // A careless override of the docs page with inline script and style, which the CSP must stop.
    writeFileSync(
      join(dir, 'docs.hbs'),
      '<h1 style="color: red">Inline</h1><script>document.title = "inline script ran";</script><p>{{t "docs.intro"}}</p>',
    );

    [browser, client] = await Promise.all([launchChromium(), startCallbackServer()]);
    server = await startServer(
      {
        site_name: 'Example Chat',
        template_path: dir,
        security_policy: POLICY,
        clients: [
          {
            id: 'webapp',
            name: 'Test Web App',
            secret_hash: secretHash(CLIENT_SECRET),
            redirect_uris: [client.redirectUri],
          },
        ],
      },
      { redis: false },
    );
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await client?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an overridden login template and stylesheet take effect; other pages keep the stock templates', async () => {
    const w = await openPage(browser);
    const { page } = w;
    const { challenge } = pkcePair();
    const response = await page.goto(
      authUrl(server.url, {
        response_type: 'code', client_id: 'webapp', redirect_uri: client.redirectUri, scope: 'openid xmpp',
        state: 'themed', code_challenge: challenge, code_challenge_method: 'S256',
      }),
    );
    assert.equal(response?.headers()['content-security-policy'], `${POLICY}; frame-ancestors 'none'`);
    const banner = page.locator('.operator-banner');
    assert.equal(await banner.innerText(), MARKER);
    assert.equal(await banner.evaluate((e) => (globalThis as unknown as InPage).getComputedStyle(e).color), MARKER_COLOUR, 'the operator\u2019s stylesheet is served');
    assert.equal(await page.locator('.site').innerText(), 'Example Chat');
    assert.match(await page.title(), /Sign in · Example Chat/);
    await w.screenshot('template-override-login');

    // The overridden login page still works, and the consent page falls back to the stock template.
    await page.getByLabel('XMPP address').fill('alice@localhost');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.equal((await page.locator('h1').innerText()).trim(), 'Allow Test Web App to use your account?');
    assert.equal(await page.locator('.operator-banner').count(), 0);
    await w.screenshot('template-override-consent');
    await w.finish();
  });

  it('the CSP watcher sees a violation: an override with inline script and style is blocked and reported', async () => {
    const w = await openPage(browser);
    const { page } = w;
    await page.goto(`${server.url}/docs`);
    await page.waitForLoadState('load');
    await w.screenshot('template-override-csp-blocked');
    assert.notEqual(await page.title(), 'inline script ran', 'the inline script was blocked');
    await page.waitForTimeout(100);
    await w.context.close();
    const csp = w.problems.filter((p) => /CSP violation|Content.Security.Policy/i.test(p));
    assert.ok(csp.some((p) => /script-src/.test(p)), `inline script reported:\n${w.problems.join('\n')}`);
    assert.ok(csp.some((p) => /style-src/.test(p)), `inline style reported:\n${w.problems.join('\n')}`);
  });
});
