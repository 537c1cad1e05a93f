// Review (issue 22) #11 on real Prosody: the component's own IQs carry
// unguessable ids, and a reply counts only when it comes from the entity asked.
// Any local user can address the component, so a forged reply with the right
// id must not settle the request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { createStore } from '../../src/store/index.js';
import { ComponentLink } from '../../src/xmpp/link.js';
import { xml } from '../../src/xmpp/xml.js';
import { startProsodyStack, STACK_COMPONENT, type ProsodyStack } from '../helpers/prosody-stack.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { chatSession, rawSasl, xml as clientXml, type ChatSession, type RawSasl } from '../helpers/xmpp-client.js';

const PW = { bob: 'bob password 1234', mallory: 'mallory password 1234' };
const NS_VERSION = 'jabber:iq:version';

for (const version of PROSODY_VERSIONS) {
  describe(`review #11 / #12 on Prosody ${version}: the component link's IQs and its standby`, { timeout: 120_000 }, () => {
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

    // Last: it takes the slot from the stack's own link. The slot is Prosody's component
    // port alike in both generations: the newest only (CI time: issue 24 #1).
    if (version === PROSODY_VERSIONS[0]) it(`review #12 (Prosody ${version}): a standby asks less and less often once the slot is refused (not every 1.5-3 s forever), and asks at once when the holder lets go`, async () => {
      // Another instance: its own store on the same Redis, as app.ts wires it.
      const store = createStore({ redisUrl: stack.server.redisUrl! });
      const domain = STACK_COMPONENT.domain;
      const standby = new ComponentLink({
        service: `xmpp://127.0.0.1:${stack.prosody.componentPort}`,
        domain: STACK_COMPONENT.domain,
        secret: STACK_COMPONENT.secret,
        logger: silentLogger,
        // The defaults (5 s doubling to 60 s) scaled down for the test.
        standby: { initialMs: 500, maxMs: 8000 },
        handover: {
          announce: () => store.publishSlotFreed(domain),
          listen: (onFreed) => store.onSlotFreed((d) => d === domain && onFreed()),
        },
      });
      const attempts: number[] = [];
      standby.onStatus(({ state }) => state === 'connecting' && attempts.push(Date.now()));
      try {
        standby.start();
        const deadline = Date.now() + 60_000;
        while (attempts.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.equal(standby.status.standby, true);
        const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
        assert.ok(gaps.length >= 6, `attempts: ${gaps.join(', ')} ms apart`);
        assert.ok(gaps[0]! < 2000, `the first retry comes soon: ${gaps.join(', ')}`);
        // The cap, jittered to 4-8 s: well past the old 1.5-3 s.
        assert.ok(gaps.slice(4).every((g) => g >= 3800), `later retries wait the capped time: ${gaps.join(', ')}`);

        // The holder (the stack's own instance) stops cleanly and says so through Redis:
        // the standby takes the slot without waiting out its backoff (4-8 s here, 30-60 s by default).
        const stoppedAt = Date.now();
        await stack.server.app.link!.stop();
        await standby.waitOnline(3000);
        assert.ok(Date.now() - stoppedAt < 3000, `took over after ${Date.now() - stoppedAt} ms`);
      } finally {
        await standby.stop();
        await store.close();
      }
    });
  });
}
