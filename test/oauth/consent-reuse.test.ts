import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, authUrl, authorizeInBrowser, pkcePair } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

// RFC 8252 section 8.6: an earlier consent is reused silently only when the
// redirect proves which application receives the code.

describe('issue 12 #5: consent reuse for public clients', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      clients: [
        { id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: ['https://app.example/cb'] },
        { id: 'native', name: 'Test Native App', public: true, application_type: 'native', redirect_uris: ['http://127.0.0.1/callback', 'org.example.app:/cb'] },
        // A public client on a claimed https redirect.
        { id: 'spa', name: 'Test SPA', public: true, redirect_uris: ['https://spa.example/cb'] },
      ],
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
    await server.app.accounts.create('bob@localhost', PASSWORD);
  });
  after(() => server.stop());

  const url = (client_id: string, redirect_uri: string, extra: Record<string, string> = {}) =>
    authUrl(server.url, {
      response_type: 'code',
      client_id,
      redirect_uri,
      scope: 'openid offline_access xmpp',
      state: 'st',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      ...extra,
    });

  /** Alice signed in, having approved `native` once through the loopback redirect on port 5000. */
  async function aliceApprovedNative(): Promise<FormBrowser> {
    const browser = new FormBrowser();
    const cb = await authorizeInBrowser(browser, url('native', 'http://127.0.0.1:5000/callback'));
    assert.ok(cb.searchParams.get('code'), `first approval gives a code: ${cb}`);
    return browser;
  }

  it('issue 12 #5: prompt=none from another loopback port after an earlier approval answers consent_required, no code', async () => {
    const browser = await aliceApprovedNative();
    const res = await browser.get(url('native', 'http://127.0.0.1:6000/callback', { prompt: 'none' }));
    assert.equal(res.status, 303);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.origin, 'http://127.0.0.1:6000');
    assert.equal(loc.searchParams.get('error'), 'consent_required');
    assert.match(loc.searchParams.get('error_description')!, /approved again/);
    assert.equal(loc.searchParams.get('code'), null);
    assert.equal(loc.searchParams.get('state'), 'st');
  });

  it('issue 12 #5: without prompt the consent page is shown again, saying the app was allowed before', async () => {
    const browser = await aliceApprovedNative();
    const res = await browser.get(url('native', 'http://127.0.0.1:5000/callback'));
    assert.equal(res.status, 200, 'a page, not a silent redirect');
    const html = await res.text();
    assert.match(html, /name="decision"/);
    assert.match(html, /You have allowed Test Native App before/);
    const cb = await authorizeInBrowser(browser, url('native', 'http://127.0.0.1:5000/callback'));
    assert.ok(cb.searchParams.get('code'), 'approving again gives a code');
  });

  it('issue 12 #5: a private-use scheme redirect is not silently re-approved either', async () => {
    const browser = new FormBrowser();
    const first = await authorizeInBrowser(browser, url('native', 'org.example.app:/cb'));
    assert.ok(first.searchParams.get('code'));
    const res = await browser.get(url('native', 'org.example.app:/cb', { prompt: 'none' }));
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.searchParams.get('error'), 'consent_required');
  });

  it('an exact https redirect still re-authorizes silently with prompt=none', async () => {
    const browser = new FormBrowser();
    const first = await authorizeInBrowser(browser, url('webapp', 'https://app.example/cb', { scope: 'openid' }));
    assert.ok(first.searchParams.get('code'));
    const res = await browser.get(url('webapp', 'https://app.example/cb', { scope: 'openid', prompt: 'none' }));
    assert.equal(res.status, 303);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.origin, 'https://app.example');
    assert.ok(loc.searchParams.get('code'), `silent code: ${loc}`);
  });

  it('prompt=consent for a confidential client shows the page without the "asked each time" notice', async () => {
    const browser = new FormBrowser();
    await authorizeInBrowser(browser, url('webapp', 'https://app.example/cb', { scope: 'openid' }));
    const res = await browser.get(url('webapp', 'https://app.example/cb', { scope: 'openid', prompt: 'consent' }));
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /name="decision"/);
    assert.doesNotMatch(html, /allowed Test Web App before/);
  });

  it('a public client on an exact https redirect also re-authorizes silently', async () => {
    const browser = new FormBrowser();
    const first = await authorizeInBrowser(browser, url('spa', 'https://spa.example/cb', { scope: 'openid' }));
    assert.ok(first.searchParams.get('code'));
    const res = await browser.get(url('spa', 'https://spa.example/cb', { scope: 'openid', prompt: 'none' }));
    assert.ok(new URL(res.headers.get('location')!).searchParams.get('code'));
  });

  it('a first request with prompt=none still answers consent_required with the plain reason', async () => {
    const browser = new FormBrowser();
    await authorizeInBrowser(browser, url('webapp', 'https://app.example/cb', { scope: 'openid' }), { username: 'bob@localhost' });
    const res = await browser.get(url('native', 'http://127.0.0.1:7000/callback', { prompt: 'none' }));
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.searchParams.get('error'), 'consent_required');
    assert.match(loc.searchParams.get('error_description')!, /has not approved/);
  });
});
