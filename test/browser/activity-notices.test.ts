// Issue 26 #4 and #5 end to end: real Chromium, real Prosody 0.12 with our
// module, the server attached as the component (own Redis), and a chat
// session of the user. An approval in the browser reaches that session as a
// chat message within 2 s; with the notices turned off, nothing arrives; the
// activity page lists the test's events in order with address and user
// agent and nothing secret; the ad-hoc command lists 10; the CLI prints them.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContextOptions } from 'playwright-core';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { describeEvent } from '../../src/oauth/account-life/security-event-text.js';
import { securityEventsOf } from '../../src/oauth/account-life/security-events.js';
import { launchChromium, openPage, SCREENSHOT_DIR, startCallbackServer, type CallbackServer, type WatchedPage } from '../helpers/chromium.js';
import { runCli } from '../helpers/cli.js';
import { PASSWORD, authUrl, pkcePair, tokenCall } from '../helpers/flow.js';
import { startProsodyStack, STACK_COMPONENT, type ProsodyStack } from '../helpers/prosody-stack.js';
import { waitFor } from '../helpers/wait.js';
import { chatSession, xml, type ChatSession } from '../helpers/xmpp-client.js';

const UA = 'Mozilla/5.0 (X11; Linux x86_64) ActivityTest/26 Chrome/120.0';
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 } };
const DOC_SHOTS = join(process.cwd(), 'docs', 'screenshots');
/** Set to refresh the docs' copies; otherwise the shots stay in test-output (a test run leaves the tree clean). */
const UPDATE_DOC_SHOTS = process.env.XO_UPDATE_DOC_SCREENSHOTS === '1';
const CMD = 'http://jabber.org/protocol/commands';
const JID = 'alice@localhost';

describe('issue 26: activity and "new access" notices (Chromium, Prosody 0.12)', { timeout: 120_000 }, () => {
  let browser: Browser;
  let callback: CallbackServer;
  let stack: ProsodyStack;
  let chat: ChatSession;
  let w: WatchedPage;
  /** Every secret the test handled: none may appear on the activity page. */
  const secrets: string[] = [PASSWORD];

  before(async () => {
    [browser, callback] = await Promise.all([launchChromium(), startCallbackServer()]);
    stack = await startProsodyStack({
      accounts: { [JID]: PASSWORD },
      server: {
        site_name: 'Example Chat',
        clients: [{ id: 'notes', name: 'Notes App', public: true, redirect_uris: [callback.redirectUri] }],
      },
    });
    chat = await chatSession(stack.target, 'alice', PASSWORD, 'phone');
    // Available, so a message to the bare JID reaches this session.
    await chat.send(xml('presence'));
    w = await openPage(browser, { userAgent: UA });
  });
  after(async () => {
    await w?.context.close().catch(() => {});
    await chat?.stop();
    await browser?.close();
    await stack?.stop();
    await callback?.stop();
  });

  const fromComponent = (s: { is(n: string): boolean; attrs: Record<string, string> }) => s.is('message') && s.attrs.from === STACK_COMPONENT.domain;
  const base = () => stack.server.url;

  it('issue 26: an approval in the browser reaches the user\u2019s chat session as a notice within 2 s', async () => {
    const { page } = w;
    const pkce = pkcePair();
    await page.goto(authUrl(base(), { response_type: 'code', client_id: 'notes', redirect_uri: callback.redirectUri, scope: 'openid xmpp', state: 's1', code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    await page.getByLabel('XMPP address').fill(JID);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    const started = Date.now();
    const arrival = chat.waitFor(fromComponent, 2_000);
    await page.getByRole('button', { name: 'Allow' }).click();
    const notice = await arrival;
    const took = Date.now() - started;
    assert.ok(took <= 2_000, `notice after ${took} ms`);
    assert.equal(notice.attrs.type, 'chat');
    assert.equal(notice.getChild('origin-id', 'urn:xmpp:sid:0')?.attrs.id, notice.attrs.id, 'XEP-0359 origin-id');
    const body = notice.getChildText('body') ?? '';
    assert.match(body, /Gave “Notes App” access/);
    assert.match(body, /ActivityTest\/26/, 'from which browser');
    assert.match(body, /127\.0\.0\.1/, 'from which address');
    assert.ok(body.includes(`${base()}/account`), 'how to undo it');

    await page.waitForURL((u) => u.href.startsWith(callback.redirectUri));
    const code = new URL(page.url()).searchParams.get('code')!;
    const tokens = await tokenCall(base(), { grant_type: 'authorization_code', code, code_verifier: pkce.verifier, redirect_uri: callback.redirectUri }, 'none', 'notes');
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const access = String(tokens.body.access_token);
    secrets.push(code, access);
    // A chat client logging in with that token is an event too.
    const tokenSession = await chatSession(stack.target, 'alice', access, 'token', { mechanism: 'OAUTHBEARER' });
    await tokenSession.stop();
  });

  it('issue 26: with notices turned off on the activity page, a new app password sends none', async () => {
    const { page } = w;
    await page.goto(`${base()}/account/activity`);
    assert.match(await page.locator('.notices-state').innerText(), /You get these messages/);
    await page.getByRole('button', { name: 'Stop these messages' }).click();
    await page.waitForURL(/\/account\/activity\?notice=/);
    assert.match(await page.locator('.notices-state').innerText(), /You do not get these messages/);

    const before = chat.received.filter(fromComponent).length;
    await page.goto(`${base()}/account`);
    await page.getByLabel('Name of the app').fill('Phone');
    await page.getByRole('button', { name: 'Create app password' }).click();
    const appPassword = (await page.locator('.app-password').first().innerText()).trim();
    assert.match(appPassword, /^[a-z]{4}( [a-z]{4}){4}$/);
    secrets.push(appPassword, appPassword.replace(/ /g, ''));
    // The notice was taken off the queue and dropped, not left for later.
    await waitFor('the notice queue to be empty', async () => (await stack.server.app.store.activity.takeNotices(1)).length === 0 || undefined, { timeoutMs: 2_000 });
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(chat.received.filter(fromComponent).length, before, 'no notice after the opt-out');
  });

  it('issue 26: /account/activity lists the events newest first, with address and user agent, and nothing secret', async () => {
    const { page } = w;
    await page.goto(`${base()}/account/activity`);
    const kinds = await page.locator('li.activity-event').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    const expected = ['app-password-created', 'xmpp-login', 'app-approved', 'web-sign-in', 'xmpp-login'];
    const wanted = kinds.filter((k) => expected.includes(k!));
    assert.deepEqual(wanted, expected, `the page's order: ${kinds.join(', ')}`);
    const approved = await page.locator('li[data-kind="app-approved"]').innerText();
    assert.match(approved, /Gave “Notes App” access/);
    assert.match(approved, /Browser or app: .*ActivityTest\/26/);
    assert.match(approved, /Address: 127\.0\.0\.1/);
    const text = await page.locator('main').innerText();
    assert.match(text, /A chat client logged in with access given to “Notes App”/);
    assert.match(text, /A chat client logged in with the password \(PLAIN\)/);
    const html = await page.content();
    for (const secret of secrets) assert.equal(html.includes(secret), false, `a secret (${secret.length} characters) is on the page`);

    // For the docs: light and dark at phone width, in this browser's session.
    const cookies = await w.context.cookies();
    await w.finish();
    for (const colorScheme of ['light', 'dark'] as const) {
      const shot = await openPage(browser, { ...PHONE, colorScheme, userAgent: UA });
      await shot.context.addCookies(cookies);
      await shot.page.goto(`${base()}/account/activity`);
      await shot.screenshot(`issue-26-activity-${colorScheme}`);
      if (UPDATE_DOC_SHOTS) {
        mkdirSync(DOC_SHOTS, { recursive: true });
        copyFileSync(join(SCREENSHOT_DIR, `issue-26-activity-${colorScheme}.png`), join(DOC_SHOTS, `activity-${colorScheme}.png`));
      }
      await shot.finish();
    }
  });

  it('issue 26: the ad-hoc command "Recent activity" lists the latest 10, and `xmpp-oauth user activity` prints them all', async () => {
    const { core } = stack.server.app;
    for (let i = 0; i < 8; i++) await createAppPassword(core, JID, { label: `Extra ${i}` });
    const events = await waitFor('the 8 new events', async () => {
      const all = await securityEventsOf(core, JID);
      return all[0]?.kind === 'app-password-created' && /Extra 7/.test(describeEvent(all[0])) && all.length >= 13 ? all : undefined;
    });

    const reply = await chat.iq(STACK_COMPONENT.domain, 'set', xml('command', { xmlns: CMD, node: 'activity', action: 'execute' }));
    assert.equal(reply.attrs.status, 'completed');
    const items = reply.getChild('x', 'jabber:x:data')?.getChildren('item') ?? [];
    assert.equal(items.length, 10);
    const what = items.map((item) => item.getChildren('field').find((f) => f.attrs.var === 'what')?.getChildText('value'));
    assert.deepEqual(what, events.slice(0, 10).map(describeEvent));

    const cli = await runCli(['user', 'activity', JID], { env: { XMPP_OAUTH_REDIS__URL: stack.server.redisUrl!, XMPP_OAUTH_XMPP__HOSTS: 'localhost' } });
    assert.equal(cli.code, 0, cli.stderr);
    const lines = cli.stdout.trimEnd().split('\n');
    assert.equal(lines.length, events.length);
    assert.ok(lines.every((line, i) => line.includes(describeEvent(events[i]!))), cli.stdout);
    assert.match(lines.find((l) => l.includes('Notes App') && l.includes('Gave'))!, /ActivityTest\/26 Chrome\/120\.0, at 127\.0\.0\.1/);
    for (const secret of secrets) assert.equal(cli.stdout.includes(secret), false, 'nothing secret on the command line either');
  });
});
