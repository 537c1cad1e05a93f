import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, tokenCall } from '../helpers/flow.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('abuse resistance', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      token_throttle: { per_client: 5, failed_auth: 3, window: 60 },
      login_throttle: { per_account: 3, per_address: 50, window: 60 },
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  const wrongSecret = () =>
    fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('native-x:nope').toString('base64')}` },
      body: 'grant_type=refresh_token&refresh_token=x',
    });

  it('throttles failed client authentication per client_id with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await wrongSecret()).status, 401);
    const blocked = await wrongSecret();
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    assert.equal(((await blocked.json()) as { error: string }).error, 'temporarily_unavailable');
  });

  it('throttles token-endpoint requests per client', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: 'x' })).status);
    assert.deepEqual(statuses, [400, 400, 400, 400, 400, 429]);
  });

  it('throttles failed logins per account on the login page, with a clear message and Retry-After', async () => {
    const browser = new FormBrowser();
    const page = async () => (await browser.get(`${server.url}/account`)).text();
    for (let i = 0; i < 3; i++) {
      const res = await browser.submit(server.url, await page(), { username: 'alice@localhost', password: 'wrong password' });
      assert.equal(res.status, 401);
    }
    const res = await browser.submit(server.url, await page(), { username: 'alice@localhost', password: PASSWORD });
    assert.equal(res.status, 429, 'even the right password waits');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.match(await res.text(), /Too many failed attempts\. Try again in \d+ seconds/);
  });

  it('refuses oversized bodies with 413 and an OAuth error, never a 5xx', async () => {
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${'a'.repeat(64 * 1024)}`,
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
  });

  it('refuses a non-form token request with invalid_request', async () => {
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type":"refresh_token"}',
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
  });

  it('drops a client that never finishes its request headers (slowloris) within the header timeout', async () => {
    const { port } = new URL(server.url);
    const sock = connect({ host: '127.0.0.1', port: Number(port) });
    const started = Date.now();
    let answer = '';
    sock.on('data', (d) => (answer += d.toString('latin1')));
    sock.on('connect', () => sock.write('POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'));
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    const held = Date.now() - started;
    // headersTimeout 10 s, checked every 2 s: closed at 10-12 s; the upper bound leaves room for a busy machine.
    assert.ok(held >= 9_000 && held < 20_000, `socket held for ${held} ms`);
    assert.match(answer, /^HTTP\/1\.1 408/, 'told why');
  });
});
