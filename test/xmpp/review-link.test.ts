// Review (issue 22) #11 on real Prosody: the component's own IQs carry
// unguessable ids, and a reply counts only when it comes from the entity asked.
// Any local user can address the component, so a forged reply with the right
// id must not settle the request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { xml } from '../../src/xmpp/xml.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { chatSession, rawSasl, xml as clientXml, type ChatSession, type RawSasl } from '../helpers/xmpp-client.js';

const PW = { bob: 'bob password 1234', mallory: 'mallory password 1234' };
const NS_VERSION = 'jabber:iq:version';

for (const version of PROSODY_VERSIONS) {
  describe(`review #11 on Prosody ${version}: replies to the component's IQs`, { timeout: 120_000 }, () => {
    let stack: ProsodyStack;
    let bob: RawSasl;
    let bobJid: string;
    let mallory: ChatSession;

    before(async () => {
      stack = await startProsodyStack({ version, accounts: { 'bob@localhost': PW.bob, 'mallory@localhost': PW.mallory } });
      // bob on a raw stream: nothing answers for him unless the test does.
      bob = await rawSasl(stack.target);
      assert.equal((await bob.auth('PLAIN', `\0bob\0${PW.bob}`)).name, 'success');
      bobJid = await bob.bind();
      mallory = await chatSession(stack.target, 'mallory', PW.mallory);
    });
    after(async () => {
      bob?.close();
      await mallory?.stop();
      await stack?.stop();
    });

    it(`review #11 (Prosody ${version}): a forged reply with the right id from another user is ignored; the real one settles the request; ids carry 128 random bits`, async () => {
      const link = stack.server.app.link!;
      let settled = false;
      const asked = link.request(xml('iq', { type: 'get', to: bobJid }, xml('query', { xmlns: NS_VERSION })), 15_000);
      asked.then(() => (settled = true), () => (settled = true));

      const [iq] = await bob.exchange('', /<iq\b[^>]*>[\s\S]*?<\/iq>/);
      const id = /\bid=['"]([^'"]+)['"]/.exec(iq)?.[1];
      assert.ok(id, iq);

      // mallory knows the id (as if guessed) and answers first.
      await mallory.send(clientXml('iq', { type: 'result', id, to: link.domain }, clientXml('query', { xmlns: NS_VERSION }, clientXml('name', {}, 'forged'))));
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(settled, false, 'the forged reply settled the request');

      // bob's own answer, then a ping to know it has been written through.
      await bob.exchange(
        `<iq type='result' id='${id}' to='${link.domain}'><query xmlns='${NS_VERSION}'><name>real</name></query></iq>` +
          `<iq type='get' id='sync1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`,
        /id=['"]sync1['"]/,
      );
      const reply = await asked;
      assert.equal(reply.attrs.from, bobJid);
      assert.equal(reply.getChild('query', NS_VERSION)?.getChildText('name'), 'real');
      assert.match(id, /^[A-Za-z0-9_-]{22,}$/, `an id of at least 128 bits, not ${id}`);

      // Ids differ every time.
      const ids = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const p = link.request(xml('iq', { type: 'get', to: bobJid }, xml('query', { xmlns: NS_VERSION })), 5000).catch(() => undefined);
        const [next] = await bob.exchange('', /<iq\b[^>]*>[\s\S]*?<\/iq>/);
        const nextId = /\bid=['"]([^'"]+)['"]/.exec(next)![1]!;
        ids.add(nextId);
        await bob.exchange(`<iq type='error' id='${nextId}' to='${link.domain}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`, /$/);
        await p;
      }
      assert.equal(ids.size, 3);
    });
  });
}
