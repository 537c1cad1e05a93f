// Issue 24 #3: the `credential` query (docs/protocol.md) at the stanza level,
// through the router the component link uses, on a real Redis: is the grant,
// app password or password epoch behind an earlier login still standing? The
// Prosody module asks it for every FAST token (test/xmpp/fast-binding.test.ts
// runs the whole thing on Prosody 13).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { IqRouter, type IqReply } from '../../src/xmpp/iq.js';
import { NS_AUTH, registerAuthProtocol } from '../../src/xmpp/auth-protocol.js';
import { NS_STANZAS } from '../../src/xmpp/errors.js';
import { xml, type Element } from '../../src/xmpp/xml.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { revoke, tokensFor } from '../helpers/tokens.js';

const PW = { alice: 'alice password 1234', bob: 'bob password 1234', carol: 'carol password 1234' };

describe('issue 24 #3: the credential query', () => {
  let server: TestServer;
  const router = new IqRouter(silentLogger);
  const ask = (attrs: Record<string, string>, from = 'localhost') =>
    router.dispatch({ from, to: 'oauth.localhost', id: 'c1', type: 'get', element: xml('credential', { xmlns: NS_AUTH, ...attrs }) });
  const payload = (reply: IqReply): Element => {
    assert.ok(reply !== true && reply.name !== 'error', `expected a payload, got ${reply === true ? 'empty result' : reply.toString()}`);
    return reply;
  };
  const alive = async (attrs: Record<string, string>) => payload(await ask(attrs)).attrs.alive;
  const condition = (reply: IqReply) => {
    assert.ok(reply !== true && reply.name === 'error', `expected an error, got ${reply === true ? 'empty result' : reply.toString()}`);
    return reply.getChildElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== 'text')!.name;
  };
  const grantOf = async (jid: string) => (await server.app.store.findGrant(jid, 'webapp'))!.id;

  before(async () => {
    server = await startServer({}, { redis: true });
    registerAuthProtocol(router, { core: server.app.core, log: silentLogger });
    for (const [u, pw] of Object.entries(PW)) await server.app.accounts.create(`${u}@localhost`, pw);
  });
  after(async () => {
    await server.stop();
  });

  it('issue 24 #3: a password login stands until the password changes (the epoch digest moves) or the account is disabled', async () => {
    const first = payload(await ask({ user: 'alice', via: 'password' }));
    assert.equal(first.attrs.alive, 'true');
    assert.match(first.attrs.epoch!, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(payload(await ask({ user: 'Alice', via: 'password' })).attrs.epoch, first.attrs.epoch, 'stable, whatever the case of the name');
    await server.app.accounts.setPassword('alice@localhost', 'alice new password 5678');
    const after = payload(await ask({ user: 'alice', via: 'password' }));
    assert.equal(after.attrs.alive, 'true');
    assert.notEqual(after.attrs.epoch, first.attrs.epoch);
    await server.app.store.setAccountDisabled('alice@localhost', true);
    assert.deepEqual(payload(await ask({ user: 'alice', via: 'password' })).attrs, { xmlns: NS_AUTH, alive: 'false' });
    await server.app.store.setAccountDisabled('alice@localhost', false);
    assert.equal(await alive({ user: 'alice', via: 'password' }), 'true');
    assert.equal(await alive({ user: 'nobody', via: 'password' }), 'false');
  });

  it('issue 24 #3: a token grant stands until revoked, only for its own account and kind', async () => {
    const tokens = await tokensFor(server.url, 'bob', PW.bob, 'openid xmpp offline_access');
    const grant = await grantOf('bob@localhost');
    assert.equal(await alive({ user: 'bob', via: 'token', grant }), 'true');
    assert.equal(await alive({ user: 'carol', via: 'token', grant }), 'false', "another account's grant");
    assert.equal(await alive({ user: 'bob', via: 'app-password', grant }), 'false', 'a token grant named as an app password');
    await revoke(server.url, tokens.refresh_token);
    assert.equal(await alive({ user: 'bob', via: 'token', grant }), 'false');
  });

  it('issue 24 #3: an app password is its own kind, and lapses with the upstream sign-in (back-channel logout); revoking it: fast-binding.test.ts', async () => {
    const { grant } = await createAppPassword(server.app.core, 'carol@localhost', { label: 'Dino' });
    assert.equal(await alive({ user: 'carol', via: 'app-password', grant: grant.id }), 'true');
    assert.equal(await alive({ user: 'carol', via: 'token', grant: grant.id }), 'false', 'an app password named as a token grant');
    // An upstream account: alive while signed in upstream, dead once the provider logs it out.
    await server.app.store.linkUpstream('carol@localhost', { provider: 'space', iss: 'https://idp.example', sub: 'carol-sub', lastLoginAt: Date.now() });
    assert.equal(await alive({ user: 'carol', via: 'app-password', grant: grant.id }), 'true');
    await server.app.store.forgetUpstreamLogin('carol@localhost');
    assert.equal(await alive({ user: 'carol', via: 'app-password', grant: grant.id }), 'false');
    assert.equal(await alive({ user: 'carol', via: 'password' }), 'true', 'the password itself is not an upstream credential');
  });

  it('issue 24 #3: malformed questions are bad-request; another host is forbidden', async () => {
    assert.equal(condition(await ask({ user: 'bob' })), 'bad-request');
    assert.equal(condition(await ask({ user: 'bob', via: 'scram' })), 'bad-request');
    assert.equal(condition(await ask({ user: 'bob', via: 'token' })), 'bad-request');
    assert.equal(condition(await ask({ user: 'b ob', via: 'password' })), 'bad-request');
    assert.equal(condition(await ask({ via: 'password' })), 'bad-request');
    assert.equal(condition(await ask({ user: 'bob', via: 'password', host: 'elsewhere.example' })), 'forbidden');
    assert.equal(condition(await ask({ user: 'bob', via: 'password' }, 'elsewhere.example')), 'forbidden');
  });
});
