// Issue 26 #1: the passkey ceremony endpoints' refusals, without a browser
// (the ceremonies themselves run in real Chromium: test/browser/passkeys.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { csrfOf, FormBrowser } from '../helpers/browser.js';
import { PASSWORD } from '../helpers/flow.js';
import { startServer, startServerOnLocalhost, type TestServer } from '../helpers/server.js';


/** The cookie jar of a FormBrowser, to keep and put back one cookie as a replaying party would. */
const jar = (b: FormBrowser) => (b as unknown as { cookies: Map<string, string> }).cookies;

function postJson(b: FormBrowser, url: string, body: unknown) {
  return b.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('issue 26: passkey endpoints refuse what they must', () => {
  let server: TestServer;
  let base: string;
  let ipServer: TestServer;

  before(async () => {
    let named: { server: TestServer; base: string };
    [named, ipServer] = await Promise.all([startServerOnLocalhost(), startServer({}, { redis: false })]);
    ({ server, base } = named);
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await server?.stop();
    await ipServer?.stop();
  });

  async function loginPage(b: FormBrowser): Promise<string> {
    const html = await (await b.get(`${base}/account`)).text();
    assert.match(html, /Sign in with a passkey/);
    return csrfOf(html);
  }

  it('issue 26: without the page\'s CSRF token, or without a session (registration) or a pending sign-in (second step), nothing starts', async () => {
    const b = new FormBrowser();
    const csrf = await loginPage(b);
    for (const path of ['/passkeys/sign-in/options', '/passkeys/register/options', '/passkeys/second-factor/options']) {
      const res = await postJson(b, `${base}${path}`, { csrf: 'forged' });
      assert.equal(res.status, 403, path);
      assert.equal(((await res.json()) as { error: string }).error, 'csrf');
    }
    // A form post (not JSON) carries no token the JSON endpoints read.
    assert.equal((await b.post(`${base}/passkeys/sign-in/options`, { csrf })).status, 403);
    assert.equal((await postJson(b, `${base}/passkeys/register/options`, { csrf })).status, 401);
    assert.equal((await postJson(b, `${base}/passkeys/second-factor/options`, { csrf })).status, 401);
  });

  it('issue 26: a sign-in challenge belongs to the browser that asked for it and is taken once', async () => {
    const a = new FormBrowser();
    const csrf = await loginPage(a);
    const started = await postJson(a, `${base}/passkeys/sign-in/options`, { csrf });
    assert.equal(started.status, 200);
    const { options } = (await started.json()) as { options: { challenge: string; userVerification: string; allowCredentials?: unknown[]; rpId: string } };
    assert.equal(options.userVerification, 'required');
    assert.equal(options.rpId, 'localhost');
    assert.deepEqual(options.allowCredentials ?? [], [], 'discoverable: the browser offers its passkeys');
    const ceremony = jar(a).get('xo_passkey');
    assert.ok(ceremony, 'the challenge is named by an httpOnly cookie of this browser');

    // Another browser with its own valid CSRF token: no challenge is its.
    const b = new FormBrowser();
    const otherCsrf = await loginPage(b);
    const answer = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' }, clientExtensionResults: {} };
    const stolen = await postJson(b, `${base}/passkeys/sign-in/verify`, { csrf: otherCsrf, response: answer });
    assert.equal(stolen.status, 401);
    assert.equal(((await stolen.json()) as { error: string }).error, 'expired');

    // The browser that asked: its answer is checked once (here: no such passkey), and its challenge is gone after.
    const first = await postJson(a, `${base}/passkeys/sign-in/verify`, { csrf, response: answer });
    assert.equal(first.status, 401);
    assert.equal(((await first.json()) as { error: string }).error, 'unknown');
    jar(a).set('xo_passkey', ceremony);
    const second = await postJson(a, `${base}/passkeys/sign-in/verify`, { csrf, response: answer });
    assert.equal(((await second.json()) as { error: string }).error, 'expired');
  });

  it('issue 26: a server whose issuer is an IP address offers no passkeys (WebAuthn has no RP ID for one)', async () => {
    const b = new FormBrowser();
    const html = await (await b.get(`${ipServer.url}/account`)).text();
    assert.doesNotMatch(html, /passkey/i);
    const res = await postJson(b, `${ipServer.url}/passkeys/sign-in/options`, { csrf: csrfOf(html) });
    assert.equal(res.status, 404);
  });
});
