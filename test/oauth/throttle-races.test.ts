// Issue 12: throttles that a concurrent burst, an anonymous caller or a
// proxying client could get around or turn against everyone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, tokenCall } from '../helpers/flow.js';
import { freePort } from '../helpers/ports.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';

const CLIENTS = [
  {
    id: 'webapp',
    name: 'Test Web App',
    secret_hash: secretHash(CLIENT_SECRET),
    redirect_uris: ['https://app.example/cb'],
    grant_types: ['authorization_code', 'refresh_token', 'password'],
  },
  { id: 'tv', name: 'Test TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
];

describe('issue 12: login throttle under a concurrent burst', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      clients: CLIENTS,
      allowed_grant_types: ['authorization_code', 'refresh_token', 'device_code', 'password'],
      login_throttle: { per_account: 5, per_address: 1000, window: 600 },
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  it('issue 12 #2: of 60 concurrent password grants against one account at most the limit are checked; the right password sent 45th is refused', async () => {
    const call = (i: number) =>
      tokenCall(server.url, { grant_type: 'password', username: 'alice@localhost', password: i === 44 ? PASSWORD : `wrong password ${i}`, scope: 'openid xmpp' });
    // Two concurrent bursts, so the right password surely arrives after the first 44 (one burst of 60 has no order).
    const early = await Promise.all(Array.from({ length: 44 }, (_, i) => call(i)));
    const results = [...early, ...(await Promise.all(Array.from({ length: 16 }, (_, i) => call(44 + i))))];
    const checked = results.filter((r) => r.status === 200 || /wrong username or password/.test(String(r.body.error_description)));
    const throttled = results.filter((r) => /too many failed attempts/.test(String(r.body.error_description)));
    assert.ok(checked.length <= 5, `${checked.length} passwords were checked, the limit is 5`);
    assert.equal(checked.length + throttled.length, 60);
    assert.notEqual(results[44]!.status, 200, 'the right password, late in the burst, does not win a token');
  });

  it('issue 12 #2: of 100 parallel user-code guesses from one address at most 20 are looked up', async () => {
    const browser = new FormBrowser();
    const page = await (await browser.get(`${server.url}/oauth2/device`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const guesses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => browser.post(`${server.url}/oauth2/device/verify`, { csrf, user_code: `BCDF${'GHJKLMNPQRST'.slice(i % 8, (i % 8) + 4)}` })),
    );
    const statuses = guesses.map((r) => r.status);
    const looked = statuses.filter((s) => s === 400).length;
    assert.ok(looked <= 20, `${looked} guesses were looked up, the limit is 20`);
    assert.equal(statuses.filter((s) => s === 429).length, 100 - looked);
  });
});

describe('issue 12: client authentication throttles', () => {
  const RS_SECRET = 'resource-server-secret-0123456789';
  let server: TestServer;
  before(async () => {
    server = await startServer({
      clients: CLIENTS,
      // Caller addresses come from X-Forwarded-For here, so one test can be several callers.
      http: { host: '127.0.0.1', port: await freePort(), trust_proxy: true },
      token_throttle: { per_client: 5, failed_auth: 3, window: 600 },
      resource_servers: [{ id: 'rs', secret_hash: secretHash(RS_SECRET) }],
    });
  });
  after(() => server.stop());

  const post = (path: string, from: string, body: Record<string, string>, basic?: [string, string]) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': from,
        ...(basic ? { authorization: `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString('base64')}` } : {}),
      },
      body: new URLSearchParams(body),
    });

  it('issue 12 #6: once throttled, the right client secret gets 429 like a wrong one (no oracle); other callers are not locked out', async () => {
    const from = '198.51.100.1';
    const refresh = { grant_type: 'refresh_token', refresh_token: 'x' };
    for (let i = 0; i < 3; i++) assert.equal((await post('/oauth2/token', from, refresh, ['webapp', 'wrong'])).status, 401);
    const right = await post('/oauth2/token', from, refresh, ['webapp', CLIENT_SECRET]);
    assert.equal(right.status, 429, 'the right secret is refused the same way');
    assert.ok(Number(right.headers.get('retry-after')) > 0);
    assert.equal((await post('/oauth2/token', from, refresh, ['webapp', 'wrong'])).status, 429);
    // Someone else's guessing does not deny the real client on its own address.
    assert.equal((await post('/oauth2/token', '198.51.100.2', refresh, ['webapp', CLIENT_SECRET])).status, 400);
  });

  it('issue 12 #6: resource-server authentication for introspection is throttled the same way', async () => {
    const from = '198.51.100.3';
    for (let i = 0; i < 3; i++) assert.equal((await post('/oauth2/introspect', from, { token: 'x' }, ['rs', 'wrong'])).status, 401);
    assert.equal((await post('/oauth2/introspect', from, { token: 'x' }, ['rs', 'wrong'])).status, 429);
    assert.equal((await post('/oauth2/introspect', from, { token: 'x' }, ['rs', RS_SECRET])).status, 429);
    const other = await post('/oauth2/introspect', '198.51.100.4', { token: 'x' }, ['rs', RS_SECRET]);
    assert.equal(other.status, 200);
    assert.deepEqual(await other.json(), { active: false });
  });

  it('issue 12 #4: junk requests naming a public client from one address do not lock the client out for other callers', async () => {
    const junk = { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'junk', client_id: 'tv' };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post('/oauth2/token', '203.0.113.66', junk)).status);
    assert.deepEqual(statuses.slice(5), [429, 429], 'the junk caller is throttled');
    const device = await post('/oauth2/device', '203.0.113.7', { client_id: 'tv', scope: 'openid' });
    assert.equal(device.status, 200, 'a real user of the client elsewhere still starts a device flow');
    const poll = await post('/oauth2/token', '203.0.113.7', { ...junk, device_code: ((await device.json()) as { device_code: string }).device_code });
    assert.equal(((await poll.json()) as { error: string }).error, 'authorization_pending');
  });
});

describe('issue 12 #20: a login proxy (Prosody 13 mod_auth_oauth_external) is not throttled as one address', () => {
  const PROXY_SECRET = 'prosody-proxy-secret-0123456789abcd';
  let server: TestServer;
  before(async () => {
    server = await startServer({
      clients: [
        ...CLIENTS,
        { id: 'prosody', name: 'Prosody', secret_hash: secretHash(PROXY_SECRET), grant_types: ['password'], scope: 'openid profile', login_proxy: true },
      ],
      allowed_grant_types: ['authorization_code', 'refresh_token', 'device_code', 'password'],
      login_throttle: { per_account: 5, per_address: 30, window: 900 },
    });
    for (const u of ['alice', 'bob', 'carol']) await server.app.accounts.create(`${u}@localhost`, PASSWORD);
  });
  after(() => server.stop());

  const viaProxy = (username: string, password: string) =>
    fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username, password, scope: 'openid profile', client_id: 'prosody', client_secret: PROXY_SECRET }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

  it('issue 12 #20: 32 wrong passwords for unknown users through the proxy do not lock out a real user; the per-account limit still holds', async () => {
    for (let i = 0; i < 32; i++) {
      const r = await viaProxy(`nobody${i}`, 'wrong password');
      assert.equal(r.body.error, 'invalid_grant');
      assert.match(String(r.body.error_description), /wrong username or password/);
    }
    const alice = await viaProxy('alice', PASSWORD);
    assert.equal(alice.status, 200, JSON.stringify(alice.body));

    for (let i = 0; i < 5; i++) await viaProxy('bob', 'wrong password');
    const bob = await viaProxy('bob', PASSWORD);
    assert.match(String(bob.body.error_description), /too many failed attempts/, 'guessing one account is still throttled');

    // The same spray through an ordinary client is one address: it locks that address out.
    for (let i = 0; i < 32; i++) await tokenCall(server.url, { grant_type: 'password', username: `nobody${i}`, password: 'wrong password', scope: 'openid' });
    const carol = await tokenCall(server.url, { grant_type: 'password', username: 'carol', password: PASSWORD, scope: 'openid' });
    assert.match(String(carol.body.error_description), /too many failed attempts/);
  });
});
