import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { FormBrowser } from '../helpers/browser.js';
import { approveDevice } from '../helpers/device.js';
import { PASSWORD } from '../helpers/flow.js';
import { startServer, type TestServer } from '../helpers/server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

async function post(url: string, body: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('device authorization grant (RFC 8628)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ device_poll_interval: 1 });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  const start = async (scope = 'openid offline_access xmpp') =>
    (await post(`${server.url}/oauth2/device`, { client_id: 'tv', scope })).body as {
      device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; expires_in: number; interval: number;
    };
  const poll = (deviceCode: string) => post(`${server.url}/oauth2/token`, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'tv' });

  it('openid-client: initiate, approve through the page (typed in lower case without the dash), poll for tokens', async () => {
    const config = new oidc.Configuration(
      (await oidc.discovery(new URL(server.url), 'tv', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] })).serverMetadata(),
      'tv', undefined, oidc.None(),
    );
    oidc.allowInsecureRequests(config);
    const response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid offline_access xmpp' });
    assert.match(response.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(response.verification_uri, `${server.url}/oauth2/device`);
    assert.equal(response.expires_in, 600);
    const approved = approveDevice(new FormBrowser(), response.verification_uri, response.user_code.replace('-', '').toLowerCase());
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, response);
    const page = await approved;
    assert.equal(page.status, 200);
    assert.match(page.html, /Device connected/);
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token);
    assert.equal(tokens.claims()?.sub, 'xmpp:alice@localhost');
  });

  it('says authorization_pending, then slow_down with a longer interval when polled too fast', async () => {
    const d = await start();
    assert.equal(d.interval, 1);
    const first = await poll(d.device_code);
    assert.equal(first.body.error, 'authorization_pending');
    const fast = await poll(d.device_code);
    assert.equal(fast.body.error, 'slow_down');
    assert.match(fast.body.error_description as string, /at least 6 seconds/, 'the interval grew by 5 s');
    await sleep(1100);
    assert.equal((await poll(d.device_code)).body.error, 'slow_down', 'the old interval is no longer enough');
  });

  it('issues tokens exactly once; a second redemption is refused', async () => {
    const d = await start();
    await approveDevice(new FormBrowser(), d.verification_uri_complete, d.user_code);
    const ok = await poll(d.device_code);
    assert.equal(ok.status, 200);
    assert.ok(ok.body.access_token);
    await sleep(1100);
    const again = await poll(d.device_code);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'expired_token');
  });

  it('gives access_denied after the user denies', async () => {
    const d = await start();
    const page = await approveDevice(new FormBrowser(), d.verification_uri, d.user_code, { decision: 'deny' });
    assert.match(page.html, /Request denied/);
    assert.equal((await poll(d.device_code)).body.error, 'access_denied');
  });

  it('prefills the code from verification_uri_complete', async () => {
    const d = await start();
    const html = await (await fetch(d.verification_uri_complete)).text();
    assert.match(html, new RegExp(`value="${d.user_code}"`));
  });

  it('shows a clear page for an unknown or already used code, and throttles guessing', async () => {
    const browser = new FormBrowser();
    const entry = await (await browser.get(`${server.url}/oauth2/device`)).text();
    const unknown = await browser.submit(server.url, entry, { user_code: 'BCDF-GHJK' });
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /not valid or has expired/);

    const d = await start();
    await approveDevice(new FormBrowser(), d.verification_uri, d.user_code);
    const used = await browser.submit(server.url, entry, { user_code: d.user_code });
    assert.match(await used.text(), /already been used/);

    let last = 0;
    for (let i = 0; i < 25 && last !== 429; i++) {
      const res = await browser.submit(server.url, entry, { user_code: 'ZZZZ-ZZZZ' });
      last = res.status;
      if (last === 429) assert.ok(Number(res.headers.get('retry-after')) > 0);
    }
    assert.equal(last, 429, 'guessing is throttled');
  });

  it('authenticates confidential clients and refuses clients without the device grant', async () => {
    const noAuth = await post(`${server.url}/oauth2/device`, { client_id: 'webapp' });
    assert.equal(noAuth.status, 401);
    assert.equal(noAuth.body.error, 'invalid_client');
    const notAllowed = await post(`${server.url}/oauth2/device`, { client_id: 'native' });
    assert.equal(notAllowed.body.error, 'unauthorized_client');
  });
});

describe('device code expiry', () => {
  it('answers expired_token once the code has expired', async () => {
    const server = await startServer({ device_code_ttl: 1, device_poll_interval: 1 });
    try {
      const d = (await post(`${server.url}/oauth2/device`, { client_id: 'tv' })).body as { device_code: string };
      await sleep(1200);
      const res = await post(`${server.url}/oauth2/token`, { grant_type: DEVICE_GRANT, device_code: d.device_code, client_id: 'tv' });
      assert.equal(res.body.error, 'expired_token');
    } finally {
      await server.stop();
    }
  });
});
