// Issue 22 #9: a just-in-time upstream account never takes a name of power.
// A real IdP (oidc-provider, test/helpers/oidc-idp.ts) signs people in through
// Chromium; whoever its username claim names an admin JID or a reserved user
// name gets the refusal page, an info line says why, and no account is made.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { pino } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { validate } from '../../src/config/load.js';
import { launchChromium, openPage } from '../helpers/chromium.js';
import { startTestIdp, type TestIdp } from '../helpers/oidc-idp.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

describe('issue 22 #9: upstream sign-in never creates an admin or reserved account', () => {
  let browser: Browser;
  let idp: TestIdp;
  let redis: RedisInstance;
  let app: App;
  let url: string;
  const lines: Line[] = [];

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    [browser, redis] = await Promise.all([launchChromium(), startRedis()]);
    idp = await startTestIdp({
      redirectUris: [`${url}/upstream/test/callback`],
      accounts: {
        // Each renamed their username claim at the IdP before a first sign-in here.
        mallory: { preferred_username: 'Boss' },
        trudy: { preferred_username: 'postmaster' },
        oscar: { preferred_username: 'Root' },
        peggy: { preferred_username: 'peggy' },
      },
    });
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Line);
          cb();
        },
      }),
    );
    const config = validate({
      issuer: url,
      http: { host: '127.0.0.1', port },
      redis: { url: redis.url },
      xmpp: { enabled: false, hosts: ['localhost'] },
      log: { level: 'info' },
      admins: ['boss@localhost'],
      upstream: { providers: [{ id: 'test', name: 'Test IdP', issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, host: 'localhost' }] },
    });
    app = await createApp(config, log);
    await app.start();
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    await redis?.stop();
    await idp?.stop();
  });

  async function signInUpstream(page: Page, login: string) {
    await page.goto(`${url}/account`);
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.getByLabel('Login').fill(login);
    await page.getByLabel('Password').fill('anything');
    const callback = page.waitForResponse((r) => r.url().startsWith(`${url}/upstream/test/callback`));
    await page.getByRole('button', { name: 'Sign in at Test IdP' }).click();
    return (await callback).status();
  }

  it('review #9: a claim naming an admin JID or a reserved name (any case) gets the refusal page and an info line; no account is made', async () => {
    for (const [login, jid, why] of [
      ['mallory', 'boss@localhost', /in admins/],
      ['trudy', 'postmaster@localhost', /reserved_names/],
      ['oscar', 'root@localhost', /reserved_names/],
    ] as const) {
      const w = await openPage(browser);
      const status = await signInUpstream(w.page, login);
      assert.equal(status, 403, login);
      assert.match(await w.page.locator('main').innerText(), /reserved here/);
      assert.equal(await app.store.accountExists(jid), false, `${jid} was not created`);
      const line = lines.find((l) => l.msg === 'upstream sign-in refused' && l.reason === 'reserved' && String(l.detail).startsWith(jid));
      assert.ok(line, `a log line for ${login}`);
      assert.equal(line.level, 30, 'at info');
      assert.match(String(line.detail), why);
      await w.context.close();
    }
  });

  it('an ordinary name is still created on the first sign-in', async () => {
    const w = await openPage(browser);
    assert.ok((await signInUpstream(w.page, 'peggy')) < 400);
    await w.page.waitForURL((u) => u.href.startsWith(`${url}/account`));
    assert.match(await w.page.locator('main').innerText(), /Signed in as peggy@localhost/);
    await w.finish();
  });
});
