// Review of issue 22, second round (High): on Prosody 13, Bind2 (XEP-0386) lets a
// client switch on message carbons inside its SASL2 login, and mod_carbons then
// hands the copies straight to the session. A restricted (xmpp:account:read)
// session must still receive nothing from other entities: the module guards
// the session's own output, not only the routing hooks.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { grantFor, REGISTRATION_KEY, resource } from '../helpers/cam.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { chatSession, xml, type ChatSession } from '../helpers/xmpp-client.js';

const PW = { alice: 'alice password 1234', bob: 'bob password 1234' };

/** A raw SASL2 login (PLAIN, token as password) that asks Bind2 to enable carbons inline; collects what arrives. */
async function sasl2WithCarbons(port: number, user: string, secret: string): Promise<{ text: () => string; close(): void }> {
  const sock = connect({ port, host: '127.0.0.1' });
  let buf = '';
  sock.on('data', (d) => (buf += d.toString()));
  sock.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  const until = async (re: RegExp, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!re.test(buf)) {
      if (Date.now() > deadline) throw new Error(`no ${what}: ${buf.slice(-800)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  sock.write(`<?xml version='1.0'?><stream:stream to='localhost' from='${user}@localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
  await until(/<\/stream:features>/, 'stream features');
  assert.match(buf, /urn:xmpp:sasl:2/, 'SASL2 offered');
  const initial = Buffer.from(`\0${user}\0${secret}`).toString('base64');
  sock.write(
    `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>${initial}</initial-response>` +
      `<bind xmlns='urn:xmpp:bind:0'><enable xmlns='urn:xmpp:carbons:2'/></bind></authenticate>`,
  );
  await until(/<success[\s>][\s\S]*?<\/success>|<failure[\s>]/, 'SASL2 outcome');
  assert.match(buf, /<success/, `logged in: ${buf.slice(-500)}`);
  return { text: () => buf, close: () => sock.destroy() };
}

describe('review (second round) on Prosody 13: a restricted session gets no carbons, even when Bind2 enabled them', { timeout: 120_000 }, () => {
  let stack: ProsodyStack;
  const open: ChatSession[] = [];

  before(async () => {
    stack = await startProsodyStack({
      version: '13',
      prosody: { modules: ['carbons', 'sasl2', 'sasl2_bind2'] },
      accounts: { 'alice@localhost': PW.alice, 'bob@localhost': PW.bob },
      server: { registration_key: REGISTRATION_KEY, address_throttle: { registrations: 1000 } },
    });
  });
  after(async () => {
    for (const s of open) await s.stop();
    await stack?.stop();
  });

  it('a read-only login over SASL2 with inline carbons sees none of alice\u2019s chats; a normal one does', async () => {
    const reader = await grantFor(stack.server.url, stack.server, 'alice@localhost', PW.alice, 'openid xmpp:account:read');
    const normal = await grantFor(stack.server.url, stack.server, 'alice@localhost', PW.alice, 'openid xmpp');
    const restricted = await sasl2WithCarbons(stack.prosody.c2sPort, 'alice', reader.access_token);
    const control = await sasl2WithCarbons(stack.prosody.c2sPort, 'alice', normal.access_token);
    try {
      const alice = await chatSession(stack.target, 'alice', PW.alice, resource());
      const bob = await chatSession(stack.target, 'bob', PW.bob, resource());
      open.push(alice, bob);
      await alice.send(xml('presence'));
      await bob.send(xml('presence'));
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'sent-by-alice' }, xml('body', {}, 'secret one')));
      await bob.send(xml('message', { to: alice.jid, type: 'chat', id: 'to-alice' }, xml('body', {}, 'secret two')));
      await bob.waitFor((s) => s.is('message') && s.attrs.id === 'sent-by-alice');
      await alice.waitFor((s) => s.is('message') && s.attrs.id === 'to-alice');
      // The control session proves carbons were on and sent.
      const deadline = Date.now() + 5000;
      while (!/secret two/.test(control.text()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.match(control.text(), /urn:xmpp:carbons:2[\s\S]*secret (one|two)/, 'the normal session got carbons');
      await new Promise((r) => setTimeout(r, 500));
      assert.doesNotMatch(restricted.text(), /secret (one|two)/, 'the restricted session got a carbon');
      assert.doesNotMatch(restricted.text(), /<presence/, 'nor presence of its account\u2019s other devices');
    } finally {
      restricted.close();
      control.close();
    }
  });
});
