// The auth query protocol (docs/protocol.md) at the stanza level: every
// operation, the sender gate, malformed queries and a Redis outage. The IQs go
// through the same router the component link uses, on a real Redis.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { IqRouter, type IqReply } from '../../src/xmpp/iq.js';
import { NS_AUTH, registerAuthProtocol } from '../../src/xmpp/auth-protocol.js';
import { NS_STANZAS } from '../../src/xmpp/errors.js';
import { xml, type Element } from '../../src/xmpp/xml.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tamperSignature, tokensFor } from '../helpers/tokens.js';

const PASSWORD = 'alice password 1234';

describe('auth query protocol', () => {
  let redis: RedisInstance;
  let server: TestServer;
  const router = new IqRouter(silentLogger);

  const ask = (type: 'get' | 'set', name: string, attrs: Record<string, string> = {}, ...children: Array<Element | string>) =>
    router.dispatch({ from: 'localhost', to: 'oauth.localhost', id: 'q1', type, element: xml(name, { xmlns: NS_AUTH, ...attrs }, ...children) });
  const payload = (reply: IqReply): Element => {
    assert.ok(reply !== true && reply.name !== 'error', `expected a payload, got ${reply === true ? 'empty result' : reply.toString()}`);
    return reply;
  };
  const condition = (reply: IqReply): { condition: string; type: string } => {
    assert.ok(reply !== true && reply.name === 'error', `expected an error, got ${reply === true ? 'empty result' : reply.toString()}`);
    const cond = reply.getChildElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== 'text')!;
    return { condition: cond.name, type: reply.attrs.type! };
  };

  before(async () => {
    redis = await startRedis({ persist: true });
    server = await startServer({ login_throttle: { per_account: 3, per_address: 100, window: 60 } }, { redis: redis.url });
    registerAuthProtocol(router, { core: server.app.core, log: silentLogger });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await server.stop();
    await redis.stop();
  });

  it('auth: accepts the password and says how', async () => {
    const ok = payload(await ask('get', 'auth', { user: 'Alice', host: 'localhost' }, PASSWORD));
    assert.deepEqual(ok.attrs, { xmlns: NS_AUTH, result: 'ok', jid: 'alice@localhost', via: 'password' });
    const bad = payload(await ask('get', 'auth', { user: 'alice', host: 'localhost' }, 'wrong'));
    assert.equal(bad.attrs.result, 'invalid');
  });

  it('auth: the host defaults to the sender, and any other host is refused', async () => {
    assert.equal(payload(await ask('get', 'auth', { user: 'alice' }, PASSWORD)).attrs.result, 'ok');
    // A server speaks for its own host only, even one we serve.
    assert.deepEqual(condition(await ask('get', 'auth', { user: 'alice', host: 'elsewhere.example' }, PASSWORD)), { condition: 'forbidden', type: 'auth' });
    assert.deepEqual(condition(await ask('set', 'setpass', { user: 'alice', host: 'example.org' }, 'a new password 1234')), { condition: 'forbidden', type: 'auth' });
    assert.equal(payload(await ask('get', 'auth', { user: 'alice', host: 'LocalHost' }, PASSWORD)).attrs.result, 'ok');
    assert.equal(payload(await ask('get', 'auth', { user: 'al ice', host: 'localhost' }, PASSWORD)).attrs.result, 'bad-request');
  });

  it('auth: accepts an access token with the xmpp scope', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
    const ok = payload(await ask('get', 'auth', { user: 'alice', host: 'localhost' }, access_token));
    assert.equal(ok.attrs.result, 'ok');
    assert.equal(ok.attrs.via, 'token');
  });

  it('auth: an ok token reply carries grant, scope and exp (contract 2); a password reply none of them', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid xmpp:client:normal');
    const claims = await server.app.core.signer.verifyAccessToken(access_token);
    assert.ok(claims);
    const ok = payload(await ask('get', 'auth', { user: 'alice' }, access_token));
    assert.deepEqual(ok.attrs, {
      xmlns: NS_AUTH,
      result: 'ok',
      jid: 'alice@localhost',
      via: 'token',
      grant: claims.gid,
      scope: 'openid xmpp:client:normal',
      exp: String(claims.exp),
    });
    const pw = payload(await ask('get', 'auth', { user: 'alice' }, PASSWORD));
    assert.equal(pw.attrs.grant, undefined);
    assert.equal(pw.attrs.scope, undefined);
  });

  it('auth kind=token: the token names the account, is never tried as a password, and a refusal points to discovery', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid xmpp:client:normal');
    const discovery = { 'openid-configuration': `${server.url}/.well-known/openid-configuration`, 'required-scope': 'xmpp:client:normal' };
    const ok = payload(await ask('get', 'auth', { kind: 'token' }, access_token));
    assert.equal(ok.attrs.result, 'ok');
    assert.equal(ok.attrs.jid, 'alice@localhost');
    assert.equal(payload(await ask('get', 'auth', { kind: 'token', user: 'alice' }, access_token)).attrs.result, 'ok');
    await server.app.accounts.create('frank@localhost', PASSWORD);
    assert.deepEqual(payload(await ask('get', 'auth', { kind: 'token', user: 'frank' }, access_token)).attrs, {
      xmlns: NS_AUTH,
      result: 'other-account',
      ...discovery,
    });
    for (const secret of ['', PASSWORD, tamperSignature(access_token)]) {
      assert.deepEqual(payload(await ask('get', 'auth', { kind: 'token', user: 'alice' }, secret)).attrs, { xmlns: NS_AUTH, result: 'invalid', ...discovery });
    }
    const { access_token: openidOnly } = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid');
    assert.equal(payload(await ask('get', 'auth', { kind: 'token' }, openidOnly)).attrs.result, 'invalid');
    await server.app.accounts.remove('frank@localhost');
  });

  it('auth: every XMPP login scope is accepted, anything else refused (contract 1)', async () => {
    for (const scope of ['xmpp', 'xmpp:client:normal']) {
      const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD, `openid ${scope}`);
      assert.equal(payload(await ask('get', 'auth', { user: 'alice' }, access_token)).attrs.result, 'ok', scope);
    }
    for (const scope of ['openid', 'openid profile offline_access']) {
      const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD, scope);
      assert.equal(payload(await ask('get', 'auth', { user: 'alice' }, access_token)).attrs.result, 'invalid', scope);
    }
  });

  it('issue 12 #20: auth refuses an address that is not an IP address', async () => {
    for (const address of ['', 'localhost', '1.2.3.4; drop', '999.1.1.1']) {
      assert.equal(condition(await ask('get', 'auth', { user: 'alice', address }, PASSWORD)).condition, 'bad-request', address);
    }
    assert.equal(payload(await ask('get', 'auth', { user: 'alice', address: '2001:db8::1' }, PASSWORD)).attrs.result, 'ok');
  });

  it('validate: describes a live token and calls anything else inactive', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
    const v = payload(await ask('get', 'validate', {}, access_token));
    assert.equal(v.attrs.active, 'true');
    assert.equal(v.attrs.jid, 'alice@localhost');
    assert.equal(v.attrs.client_id, 'webapp');
    assert.deepEqual(v.attrs.scope!.split(' ').sort(), ['offline_access', 'openid', 'xmpp']);
    assert.ok(Number(v.attrs.exp) > Date.now() / 1000);
    for (const junk of ['', 'eyJ.eyJ.sig', tamperSignature(access_token), 'x'.repeat(4000)]) {
      assert.equal(payload(await ask('get', 'validate', {}, junk)).attrs.active, 'false');
    }
  });

  it('isuser and users', async () => {
    assert.equal(payload(await ask('get', 'isuser', { user: 'alice', host: 'localhost' })).attrs.exists, 'true');
    assert.equal(payload(await ask('get', 'isuser', { user: 'nobody', host: 'localhost' })).attrs.exists, 'false');
    assert.equal(condition(await ask('get', 'isuser', { user: 'alice', host: 'other.example' })).condition, 'forbidden');
    const users = payload(await ask('get', 'users', { host: 'localhost' }));
    assert.deepEqual(users.getChildren('user').map((u) => u.text()), ['alice']);
    assert.equal(condition(await ask('get', 'users', { host: 'other.example' })).condition, 'forbidden');
  });

  it('setpass, register and remove change accounts, with precise refusals', async () => {
    assert.equal(await ask('set', 'register', { user: 'carol', host: 'localhost' }, 'carol password 1'), true);
    assert.equal(condition(await ask('set', 'register', { user: 'carol', host: 'localhost' }, 'carol password 1')).condition, 'conflict');
    assert.equal(condition(await ask('set', 'register', { user: 'dave', host: 'localhost' }, 'short')).condition, 'not-acceptable');
    // Review, second round: in-band registration is self-service; a reserved name is not there to take.
    assert.equal(condition(await ask('set', 'register', { user: 'postmaster', host: 'localhost' }, 'postmaster pw 123')).condition, 'not-allowed');
    assert.equal(payload(await ask('get', 'isuser', { user: 'postmaster' })).attrs.exists, 'false');

    assert.equal(await ask('set', 'setpass', { user: 'carol', host: 'localhost' }, 'carol password 2'), true);
    assert.equal(payload(await ask('get', 'auth', { user: 'carol' }, 'carol password 2')).attrs.result, 'ok');
    assert.equal(condition(await ask('set', 'setpass', { user: 'nobody', host: 'localhost' }, 'whatever 12345')).condition, 'item-not-found');

    const { access_token } = await tokensFor(server.url, 'carol@localhost', 'carol password 2');
    const wrong = await ask('set', 'remove', { user: 'carol', host: 'localhost' }, xml('password', {}, 'nope'));
    assert.equal(condition(wrong).condition, 'not-authorized');
    assert.equal(await ask('set', 'remove', { user: 'carol', host: 'localhost' }, xml('password', {}, 'carol password 2')), true);
    assert.equal(payload(await ask('get', 'isuser', { user: 'carol' })).attrs.exists, 'false');
    // Removing the account ends its grants: its tokens stop working at once.
    assert.equal(payload(await ask('get', 'validate', {}, access_token)).attrs.active, 'false');
    assert.equal(condition(await ask('set', 'remove', { user: 'carol', host: 'localhost' })).condition, 'item-not-found');
  });

  it('issue 24 #6: disable and enable switch the account as `xmpp-oauth user disable|enable` do', async () => {
    await server.app.accounts.create('gina@localhost', PASSWORD);
    const { access_token } = await tokensFor(server.url, 'gina@localhost', PASSWORD);
    assert.equal(await ask('set', 'disable', { user: 'gina', host: 'localhost' }), true);
    assert.equal(payload(await ask('get', 'auth', { user: 'gina' }, PASSWORD)).attrs.result !== 'ok', true);
    assert.equal(payload(await ask('get', 'validate', {}, access_token)).attrs.active, 'false', 'its grants are revoked');
    assert.equal(await ask('set', 'enable', { user: 'gina', host: 'localhost' }), true);
    assert.equal(payload(await ask('get', 'auth', { user: 'gina' }, PASSWORD)).attrs.result, 'ok');
    assert.equal(condition(await ask('set', 'disable', { user: 'nobody', host: 'localhost' })).condition, 'item-not-found');
    assert.equal(condition(await ask('set', 'enable', { user: 'gina', host: 'other.example' })).condition, 'forbidden');
  });

  it('auth: throttles guessing per account and says when to retry', async () => {
    await server.app.accounts.create('erin@localhost', PASSWORD);
    for (let i = 0; i < 3; i++) assert.equal(payload(await ask('get', 'auth', { user: 'erin' }, `guess ${i}`)).attrs.result, 'invalid');
    const throttled = payload(await ask('get', 'auth', { user: 'erin' }, PASSWORD));
    assert.equal(throttled.attrs.result, 'throttled');
    assert.ok(Number(throttled.attrs['retry-after']) > 0);
  });

  it('refuses anyone but a configured XMPP host with forbidden', async () => {
    for (const from of ['alice@localhost', 'localhost/resource', 'other.example', 'probe.localhost', '']) {
      const reply = await router.dispatch({
        from,
        to: 'oauth.localhost',
        id: 'q2',
        type: 'get',
        element: xml('auth', { xmlns: NS_AUTH, user: 'alice' }, PASSWORD),
      });
      assert.deepEqual(condition(reply), { condition: 'forbidden', type: 'auth' }, from);
    }
  });

  it('refuses malformed queries precisely', async () => {
    assert.equal(condition(await ask('get', 'auth', {}, PASSWORD)).condition, 'bad-request');
    assert.equal(condition(await ask('get', 'auth', { user: 'alice' }, 'x'.repeat(5000))).condition, 'not-acceptable');
    assert.equal(condition(await ask('get', 'nonsense', { user: 'alice' })).condition, 'service-unavailable');
    assert.equal(condition(await ask('set', 'auth', { user: 'alice' }, PASSWORD)).condition, 'service-unavailable');
  });

  it('answers a temporary error while Redis is down, and works again when it returns', async () => {
    await redis.kill();
    try {
      const reply = await ask('get', 'auth', { user: 'alice' }, PASSWORD);
      assert.deepEqual(condition(reply), { condition: 'internal-server-error', type: 'wait' });
      assert.deepEqual(condition(await ask('get', 'isuser', { user: 'alice' })), { condition: 'internal-server-error', type: 'wait' });
    } finally {
      await redis.restart();
    }
    const deadline = Date.now() + 10_000;
    let reply: IqReply;
    do {
      reply = await ask('get', 'isuser', { user: 'alice' });
      if (reply !== true && reply.name !== 'error') break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    assert.equal(payload(reply).attrs.exists, 'true');
  });
});

describe('auth query protocol: per-address throttle (issue 12 #20)', () => {
  let server: TestServer;
  const router = new IqRouter(silentLogger);
  const ask = (attrs: Record<string, string>, secret: string) =>
    router.dispatch({ from: 'localhost', to: 'oauth.localhost', id: 'q1', type: 'get', element: xml('auth', { xmlns: NS_AUTH, ...attrs }, secret) });
  const result = (reply: IqReply) => (reply === true ? 'empty' : reply.attrs.result ?? reply.toString());

  before(async () => {
    server = await startServer({ login_throttle: { per_account: 50, per_address: 3, window: 60 } });
    registerAuthProtocol(router, { core: server.app.core, log: silentLogger });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await server.stop();
  });

  it('issue 12 #20: a password sprayed over many accounts from one client address is throttled per address', async () => {
    for (const user of ['u1', 'u2', 'u3']) assert.equal(result(await ask({ user, address: '192.0.2.7' }, 'spray password')), 'invalid');
    assert.equal(result(await ask({ user: 'u4', address: '192.0.2.7' }, 'spray password')), 'throttled');
    assert.equal(result(await ask({ user: 'alice', address: '192.0.2.7' }, PASSWORD)), 'throttled', 'that address is blocked');
    // Another client, or a query without an address, is not affected.
    assert.equal(result(await ask({ user: 'alice', address: '198.51.100.9' }, PASSWORD)), 'ok');
    assert.equal(result(await ask({ user: 'alice' }, PASSWORD)), 'ok');
  });
});
