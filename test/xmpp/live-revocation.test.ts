// Issue 14 over a real Prosody 0.12, the real component and a real Redis:
// XEP-0494 list / revoke, and revocation from every door ending the live XMPP
// sessions that logged in with the grant.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  APP, assertCamRefusals, assertGrantListed, assertRevokedByOwner, assertRevokedClose, CAM, camList, closedWithin, COMPONENT, grantFor, REGISTRATION_KEY, resource, stanzaError, TOKEN_LOGINS,
} from '../helpers/cam.js';
import { launchChromium, openPage } from '../helpers/chromium.js';
import { tokenCall } from '../helpers/flow.js';
import type { ProsodyInstance } from '../helpers/prosody.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import type { TestServer } from '../helpers/server.js';
import { chatSession, plainLogin, xml, type ChatSession } from '../helpers/xmpp-client.js';
import { silentLogger } from '../../src/log.js';
import { removeAccount } from '../../src/oauth/account-life/account-lifecycle.js';

const PW = { alice: 'alice password 1234', bob: 'bob password 1234', carol: 'carol password 1234', dave: 'dave password 1234', admin: 'admin password 1234' };

for (const version of PROSODY_VERSIONS) {
  describe(`issue 14: XEP-0494 and live revocation over Prosody ${version}`, { timeout: 180_000 }, () => {
    let prosody: ProsodyInstance;
    let server: TestServer;
    let stack: ProsodyStack | undefined;
    let owner: ChatSession;
    const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });
    const open: ChatSession[] = [];
    const track = (s: ChatSession) => (open.push(s), s);

    before(async () => {
      stack = await startProsodyStack({
        version,
        // register: XEP-0077 password changes, which restricted write sessions may make.
        prosody: { modules: ['register'] },
        server: {
          registration_key: REGISTRATION_KEY,
          // Every test registers its own client, from one address.
          address_throttle: { registrations: 1000 },
          admins: ['admin@localhost'],
        },
        accounts: Object.fromEntries(Object.entries(PW).map(([user, pw]) => [`${user}@localhost`, pw])),
      });
      ({ prosody, server } = stack);
      owner = track(await chatSession(target(), 'alice', PW.alice));
    });

    after(async () => {
      for (const s of open) await s.stop();
      if (process.env.DEBUG_PROSODY_LOG) (await import('node:fs')).writeFileSync(process.env.DEBUG_PROSODY_LOG, prosody.log());
      await stack?.stop();
    });

    for (const [method, login] of Object.entries(TOKEN_LOGINS)) {
      it(`issue 14 #acceptance-1 (${method}): a password session lists its grants field by field, revokes one, and the token session is closed within 5 s`, async () => {
        const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
        const session = track(await login(target(), 'alice', g.access_token));

        await assertGrantListed(await camList(owner), g, server);
        await assertRevokedByOwner(owner, session, g, { server, target: target(), user: 'alice@localhost', password: PW.alice });
      });

      it(`issue 14 #acceptance-2 (${method}): RFC 7009 revocation of the refresh token closes the session`, async () => {
        const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
        const session = track(await login(target(), 'alice', g.access_token));
        const res = await fetch(new URL('/oauth2/revoke', server.url), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: g.refresh_token, token_type_hint: 'refresh_token', client_id: g.clientId }),
        });
        assert.equal(res.status, 200);
        assertRevokedClose(await closedWithin(session, 5000));
      });

      it(`issue 14 #acceptance-2 (${method}): a refresh-token replay revokes the grant and closes the session`, async () => {
        const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
        const session = track(await login(target(), 'alice', g.access_token));
        const refresh = () => tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: g.refresh_token }, 'none', g.clientId);
        assert.equal((await refresh()).status, 200);
        assert.equal((await refresh()).status, 400, 'the replay is refused');
        assertRevokedClose(await closedWithin(session, 5000));
      });
    }

    it('issue 14 #acceptance-2 / #display: the account page in Chromium shows software and connected, and its revoke closes the session', async () => {
      const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const session = track(await chatSession(target(), 'alice', g.access_token, resource()));
      const browser = await launchChromium();
      try {
        const w = await openPage(browser);
        const { page } = w;
        await page.goto(`${server.url}/account`);
        await page.getByLabel('XMPP address').fill('alice@localhost');
        await page.getByLabel('Password').fill(PW.alice);
        await page.getByRole('button', { name: 'Sign in' }).click();
        const item = page.locator(`li.grant:has(input[name="grant"][value="${g.grantId}"])`);
        await item.waitFor();
        const text = await item.innerText();
        assert.match(text, new RegExp(APP.client_name));
        assert.match(text, new RegExp(`Software: ${APP.software_id} ${APP.software_version.replace(/\./g, '\\.')}`));
        assert.match(text, /connected now/);
        assert.match(text, /last used \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
        await w.screenshot('issue14-account-connected');
        await item.getByRole('button', { name: `Revoke access for ${APP.client_name}` }).click();
        await page.waitForURL(/notice=account\.notice\.revoked/);
        assertRevokedClose(await closedWithin(session, 5000));
        await page.reload();
        assert.equal(await page.locator(`input[name="grant"][value="${g.grantId}"]`).count(), 0);
        await w.finish();
      } finally {
        await browser.close();
      }
    });

    it('issue 14 #display: the ad-hoc grant list shows software, last use and whether a session is connected', async () => {
      const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const idle = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const session = track(await chatSession(target(), 'alice', g.access_token, resource()));
      const reply = await owner.iq(COMPONENT.domain, 'set', xml('command', { xmlns: 'http://jabber.org/protocol/commands', node: 'grants', action: 'execute' }));
      const rows = (reply.getChild('x', 'jabber:x:data')?.getChildren('item') ?? []).map((item) =>
        Object.fromEntries(item.getChildren('field').map((f) => [f.attrs.var as string, f.getChildText('value')])),
      );
      const mine = rows.filter((r) => r.application === APP.client_name);
      assert.ok(mine.length >= 2);
      assert.ok(mine.every((r) => r.software === `${APP.software_id} ${APP.software_version}`));
      assert.ok(mine.every((r) => /UTC$/.test(r.used ?? '')));
      // One of them is connected (this session), the idle grant is not.
      assert.deepEqual(mine.map((r) => r.connected).sort().slice(-1), ['yes']);
      assert.ok(mine.some((r) => r.connected === 'no'));
      await owner.iq('', 'set', xml('revoke', { xmlns: CAM, id: g.grantId }));
      await owner.iq('', 'set', xml('revoke', { xmlns: CAM, id: idle.grantId }));
      assertRevokedClose(await closedWithin(session, 5000));
    });

    it('issue 14: an authorization-code replay revokes the grant and closes the session', async () => {
      const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const session = track(await chatSession(target(), 'alice', g.access_token, resource()));
      const replay = await tokenCall(server.url, { grant_type: 'authorization_code', code: g.code, redirect_uri: APP.redirect_uris[0]!, code_verifier: g.verifier }, 'none', g.clientId);
      assert.equal(replay.status, 400);
      assertRevokedClose(await closedWithin(session, 5000));
    });

    it("issue 14: an admin's ad-hoc revocation closes the user's session", async () => {
      const g = await grantFor(server.url, server, 'bob@localhost', PW.bob);
      const session = track(await chatSession(target(), 'bob', g.access_token, resource()));
      const admin = track(await chatSession(target(), 'admin', PW.admin, resource()));
      const CMD = 'http://jabber.org/protocol/commands';
      const submit = (fields: Record<string, string>) =>
        xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))));
      const done = await admin.iq(COMPONENT.domain, 'set', xml('command', { xmlns: CMD, node: 'admin-revoke', action: 'complete' }, submit({ jid: 'bob@localhost', grant: g.grantId })));
      assert.equal(done.attrs.status, 'completed');
      assert.match(done.getChildText('note') ?? '', /Revoked/);
      assertRevokedClose(await closedWithin(session, 5000));
    });

    it('issue 14: removing the account (as `user remove` does) closes its token sessions', async () => {
      const g = await grantFor(server.url, server, 'dave@localhost', PW.dave);
      const session = track(await chatSession(target(), 'dave', g.access_token, resource()));
      await removeAccount({ accounts: server.app.accounts, store: server.app.store, log: silentLogger }, 'dave@localhost', 'cli');
      assertRevokedClose(await closedWithin(session, 5000));
    });

    it('issue 14: only the sessions of the revoked grant close; another grant and the password session stay', async () => {
      const a = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const b = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const sa = track(await chatSession(target(), 'alice', a.access_token, resource()));
      const sb = track(await chatSession(target(), 'alice', b.access_token, resource()));
      await owner.iq('', 'set', xml('revoke', { xmlns: CAM, id: a.grantId }));
      assertRevokedClose(await closedWithin(sa, 5000));
      // Still answering: a round trip on each survivor.
      await sb.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
      await owner.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
    });

    it('issue 14 #acceptance-5: unknown id gives item-not-found, a password session password-reset-required, malformed payloads bad-request', async () => {
      await assertCamRefusals(owner);
    });

    it("issue 14: XEP-0494 to another user's bare JID or to the server is an error, and nothing is revoked", async () => {
      const g = await grantFor(server.url, server, 'bob@localhost', PW.bob);
      const bobSession = track(await chatSession(target(), 'bob', g.access_token, resource()));
      for (const to of ['bob@localhost', 'localhost']) {
        const e = await stanzaError(owner.iq(to, 'set', xml('revoke', { xmlns: CAM, id: g.grantId })));
        assert.notEqual(e.condition, 'no error', `revoke sent to ${to}`);
        assert.notEqual((await stanzaError(owner.iq(to, 'get', xml('list', { xmlns: CAM })))).condition, 'no error');
      }
      // Alice's own revoke of Bob's grant id reads like an unknown id.
      assert.equal((await stanzaError(owner.iq('', 'set', xml('revoke', { xmlns: CAM, id: g.grantId })))).condition, 'item-not-found');
      assert.equal(await server.app.store.grantExists(g.grantId), true);
      await bobSession.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
    });

    it('issue 14: the revocation notice is accepted only from the xmpp-oauth component', async () => {
      const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const session = track(await chatSession(target(), 'alice', g.access_token, resource()));
      const e = await stanzaError(owner.iq('localhost', 'set', xml('revoked', { xmlns: 'urn:xmpp-oauth:auth:0', grant: g.grantId, user: 'alice' })));
      assert.equal(e.condition, 'forbidden');
      assert.equal((await stanzaError(owner.iq('localhost', 'get', xml('sessions', { xmlns: 'urn:xmpp-oauth:auth:0' })))).condition, 'forbidden');
      await session.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
    });

    describe('restricted sessions (xmpp:account:read / write only)', () => {
      const CMD = 'http://jabber.org/protocol/commands';
      const REGISTER = 'jabber:iq:register';
      const errorOf = (stanza: { getChild(n: string): { getChildElements(): { name: string }[] } | undefined }) =>
        stanza.getChild('error')?.getChildElements()[0]?.name;

      it('issue 14 #acceptance-4: a restricted session lists and revokes its own clients, its message to another user is refused with policy-violation, a normal session\'s is delivered', async () => {
        const bobResource = resource();
        const bob = track(await chatSession(target(), 'bob', PW.bob, bobResource));
        const bobJid = `bob@localhost/${bobResource}`;
        // Revoking needs xmpp:account:write (issue 22 #2); read may only list.
        const manager = await grantFor(server.url, server, 'alice@localhost', PW.alice, 'openid xmpp:account:write');
        const restricted = track(await chatSession(target(), 'alice', manager.access_token, resource()));
        const other = await grantFor(server.url, server, 'alice@localhost', PW.alice);
        const normal = track(await chatSession(target(), 'alice', other.access_token, resource()));

        const listed = await camList(restricted);
        assert.equal(listed.find((c) => c.attrs.id === manager.grantId)?.getChild('permission')?.attrs.status, 'restricted');
        assert.equal(listed.find((c) => c.attrs.id === other.grantId)?.getChild('permission')?.attrs.status, 'normal');

        await restricted.send(xml('message', { to: bobJid, type: 'chat', id: 'r1' }, xml('body', {}, 'from a restricted session')));
        await restricted.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'r2' }, xml('body', {}, 'from a restricted session')));
        for (const id of ['r1', 'r2']) {
          const bounced = await restricted.waitFor((st) => st.name === 'message' && st.attrs.id === id && st.attrs.type === 'error');
          assert.equal(errorOf(bounced), 'policy-violation');
        }
        await normal.send(xml('message', { to: bobJid, type: 'chat', id: 'n1' }, xml('body', {}, 'from a normal session')));
        const delivered = await bob.waitFor((st) => st.name === 'message' && st.getChildText('body') === 'from a normal session');
        assert.match(delivered.attrs.from as string, /^alice@localhost\//);
        assert.equal(bob.received.some((st) => st.getChildText('body') === 'from a restricted session'), false);

        // Presence and IQs to other entities are refused the same way.
        await restricted.send(xml('presence', { id: 'p1' }));
        assert.equal(errorOf(await restricted.waitFor((st) => st.name === 'presence' && st.attrs.id === 'p1')), 'policy-violation');
        assert.equal((await stanzaError(restricted.iq('bob@localhost', 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))).condition, 'policy-violation');
        assert.equal((await stanzaError(restricted.iq('', 'get', xml('query', { xmlns: 'jabber:iq:roster' })))).condition, 'policy-violation', 'not even its own roster');

        // Our ad-hoc commands and a ping to its server work.
        const commands = await restricted.iq(COMPONENT.domain, 'set', xml('command', { xmlns: CMD, node: 'grants', action: 'execute' }));
        assert.equal(commands.attrs.status, 'completed');
        await restricted.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
        await restricted.iq('', 'set', xml('session', { xmlns: 'urn:ietf:params:xml:ns:xmpp-session' }));

        // Nothing from others reaches it either; the same message reaches the normal session.
        for (const to of [restricted.jid, normal.jid]) await bob.send(xml('message', { to, type: 'chat' }, xml('body', {}, `to ${to}`)));
        await normal.waitFor((st) => st.getChildText('body') === `to ${normal.jid}`);
        await restricted.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
        assert.equal(restricted.received.some((st) => st.getChildText('body') === `to ${restricted.jid}`), false);

        // It revokes the normal grant: that session closes.
        await restricted.iq('', 'set', xml('revoke', { xmlns: CAM, id: other.grantId }));
        assertRevokedClose(await closedWithin(normal, 5000));
        await restricted.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
      });

      it('issue 14: a password change is for xmpp:account:write only, and never an account removal', async () => {
        const reader = await grantFor(server.url, server, 'carol@localhost', PW.carol, 'openid xmpp:account:read');
        const writer = await grantFor(server.url, server, 'carol@localhost', PW.carol, 'openid xmpp:account:write');
        const readSession = track(await chatSession(target(), 'carol', reader.access_token, resource()));
        const change = (password: string) => xml('query', { xmlns: REGISTER }, xml('username', {}, 'carol'), xml('password', {}, password));
        assert.equal((await stanzaError(readSession.iq('localhost', 'set', change('carol new password 1')))).condition, 'policy-violation');
        assert.equal(await plainLogin(target(), 'carol', PW.carol), true, 'the password is unchanged');

        const writeSession = track(await chatSession(target(), 'carol', writer.access_token, resource()));
        assert.equal((await stanzaError(writeSession.iq('localhost', 'set', xml('query', { xmlns: REGISTER }, xml('remove'))))).condition, 'policy-violation');
        assert.equal(await server.app.store.accountExists('carol@localhost'), true);
        await writeSession.iq('localhost', 'set', change('carol new password 2'));
        assert.equal(await plainLogin(target(), 'carol', 'carol new password 2'), true);
        assert.equal(await plainLogin(target(), 'carol', PW.carol), false);
      });
    });

    it('issue 14: the re-check closes a session whose grant vanished without news (lost event)', async () => {
      const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const session = track(await chatSession(target(), 'alice', g.access_token, resource()));
      // Delete the grant's key behind the store's back: no announcement is made.
      const { Redis } = await import('ioredis');
      const raw = new Redis(server.redisUrl!);
      assert.equal(await raw.del(`xo:{g:${g.grantId}}`), 1);
      await raw.quit();
      assert.deepEqual(await server.app.revocationPush!.recheck(), [g.grantId]);
      assertRevokedClose(await closedWithin(session, 5000));
    });
  });
}
