// The component's half of XEP-0494 (docs/protocol.md, "Client access and live
// sessions") at the stanza level: clients and revoke-grant, their sender gate
// and bad input, on a real Redis through the router the component link uses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { NS_AUTH } from '../../src/xmpp/auth-protocol.js';
import { NS_CAM, registerCamProtocol } from '../../src/xmpp/cam-protocol.js';
import { NS_STANZAS } from '../../src/xmpp/errors.js';
import { IqRouter, type IqReply } from '../../src/xmpp/iq.js';
import { xml, type Element } from '../../src/xmpp/xml.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';

const PASSWORD = 'alice password 1234';

describe('issue 14: clients / revoke-grant queries', () => {
  let server: TestServer;
  const router = new IqRouter(silentLogger);
  const ask = (type: 'get' | 'set', name: string, attrs: Record<string, string>, from = 'localhost') =>
    router.dispatch({ from, to: 'oauth.localhost', id: 'q1', type, element: xml(name, { xmlns: NS_AUTH, ...attrs }) });
  const condition = (reply: IqReply) => {
    assert.ok(reply !== true && reply.name === 'error', `expected an error, got ${reply === true ? 'empty result' : reply.toString()}`);
    return reply.getChildElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== 'text')!.name;
  };
  const clients = async (user: string): Promise<Element[]> => {
    const reply = await ask('get', 'clients', { user });
    assert.ok(reply !== true && reply.name === 'clients', String(reply));
    return reply.getChildren('client', NS_CAM);
  };

  before(async () => {
    server = await startServer();
    await server.app.accounts.create('alice@localhost', PASSWORD);
    await server.app.accounts.create('bob@localhost', PASSWORD);
    registerCamProtocol(router, { core: server.app.core, log: silentLogger });
  });
  after(async () => {
    await server.stop();
  });

  it('issue 14: clients lists each grant in XEP-0494 form, with what the consent recorded', async () => {
    assert.deepEqual(await clients('alice'), []);
    await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid xmpp');
    const [grant] = await server.app.store.listGrants('alice@localhost');
    const [c] = await clients('Alice');
    assert.ok(c && grant);
    assert.deepEqual(c.attrs, { xmlns: NS_CAM, id: grant.id, type: 'access', connected: 'false', scope: 'openid xmpp' });
    assert.equal(c.getChildText('first-seen'), new Date(grant.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    assert.ok(c.getChild('auth')?.getChild('grant'));
    assert.equal(c.getChild('permission')?.attrs.status, 'normal');
    assert.equal(c.getChild('user-agent')?.getChildText('software'), 'Test Web App');
    assert.equal(c.getChild('user-agent')?.getChildText('uri'), 'https://app.example/');
    assert.equal(c.getChild('user-agent')?.getChild('device'), undefined, 'a configured client registers no software_id');
  });

  it('issue 14: a grant without an XMPP session scope is restricted', async () => {
    await tokensFor(server.url, 'bob@localhost', PASSWORD, 'openid profile');
    const [c] = await clients('bob');
    assert.equal(c?.getChild('permission')?.attrs.status, 'restricted');
  });

  it("issue 14: revoke-grant revokes the account's own grant; another account's or an unknown id is item-not-found", async () => {
    const [bobs] = await server.app.store.listGrants('bob@localhost');
    assert.equal(condition(await ask('set', 'revoke-grant', { user: 'alice', grant: bobs!.id })), 'item-not-found');
    assert.equal(await server.app.store.grantExists(bobs!.id), true);
    assert.equal(condition(await ask('set', 'revoke-grant', { user: 'alice', grant: 'unknown' })), 'item-not-found');
    assert.equal(await ask('set', 'revoke-grant', { user: 'bob', grant: bobs!.id }), true, 'an empty result');
    assert.equal(await server.app.store.grantExists(bobs!.id), false);
  });

  it('issue 14: malformed queries are bad-request; a sender that is not a served host is forbidden', async () => {
    assert.equal(condition(await ask('set', 'revoke-grant', { user: 'alice' })), 'bad-request');
    assert.equal(condition(await ask('set', 'revoke-grant', { user: 'alice', grant: 'has spaces' })), 'bad-request');
    assert.equal(condition(await ask('set', 'revoke-grant', { user: 'alice', grant: 'x'.repeat(101) })), 'bad-request');
    assert.equal(condition(await ask('get', 'clients', { user: 'al ice' })), 'bad-request');
    assert.equal(condition(await ask('get', 'clients', {})), 'bad-request');
    assert.equal(condition(await ask('get', 'clients', { user: 'alice' }, 'alice@localhost')), 'forbidden');
    assert.equal(condition(await ask('set', 'revoke-grant', { user: 'alice', grant: 'x', host: 'example.org' })), 'forbidden');
  });
});
