// XEP-0050 grant management from a real chat client, through a real Prosody:
// list, revoke, and the revoked token failing at the next XMPP login.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type xmlModule from '@xmpp/xml';
import type { ProsodyInstance } from '../helpers/prosody.js';
import type { TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';
import { chatSession, plainLogin, xml, type ChatSession } from '../helpers/xmpp-client.js';
import { STACK_COMPONENT, startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';

const COMPONENT = STACK_COMPONENT;
const CMD = 'http://jabber.org/protocol/commands';
const DATA = 'jabber:x:data';
const PW = { alice: 'alice password 1234', bob: 'bob password 1234', admin: 'admin password 1234' };

type El = xmlModule.Element;

const command = (node: string, attrs: Record<string, string> = {}, ...children: El[]) => xml('command', { xmlns: CMD, node, ...attrs }, ...children);
const submit = (fields: Record<string, string | string[]>) =>
  xml(
    'x',
    { xmlns: DATA, type: 'submit' },
    ...Object.entries(fields).map(([name, v]) => xml('field', { var: name }, ...[v].flat().map((value) => xml('value', {}, value)))),
  );
const rows = (reply: El) =>
  (reply.getChild('x', DATA)?.getChildren('item') ?? []).map((item) =>
    Object.fromEntries(item.getChildren('field').map((f) => [f.attrs.var as string, f.getChildText('value')])),
  );
const options = (reply: El, field = 'grant') =>
  (reply.getChild('x', DATA)?.getChildren('field').find((f) => f.attrs.var === field)?.getChildren('option') ?? []).map((o) => ({
    label: o.attrs.label as string,
    value: o.getChildText('value')!,
  }));
const condition = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return (err as { condition?: string }).condition;
  }
  return 'no error';
};

describe('ad-hoc commands over Prosody', () => {
  let prosody: ProsodyInstance;
  let server: TestServer;
  let stack: ProsodyStack | undefined;
  let alice: ChatSession;
  let admin: ChatSession;
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  before(async () => {
    stack = await startProsodyStack({
      server: { admins: ['Admin@localhost'] },
      accounts: Object.fromEntries(Object.entries(PW).map(([user, pw]) => [`${user}@localhost`, pw])),
    });
    ({ prosody, server } = stack);
    alice = await chatSession(target(), 'alice', PW.alice);
    admin = await chatSession(target(), 'admin', PW.admin);
  });

  after(async () => {
    await alice?.stop();
    await admin?.stop();
    await stack?.stop();
  });

  it('advertises the commands a requester may run, and only those', async () => {
    const info = await alice.iq(COMPONENT.domain, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }));
    assert.ok(info.getChildren('feature').some((f) => f.attrs.var === CMD));
    const list = async (s: ChatSession) =>
      (await s.iq(COMPONENT.domain, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#items', node: CMD })))
        .getChildren('item')
        .map((i) => i.attrs.node as string)
        .sort();
    assert.deepEqual(await list(alice), ['activity', 'grants', 'revoke']);
    assert.deepEqual(await list(admin), ['activity', 'admin-grants', 'admin-revoke', 'grants', 'revoke']);
    const commandList = await alice.iq(COMPONENT.domain, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info', node: CMD }));
    assert.equal(commandList.getChild('identity')?.attrs.type, 'command-list');
    const node = await alice.iq(COMPONENT.domain, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info', node: 'revoke' }));
    assert.equal(node.getChild('identity')?.attrs.type, 'command-node');
    assert.equal(await condition(alice.iq(COMPONENT.domain, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info', node: 'admin-revoke' }))), 'item-not-found');
  });

  it('a user lists their applications, revokes one, and its token fails the next login', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@localhost', PW.alice);
    assert.equal(await plainLogin(target(), 'alice', access_token), true);

    const listed = await alice.iq(COMPONENT.domain, 'set', command('grants', { action: 'execute' }));
    assert.equal(listed.attrs.status, 'completed');
    const [row] = rows(listed);
    assert.equal(row?.application, 'Test Web App');
    assert.equal(row?.site, 'app.example');
    assert.match(row?.scopes ?? '', /\bxmpp\b/);
    assert.match(row?.used ?? '', /UTC$/);

    const form = await alice.iq(COMPONENT.domain, 'set', command('revoke'));
    assert.equal(form.attrs.status, 'executing');
    assert.ok(form.getChild('actions')?.getChild('complete'));
    const [choice] = options(form);
    assert.match(choice!.label, /^Test Web App \(app\.example\)/);

    const done = await alice.iq(
      COMPONENT.domain,
      'set',
      command('revoke', { action: 'complete', sessionid: form.attrs.sessionid as string }, submit({ grant: choice!.value })),
    );
    assert.equal(done.attrs.status, 'completed');
    assert.equal(done.attrs.sessionid, form.attrs.sessionid);
    assert.match(done.getChildText('note') ?? '', /Revoked: Test Web App/);

    assert.equal(await plainLogin(target(), 'alice', access_token), false, 'the revoked token no longer logs in');
    assert.equal(await plainLogin(target(), 'alice', PW.alice), true, 'the password still does');
    const after = await alice.iq(COMPONENT.domain, 'set', command('grants'));
    assert.deepEqual(rows(after), []);
    assert.match(after.getChildText('note') ?? '', /none/);
  });

  it('issue 18: app passwords are listed and revoked like any grant; the revoked one fails the next login', async () => {
    const { password, grant } = await createAppPassword(server.app.core, 'alice@localhost', { label: 'Dino on laptop' });
    assert.equal(await plainLogin(target(), 'alice', password), true);
    const listed = await alice.iq(COMPONENT.domain, 'set', command('grants', { action: 'execute' }));
    assert.ok(rows(listed).some((r) => r.application === 'App password: Dino on laptop'), JSON.stringify(rows(listed)));
    const form = await alice.iq(COMPONENT.domain, 'set', command('revoke'));
    const choice = options(form).find((o) => o.value === grant.id);
    assert.match(choice?.label ?? '', /^App password: Dino on laptop/);
    const done = await alice.iq(COMPONENT.domain, 'set', command('revoke', { action: 'complete', sessionid: form.attrs.sessionid as string }, submit({ grant: grant.id })));
    assert.equal(done.attrs.status, 'completed');
    assert.equal(await plainLogin(target(), 'alice', password), false);
  });

  it("a user cannot revoke someone else's grant, nor run admin commands", async () => {
    const { access_token } = await tokensFor(server.url, 'bob@localhost', PW.bob);
    const [bobGrant] = await server.app.store.listGrants('bob@localhost');
    const tried = await alice.iq(COMPONENT.domain, 'set', command('revoke', { action: 'complete' }, submit({ grant: bobGrant!.id })));
    assert.equal(tried.getChild('note')?.attrs.type, 'error');
    assert.equal(await plainLogin(target(), 'bob', access_token), true, "bob's token still works");
    assert.equal(await condition(alice.iq(COMPONENT.domain, 'set', command('admin-grants'))), 'forbidden');
    assert.equal(await condition(alice.iq(COMPONENT.domain, 'set', command('no-such-command'))), 'item-not-found');
    assert.equal(await condition(alice.iq(COMPONENT.domain, 'set', command('grants', { action: 'jump' }))), 'bad-request');
    const canceled = await alice.iq(COMPONENT.domain, 'set', command('revoke', { action: 'cancel', sessionid: 'abc' }));
    assert.equal(canceled.attrs.status, 'canceled');
  });

  it("an admin looks up a user's applications and revokes them", async () => {
    const { access_token } = await tokensFor(server.url, 'bob@localhost', PW.bob);
    const ask = await admin.iq(COMPONENT.domain, 'set', command('admin-grants'));
    assert.equal(ask.attrs.status, 'executing');
    const shown = await admin.iq(COMPONENT.domain, 'set', command('admin-grants', { action: 'complete' }, submit({ jid: 'Bob@localhost' })));
    assert.equal(rows(shown)[0]?.application, 'Test Web App');

    const bad = await admin.iq(COMPONENT.domain, 'set', command('admin-revoke', { action: 'complete' }, submit({ jid: 'not a jid' })));
    assert.equal(bad.getChild('note')?.attrs.type, 'error');

    const pick = await admin.iq(COMPONENT.domain, 'set', command('admin-revoke', { action: 'execute' }, submit({ jid: 'bob@localhost' })));
    assert.equal(pick.attrs.status, 'executing');
    const field = pick.getChild('x', DATA)!.getChildren('field').find((f) => f.attrs.var === 'grant');
    assert.equal(field?.attrs.type, 'list-multi');
    const ids = options(pick).map((o) => o.value);
    assert.equal(ids.length, 1);
    const done = await admin.iq(COMPONENT.domain, 'set', command('admin-revoke', { action: 'complete' }, submit({ jid: 'bob@localhost', grant: ids })));
    assert.match(done.getChildText('note') ?? '', /Revoked: Test Web App/);
    assert.equal(await plainLogin(target(), 'bob', access_token), false);
    assert.deepEqual(await server.app.store.listGrants('bob@localhost'), []);
  });
});
