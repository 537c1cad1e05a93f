// local_login: false (issue 18): the login page offers only the upstream
// providers, and a password posted anyway is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD } from '../helpers/flow.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('local_login: false', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(
      {
        local_login: false,
        upstream: { providers: [{ id: 'corp', name: 'Corp SSO', issuer: 'https://sso.example.invalid/', client_id: 'xmpp', client_secret: 'secret' }] },
      },
      { redis: false },
    );
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  it('issue 18: the login page shows "Sign in with Corp SSO" and no password form; a posted password is refused', async () => {
    const browser = new FormBrowser();
    const html = await (await browser.get(`${server.url}/account`)).text();
    assert.match(html, /Sign in with Corp SSO/);
    assert.match(html, /action="\/upstream\/corp\/login"/);
    assert.doesNotMatch(html, /type="password"/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const res = await browser.post(`${server.url}/account/login`, { csrf, username: 'alice', password: PASSWORD });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /Sign-in with a password is turned off here/);
    assert.match(await (await browser.get(`${server.url}/account`)).text(), /Sign in with Corp SSO/, 'still signed out');
  });

  it('issue 18: an unreachable provider gets a clear page, not a crash', async () => {
    const browser = new FormBrowser();
    const html = await (await browser.get(`${server.url}/account`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const res = await browser.post(`${server.url}/upstream/corp/login`, { csrf, return_to: '/account' });
    assert.equal(res.status, 503);
    assert.match(await res.text(), /cannot be reached right now/);
    const unknown = await browser.post(`${server.url}/upstream/nope/login`, { csrf, return_to: '/account' });
    assert.equal(unknown.status, 404);
  });
});
