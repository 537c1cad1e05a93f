// Issue 22 (outside review) on the core's XMPP login check, the one every door
// asks: the throttle before app passwords (#5), account-only secrets at doors
// that cannot restrict a session (#3), and a log line for password logins (#12).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { checkLogin } from '../../src/oauth/xmpp-login/xmpp-server-api.js';
import { PASSWORD } from '../helpers/flow.js';
import { CLIENT_SECRET, secretHash, startServer, type TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** The helpers' `webapp` client, allowed the account-management scopes too. */
const ACCOUNT_TOOL = {
  id: 'webapp',
  name: 'Account tool',
  redirect_uris: ['https://app.example/cb'],
  scope: 'openid offline_access xmpp:client:normal xmpp:account:read xmpp:account:write',
};

describe('issue 22: the XMPP login check', () => {
  let server: TestServer;
  const lines: Line[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Line);
        cb();
      },
    }),
  );
  // The server's own core, with a logger we can read.
  const core = () => ({ ...server.app.core, log });
  const login = (user: string, secret: string, opts: { address?: string; canRestrict?: boolean } = {}) => checkLogin(core(), user, 'localhost', secret, opts);
  const appPassword = async (user: string, scope?: string) =>
    (await createAppPassword(server.app.core, `${user}@localhost`, { label: 'phone', scope })).password;

  before(async () => {
    server = await startServer({
      login_throttle: { per_account: 3, per_address: 4, window: 60 },
      clients: [{ ...ACCOUNT_TOOL, secret_hash: secretHash(CLIENT_SECRET) }],
    });
    for (const u of ['carol', 'dan', 'erin', 'fay', 'gus', 'hal']) await server.app.accounts.create(`${u}@localhost`, PASSWORD);
  });
  after(() => server.stop());

  it('review #5: a throttled caller is refused even the right app password', async () => {
    const secret = await appPassword('carol');
    for (let i = 0; i < 3; i++) assert.equal((await login('carol', 'wrong password')).ok, false);
    const result = await login('carol', secret);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.reason === 'throttled', JSON.stringify(result));
    assert.ok(!result.ok && result.retryAfterMs! > 0);
    assert.ok(lines.some((l) => l.msg === 'login refused: throttled' && l.jid === 'carol@localhost' && l.via === 'app-password'));
  });

  it('review #5: the per-address budget holds for app passwords too', async () => {
    const secret = await appPassword('dan');
    const address = '192.0.2.7';
    // Wrong guesses against other accounts from one address use up its budget (4).
    for (const u of ['erin', 'erin', 'fay', 'fay']) assert.equal((await login(u, 'wrong password', { address })).ok, false);
    const result = await login('dan', secret, { address });
    assert.ok(!result.ok && result.reason === 'throttled', JSON.stringify(result));
    assert.equal((await login('dan', secret, { address: '192.0.2.8' })).ok, true, 'another address is not throttled');
  });

  it('issue 22 #5, the accounting: an app-password-shaped guess spends one point, like a password guess; a right app password gives its point back', async () => {
    const secret = await appPassword('gus');
    const guess = 'abcd efgh ijkl mnop qrst';
    for (let i = 0; i < 2; i++) assert.equal((await login('gus', guess)).ok, false);
    // Two of three points spent: the app password still works, again and again.
    for (let i = 0; i < 5; i++) assert.equal((await login('gus', secret)).ok, true, `app password login ${i + 1}`);
    // The third guess spends the last point; then everything is throttled.
    assert.ok(!(await login('gus', guess)).ok);
    const after = await login('gus', guess);
    assert.ok(!after.ok && after.reason === 'throttled');
  });

  it('review #3: account-only app passwords and tokens are refused where the session cannot be restricted, accepted where it can', async () => {
    for (const scope of ['xmpp:account:read', 'xmpp:account:write']) {
      const secret = await appPassword('hal', scope);
      assert.equal((await login('hal', secret)).ok, false, `${scope} app password at a door that cannot restrict`);
      assert.equal((await login('hal', secret, { canRestrict: false })).ok, false);
      const restricted = await login('hal', secret, { canRestrict: true });
      assert.ok(restricted.ok && restricted.via === 'app-password');
      assert.deepEqual(restricted.scope, [scope]);
    }
    assert.ok(lines.some((l) => l.jid === 'hal@localhost' && l.via === 'app-password' && /refused: app password grants only account management .*cannot restrict/.test(l.msg)));
    const normal = await appPassword('hal');
    assert.equal((await login('hal', normal)).ok, true, 'a chat app password is accepted everywhere');

    const { access_token: readOnly } = await tokensFor(server.url, 'hal@localhost', PASSWORD, 'openid xmpp:account:read');
    assert.equal((await login('hal', readOnly)).ok, false);
    assert.equal((await login('hal', readOnly, { canRestrict: true })).ok, true);
    assert.ok(lines.some((l) => l.via === 'token' && /refused: token grants only account management .*cannot restrict/.test(l.msg)));
    const { access_token: chat } = await tokensFor(server.url, 'hal@localhost', PASSWORD, 'openid xmpp:client:normal xmpp:account:write');
    assert.equal((await login('hal', chat)).ok, true, 'a chat token with account scopes too is a normal session');
  });

  it('review #12: a successful XMPP password login is logged at info, without the password', async () => {
    const before = lines.length;
    assert.equal((await login('fay', PASSWORD, { address: '198.51.100.9' })).ok, true);
    const accepted = lines.slice(before).find((l) => l.msg === 'xmpp login accepted');
    assert.ok(accepted, 'a line for the login');
    assert.equal(accepted.level, 30);
    assert.equal(accepted.jid, 'fay@localhost');
    assert.equal(accepted.via, 'password');
    assert.equal(accepted.address, '198.51.100.9');
    assert.ok(!lines.some((l) => JSON.stringify(l).includes(PASSWORD)), 'no password in any log line');
  });
});
