import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, authUrl, authorizeInBrowser, pkcePair, tokenCall } from '../helpers/flow.js';
import { startServer, type TestServer } from '../helpers/server.js';

const REDIRECT = 'https://app.example/cb';

describe('issue 12 #8: max_age and prompt=login honour a login made in this request', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  const request = (extra: Record<string, string>) => {
    const { verifier, challenge } = pkcePair();
    const url = authUrl(server.url, {
      response_type: 'code',
      client_id: 'webapp',
      redirect_uri: REDIRECT,
      scope: 'openid',
      nonce: 'n-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    });
    return { url, verifier };
  };

  /** Walks login and consent pages by hand, counting the login pages, until the client's redirect. */
  async function walk(browser: FormBrowser, url: string): Promise<{ callback: URL; logins: number }> {
    let res = await browser.get(url);
    let logins = 0;
    for (let step = 0; step < 8; step++) {
      if (res.status === 303) {
        const location = new URL(res.headers.get('location')!, url);
        if (location.origin !== server.url) return { callback: location, logins };
        res = await browser.get(location.toString());
        continue;
      }
      const html = await res.text();
      assert.equal(res.status, 200, html.slice(0, 300));
      if (html.includes('name="password"')) {
        logins++;
        res = await browser.submit(url, html, { username: 'alice@localhost', password: PASSWORD });
      } else {
        res = await browser.submit(url, html, { decision: 'approve' });
      }
    }
    assert.fail('no redirect to the client after 8 steps: the login page keeps coming back');
  }

  async function idTokenAuthTime(callback: URL, verifier: string): Promise<number> {
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const payload = JSON.parse(Buffer.from(String(res.body.id_token).split('.')[1]!, 'base64url').toString()) as { auth_time: number };
    return payload.auth_time;
  }

  it('issue 12 #8: max_age=0 ends with a code after one login, from a fresh browser', async () => {
    const { url, verifier } = request({ max_age: '0' });
    const before = Math.floor(Date.now() / 1000);
    const { callback, logins } = await walk(new FormBrowser(), url);
    assert.equal(logins, 1);
    assert.ok(callback.searchParams.get('code'), `a code: ${callback}`);
    assert.ok((await idTokenAuthTime(callback, verifier)) >= before, 'auth_time is the login just made');
  });

  it('issue 12 #8: max_age=0 with an existing session asks for one new login, then gives a code', async () => {
    const browser = new FormBrowser();
    await authorizeInBrowser(browser, request({}).url);
    const { url, verifier } = request({ max_age: '0' });
    const before = Math.floor(Date.now() / 1000);
    const { callback, logins } = await walk(browser, url);
    assert.equal(logins, 1, 'the existing session is not enough for max_age=0');
    assert.ok(callback.searchParams.get('code'));
    assert.ok((await idTokenAuthTime(callback, verifier)) >= before);
  });

  it('issue 12 #8: prompt=login together with max_age=0 ends with a code after one login', async () => {
    const browser = new FormBrowser();
    await authorizeInBrowser(browser, request({}).url);
    const { callback, logins } = await walk(browser, request({ prompt: 'login', max_age: '0' }).url);
    assert.equal(logins, 1);
    assert.ok(callback.searchParams.get('code'));
  });

  it('a session younger than max_age needs no new login', async () => {
    const browser = new FormBrowser();
    await authorizeInBrowser(browser, request({}).url);
    const { callback, logins } = await walk(browser, request({ max_age: '3600' }).url);
    assert.equal(logins, 0);
    assert.ok(callback.searchParams.get('code'));
  });
});
