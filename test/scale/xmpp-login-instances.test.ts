// Issue 25 took the last-used write and the throttle refund off the XMPP
// login's critical path. What decides a login must not move: with two
// instances on one Redis, a token or app password revoked through B is refused
// at the very next login through A (the instance holding Prosody's component
// slot), and the login throttle's account and address budgets spent through B
// refuse the right secret through A, for PLAIN, app passwords and SCRAM.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { revokeGrant } from '../../src/oauth/grants/grant-management.js';
import { COMPONENT, grantFor, REGISTRATION_KEY } from '../helpers/cam.js';
import { ourModuleHost, pluginDirWithModule } from '../helpers/prosody-module.js';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { oauthbearerMessage, rawSasl } from '../helpers/xmpp-client.js';
import { scramLogin } from '../../bench/scram.js';

const PW = 'two instances password 1234';
/** Every instance shares the public address, so tokens verify on both. */
const ISSUER = 'http://auth.instances.test';
const THROTTLE = { per_account: 3, per_address: 5, window: 60 };
const ROUNDS = 3;

describe('issue 25: XMPP logins through Prosody 13 with two instances on one Redis', { timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let prosody: ProsodyInstance;
  let pluginDir: string;
  let a: TestServer;
  let b: TestServer;
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  /** One fresh c2s stream, one SASL step: the server's answer (name, condition, raw text). */
  const sasl = async (mechanism: string, message: string) => {
    const s = await rawSasl(target());
    try {
      return await s.auth(mechanism, message);
    } finally {
      s.close();
    }
  };
  const plain = (user: string, secret: string) => sasl('PLAIN', `\0${user}\0${secret}`);

  const instance = (xmpp: boolean) =>
    startServer(
      {
        issuer: ISSUER,
        registration_key: REGISTRATION_KEY,
        cookie_secrets: ['instances-test-cookie-secret-0123456789abcdef'],
        login_throttle: THROTTLE,
        xmpp: { enabled: xmpp, service: `xmpp://127.0.0.1:${prosody.componentPort}`, domain: COMPONENT.domain, secret: COMPONENT.secret, hosts: ['localhost'] },
      },
      { redis: redis.url },
    );

  before(async () => {
    redis = await startRedis();
    pluginDir = pluginDirWithModule();
    prosody = await startProsody({
      version: '13',
      components: [COMPONENT],
      pluginDir,
      extraConfig: 'xmpp_oauth_scram = { "SCRAM-SHA-1" }',
      virtualHosts: [ourModuleHost(COMPONENT, { xmpp_oauth_timeout: 5 })],
    });
    // A holds the component slot; B is another instance on the same Redis (its own HTTP side).
    a = await instance(true);
    b = await instance(false);
    await a.app.link!.waitOnline(20_000);
    for (const user of ['alice', 'bob', 'carol']) await a.app.core.accounts.create(`${user}@localhost`, PW);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await prosody?.stop();
    await redis?.stop();
    rmSync(pluginDir, { recursive: true, force: true });
  });

  it(`issue 25: a token revoked through B is refused at the very next login through A, PLAIN and OAUTHBEARER (${ROUNDS} rounds)`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const g = await grantFor(b.url, b, 'alice@localhost', PW);
      // A has seen the token (its verified-token cache and liveness copy hold it).
      assert.equal((await plain('alice', g.access_token)).name, 'success', `round ${round}: the live token logs in`);
      assert.equal((await sasl('OAUTHBEARER', oauthbearerMessage(g.access_token))).name, 'success');
      const res = await fetch(new URL('/oauth2/revoke', b.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: g.refresh_token, token_type_hint: 'refresh_token', client_id: g.clientId }),
      });
      assert.equal(res.status, 200);
      assert.equal((await plain('alice', g.access_token)).name, 'failure', `round ${round}: refused right after the revocation on B`);
      // RFC 7628: a refused token gets the error challenge.
      const bearer = await sasl('OAUTHBEARER', oauthbearerMessage(g.access_token));
      assert.equal(bearer.name, 'challenge');
      assert.match(bearer.data, /"status":\s*"invalid_token"/);
    }
  });

  it('issue 25: an app password revoked through B is refused at the very next login through A', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const { password, grant } = await createAppPassword(b.app.core, 'bob@localhost', { label: `laptop ${round}` });
      assert.equal((await plain('bob', password)).name, 'success', `round ${round}: the app password logs in through A`);
      assert.equal(await revokeGrant(b.app.core, grant.id), true);
      assert.equal((await plain('bob', password)).name, 'failure', `round ${round}: refused right after the revocation on B`);
    }
  });

  it("issue 25: an account's failures counted through B refuse its right password, app password and SCRAM through A", async () => {
    const { password: appPassword } = await createAppPassword(b.app.core, 'carol@localhost', { label: 'phone' });
    // Another client address, so that only the account budget runs out.
    for (let i = 0; i < THROTTLE.per_account; i++) assert.equal((await b.app.core.accounts.verify('carol@localhost', `wrong ${i}`, '192.0.2.7')).ok, false);
    const refused = await plain('carol', PW);
    assert.equal(refused.name, 'failure');
    assert.match(refused.raw, /Too many failed attempts/);
    assert.match((await plain('carol', appPassword)).raw, /Too many failed attempts/);
    assert.equal(await scramLogin(target(), 'SCRAM-SHA-1', 'carol', PW), false);
  });

  it("issue 25: an address's failures counted through B refuse another account's right password through A", async () => {
    // Prosody passes the client's address (127.0.0.1); unknown names count too.
    let throttled = false;
    for (let i = 0; i < THROTTLE.per_address + 2 && !throttled; i++) {
      const r = await b.app.core.accounts.verify(`nobody${i}@localhost`, 'wrong', '127.0.0.1');
      throttled = !r.ok && r.reason === 'throttled';
    }
    assert.ok(throttled, 'B counted the address up to its budget');
    const refused = await plain('alice', PW);
    assert.equal(refused.name, 'failure');
    assert.match(refused.raw, /Too many failed attempts/);
  });
});
