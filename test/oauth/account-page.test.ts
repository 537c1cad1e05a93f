import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, authUrl, authorizeInBrowser, pkcePair, tokenCall } from '../helpers/flow.js';
import { CLIENT_SECRET, startServer, type TestServer } from '../helpers/server.js';

describe('account page', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    await server.app.accounts.create('alice@localhost', PASSWORD);
    await server.app.accounts.create('bob@localhost', PASSWORD);
  });
  after(() => server.stop());

  async function tokensFor(browser: FormBrowser, username: string) {
    const { verifier, challenge } = pkcePair();
    const cb = await authorizeInBrowser(
      browser,
      authUrl(server.url, {
        response_type: 'code', client_id: 'webapp', redirect_uri: 'https://app.example/cb', scope: 'openid offline_access xmpp',
        code_challenge: challenge, code_challenge_method: 'S256',
      }),
      { username },
    );
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code: cb.searchParams.get('code')!, code_verifier: verifier, redirect_uri: 'https://app.example/cb' });
    assert.equal(res.status, 200);
    return res.body as { access_token: string; refresh_token: string };
  }

  const introspect = async (token: string) =>
    ((await (await fetch(`${server.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`webapp:${CLIENT_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ token }),
    })).json()) as { active: boolean });

  it('lists the user\u2019s grants and revokes one, after which its tokens are inactive', async () => {
    const browser = new FormBrowser();
    const tokens = await tokensFor(browser, 'alice@localhost');
    assert.equal((await introspect(tokens.access_token)).active, true);

    // The same browser is signed in already: the account page lists the app.
    const page = await browser.get(`${server.url}/account`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /Test Web App/);
    assert.match(html, /app\.example/);
    assert.match(html, /Use your XMPP account as you/);
    const grantId = /name="grant" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(grantId);

    const revoked = await browser.submit(server.url, html.slice(html.indexOf('<form method="post" action="/account/revoke"')), {});
    assert.equal(revoked.status, 303);
    assert.equal(revoked.headers.get('location'), '/account?notice=account.notice.revoked');
    assert.equal((await introspect(tokens.access_token)).active, false);
    assert.equal((await introspect(tokens.refresh_token)).active, false);
    assert.match(await (await browser.get(`${server.url}/account`)).text(), /You have not authorized any application/);
  });

  it('never revokes another user\u2019s grant', async () => {
    const alice = new FormBrowser();
    const aliceTokens = await tokensFor(alice, 'alice@localhost');
    const aliceGrant = /name="grant" value="([^"]+)"/.exec(await (await alice.get(`${server.url}/account`)).text())![1]!;
    const bob = new FormBrowser();
    await tokensFor(bob, 'bob@localhost');
    const bobPage = await (await bob.get(`${server.url}/account`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(bobPage)![1]!;
    const res = await bob.post(`${server.url}/account/revoke`, { csrf, grant: aliceGrant });
    assert.equal(res.headers.get('location'), '/account?notice=account.notice.missing');
    assert.equal((await introspect(aliceTokens.access_token)).active, true);
  });

  it('asks an anonymous visitor to sign in, and signs out', async () => {
    const browser = new FormBrowser();
    const login = await browser.get(`${server.url}/account`);
    const html = await login.text();
    assert.match(html, /Sign in to see and manage/);
    const after = await browser.submit(server.url, html, { username: 'alice', password: PASSWORD });
    assert.equal(after.status, 303, 'a bare localpart gets the first served domain');
    const page = await (await browser.get(`${server.url}/account`)).text();
    assert.match(page, /Signed in as alice@localhost/);
    const out = await browser.submit(server.url, page.slice(page.indexOf('<form method="post" action="/account/logout"')), {});
    assert.equal(out.status, 303);
    assert.match(await (await browser.get(`${server.url}/account`)).text(), /Sign in to see and manage/);
  });

  it('refuses a revoke without a CSRF token', async () => {
    const browser = new FormBrowser();
    await tokensFor(browser, 'alice@localhost');
    const res = await browser.post(`${server.url}/account/revoke`, { grant: 'whatever' });
    assert.equal(res.status, 403);
  });
});
