// Issue 12: throttles that a concurrent burst, an anonymous caller or a
// proxying client could get around or turn against everyone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, tokenCall } from '../helpers/flow.js';
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
    const burst = Array.from({ length: 60 }, (_, i) =>
      tokenCall(server.url, { grant_type: 'password', username: 'alice@localhost', password: i === 44 ? PASSWORD : `wrong password ${i}`, scope: 'openid xmpp' }),
    );
    const results = await Promise.all(burst);
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
