// Issue 12 #9: a client authenticates the way it registered; a device grant
// belongs to its client and a failed device decision changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { approveDevice } from '../helpers/device.js';
import { PASSWORD } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const REGISTRATION_KEY = 'registration-key-for-tests-0123456789abcdef';

async function post(url: string, body: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });

describe('issue 12 #9: client and device-grant rules', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      registration_key: REGISTRATION_KEY,
      device_poll_interval: 1,
      clients: [
        { id: 'pinned', name: 'Pinned', secret_hash: secretHash(CLIENT_SECRET), token_endpoint_auth_method: 'client_secret_basic', grant_types: ['refresh_token'] },
        { id: 'either', name: 'Either', secret_hash: secretHash(CLIENT_SECRET), grant_types: ['refresh_token'] },
        { id: 'tv', name: 'Test TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
        { id: 'tv2', name: 'Another TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
      ],
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  const refresh = { grant_type: 'refresh_token', refresh_token: 'not-a-real-token' };

  it('issue 12 #9: token_endpoint_auth_method is enforced: a client_secret_basic client cannot use client_secret_post, nor the reverse', async () => {
    const reg = await fetch(`${server.url}/oauth2/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Dyn', redirect_uris: ['https://dyn.example/cb'], client_uri: 'https://dyn.example/' }),
    });
    const dyn = (await reg.json()) as { client_id: string; client_secret: string; token_endpoint_auth_method: string };
    assert.equal(dyn.token_endpoint_auth_method, 'client_secret_basic');
    const viaPost = await post(`${server.url}/oauth2/token`, { ...refresh, client_id: dyn.client_id, client_secret: dyn.client_secret });
    assert.equal(viaPost.status, 401);
    assert.equal(viaPost.body.error, 'invalid_client');
    assert.match(String(viaPost.body.error_description), /registered for client_secret_basic/);
    assert.equal((await post(`${server.url}/oauth2/token`, refresh, basic(dyn.client_id, dyn.client_secret))).status, 400, 'basic passes authentication');

    const postReg = await fetch(`${server.url}/oauth2/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Dyn post', redirect_uris: ['https://dyn.example/cb'], client_uri: 'https://dyn.example/', token_endpoint_auth_method: 'client_secret_post' }),
    });
    const dynPost = (await postReg.json()) as { client_id: string; client_secret: string };
    assert.equal(postReg.status, 201, JSON.stringify(dynPost));
    assert.equal((await post(`${server.url}/oauth2/token`, refresh, basic(dynPost.client_id, dynPost.client_secret))).status, 401);
    const postOk = await post(`${server.url}/oauth2/token`, { ...refresh, client_id: dynPost.client_id, client_secret: dynPost.client_secret });
    assert.equal(postOk.status, 400, JSON.stringify(postOk.body));

    // Static clients: pinned in the config, or either way when the key is absent.
    assert.equal((await post(`${server.url}/oauth2/token`, { ...refresh, client_id: 'pinned', client_secret: CLIENT_SECRET })).status, 401);
    assert.equal((await post(`${server.url}/oauth2/token`, refresh, basic('pinned', CLIENT_SECRET))).status, 400);
    assert.equal((await post(`${server.url}/oauth2/token`, { ...refresh, client_id: 'either', client_secret: CLIENT_SECRET })).status, 400);
    assert.equal((await post(`${server.url}/oauth2/token`, refresh, basic('either', CLIENT_SECRET))).status, 400);
  });

  const start = async (clientId: string, scope: string) =>
    (await post(`${server.url}/oauth2/device`, { client_id: clientId, scope })).body as { device_code: string; user_code: string; verification_uri: string };
  const poll = (clientId: string, deviceCode: string) => post(`${server.url}/oauth2/token`, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId });

  it('issue 12 #9: a poll by the wrong client does not delete an approved device grant', async () => {
    const d = await start('tv', 'openid');
    const page = await approveDevice(new FormBrowser(), d.verification_uri, d.user_code);
    assert.equal(page.status, 200);
    const stolen = await poll('tv2', d.device_code);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    const own = await poll('tv', d.device_code);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.ok(own.body.access_token);
  });

  /** Signs `user` in on the verification page and returns the consent page's HTML (not submitted). */
  async function consentPage(browser: FormBrowser, d: { verification_uri: string; user_code: string }, user: string) {
    const entry = await browser.get(d.verification_uri);
    let res = await browser.submit(d.verification_uri, await entry.text(), { user_code: d.user_code });
    let html = await res.text();
    if (html.includes('name="password"')) {
      res = await browser.submit(d.verification_uri, html, { username: user, password: PASSWORD });
      html = await res.text();
    }
    assert.match(html, /name="decision"/);
    return html;
  }

  it('issue 12 #9: a device consent whose decision fails records no grant', async () => {
    await server.app.accounts.create('bob@localhost', PASSWORD);
    await server.app.accounts.create('mallory@localhost', PASSWORD);
    // One code, two people at the consent page (a code read over a shoulder); both approve at once.
    const d = await start('tv2', 'openid xmpp');
    const bob = new FormBrowser();
    const mallory = new FormBrowser();
    const pages = [await consentPage(bob, d, 'bob@localhost'), await consentPage(mallory, d, 'mallory@localhost')];
    const [b, m] = await Promise.all([
      bob.submit(d.verification_uri, pages[0]!, { decision: 'approve' }),
      mallory.submit(d.verification_uri, pages[1]!, { decision: 'approve' }),
    ]);
    assert.deepEqual([b.status, m.status].sort(), [200, 410], 'exactly one decision takes effect');
    const winner = b.status === 200 ? 'bob@localhost' : 'mallory@localhost';
    const loser = winner === 'bob@localhost' ? 'mallory@localhost' : 'bob@localhost';
    assert.ok(await server.app.store.findGrant(winner, 'tv2'));
    assert.equal(await server.app.store.findGrant(loser, 'tv2'), null, 'the refused consent left nothing behind');
    const tokens = await poll('tv2', d.device_code);
    assert.equal(tokens.status, 200);
  });

  it('issue 12 #9: consent to an already decided device code neither widens nor creates a grant (core)', async () => {
    const { approveDevice: approve } = await import('../../src/oauth/grants/grants.js');
    const client = (await server.app.core.clients.find('tv'))!;
    const d = await start('tv', 'openid xmpp offline_access');
    const userCode = d.user_code.replace('-', '');
    assert.equal(await server.app.store.decideDevice(userCode, { status: 'denied' }), true);
    await server.app.accounts.create('carl@localhost', PASSWORD);
    assert.equal(await approve(server.app.store, userCode, { jid: 'carl@localhost', authTime: 1 }, client, ['openid', 'xmpp']), false);
    assert.equal(await server.app.store.findGrant('carl@localhost', 'tv'), null);
  });
});
