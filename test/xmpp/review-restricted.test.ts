// Issue 22 (outside review), items 1, 2, 10 and the design point of 11, over a
// real Prosody (0.12 and 13), our module, the real component and Redis:
// restricted sessions (xmpp:account:read / write) hold at every door.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CAM, grantFor, REGISTRATION_KEY, resource, stanzaError } from '../helpers/cam.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { startProsodyStack, STACK_COMPONENT, type ProsodyStack } from '../helpers/prosody-stack.js';
import { chatSession, plainLogin, rawSasl, xml, type ChatSession } from '../helpers/xmpp-client.js';
import { registerAdhocCommands } from '../../src/xmpp/adhoc/index.js';
import { sessionAccessOver } from '../../src/xmpp/adhoc/session-access.js';
import { registerCamProtocol } from '../../src/xmpp/cam-protocol.js';
import { NS_STANZAS } from '../../src/xmpp/errors.js';
import { IqRouter, type IqReply } from '../../src/xmpp/iq.js';
import { xml as el } from '../../src/xmpp/xml.js';
import { silentLogger } from '../../src/log.js';
import { SCOPES } from '../../src/oauth/scopes.js';

const CMD = 'http://jabber.org/protocol/commands';
const REGISTER = 'jabber:iq:register';
const NS_AUTH = 'urn:xmpp-oauth:auth:0';
const PW = { alice: 'alice password 1234', bob: 'bob password 1234', carol: 'carol password 1234', admin: 'admin password 1234' };

for (const version of PROSODY_VERSIONS) {
  describe(`issue 22: restricted sessions on Prosody ${version}`, { timeout: 240_000 }, () => {
    let stack: ProsodyStack;
    const open: ChatSession[] = [];
    const track = (s: ChatSession) => (open.push(s), s);
    const target = () => stack.target;
    const grant = (user: keyof typeof PW, scope: string) => grantFor(stack.server.url, stack.server, `${user}@localhost`, PW[user], scope);
    const session = async (user: keyof typeof PW, scope: string) => {
      const g = await grant(user, scope);
      return { g, s: track(await chatSession(target(), user, g.access_token, resource())) };
    };

    before(async () => {
      stack = await startProsodyStack({
        version,
        // register: XEP-0077 password changes; smacks: XEP-0198 resumption (#10).
        // 13 also resumes inside SASL2 (prosody-modules' mod_sasl2_sm).
        prosody: { modules: ['register', 'smacks', ...(version === '13' ? ['sasl2', 'sasl2_sm'] : [])] },
        server: { registration_key: REGISTRATION_KEY, address_throttle: { registrations: 1000 }, admins: ['admin@localhost'] },
        accounts: Object.fromEntries(Object.entries(PW).map(([u, p]) => [`${u}@localhost`, p])),
      });
    });

    after(async () => {
      for (const s of open) await s.stop();
      await stack?.stop();
    });

    it(`review #1 (${version}): an xmpp:account:write session cannot delete the account, whatever the shape of the XEP-0077 query`, async () => {
      const { s } = await session('carol', 'openid xmpp:account:write');
      const attacks = [
        // The review's payload: Prosody deletes on a first child named remove, in any namespace.
        xml('query', { xmlns: REGISTER }, xml('remove', { xmlns: 'urn:example:x' }), xml('password', {}, 'x')),
        xml('query', { xmlns: REGISTER }, xml('remove')),
        xml('query', { xmlns: REGISTER }, xml('remove'), xml('username', {}, 'carol'), xml('password', {}, 'x')),
        xml('query', { xmlns: REGISTER }, xml('username', {}, 'carol'), xml('password', {}, 'x'), xml('remove')),
        xml('query', { xmlns: REGISTER }, xml('username', {}, 'carol'), xml('password', {}, xml('remove'))),
        xml('query', { xmlns: REGISTER }, xml('username', { xmlns: 'urn:example:x' }, 'carol'), xml('password', {}, 'x')),
        xml('query', { xmlns: REGISTER }, xml('username', {}, 'bob'), xml('password', {}, 'bob is mine now')),
        xml('query', { xmlns: REGISTER }, xml('username', {}, 'carol'), xml('password', {}, '')),
        xml('query', { xmlns: REGISTER }, xml('password', {}, 'no username')),
        xml('query', { xmlns: REGISTER }, xml('username', {}, 'carol'), xml('password', {}, 'a'), xml('password', {}, 'b')),
      ];
      for (const payload of attacks) {
        for (const to of ['', 'localhost']) {
          assert.equal((await stanzaError(s.iq(to, 'set', payload))).condition, 'policy-violation', `${to || 'self'}: ${payload.toString()}`);
        }
      }
      assert.equal(await stack.server.app.store.accountExists('carol@localhost'), true, 'the account still exists');
      assert.equal(await plainLogin(target(), 'carol', PW.carol), true, 'its password is unchanged');
      assert.equal(await plainLogin(target(), 'bob', PW.bob), true, "and so is bob's");
      assert.match(stack.prosody.log(), /Restricted session \(write\): refusing a iq/);
    });

    it(`review #11 (${version}): a write session changes the password without the old one (the consent text says it can take over the account); a read session cannot`, async () => {
      assert.match(SCOPES['xmpp:account:write'], /take over your account/);
      const change = (password: string) => xml('query', { xmlns: REGISTER }, xml('username', {}, 'alice'), xml('password', {}, password));
      const { s: reader } = await session('alice', 'openid xmpp:account:read');
      for (const to of ['', 'localhost']) assert.equal((await stanzaError(reader.iq(to, 'set', change('alice new password 1')))).condition, 'policy-violation');
      assert.equal(await plainLogin(target(), 'alice', PW.alice), true, 'the password is unchanged');

      const { s: writer } = await session('alice', 'openid xmpp:account:write');
      await writer.iq('', 'set', change('alice new password 2'));
      assert.equal(await plainLogin(target(), 'alice', 'alice new password 2'), true);
      await writer.iq('localhost', 'set', xml('query', { xmlns: REGISTER }, xml('username', {}, 'ALICE'), xml('password', {}, PW.alice)));
      assert.equal(await plainLogin(target(), 'alice', PW.alice), true, 'the username is nodeprepped, as Prosody does');
    });

    it(`review #2 (${version}): a read session only lists; revoking needs write; no admin-* command from any restricted session; the component asks the session's scope itself`, async () => {
      const victim = await grant('admin', 'openid xmpp');
      const victimSession = track(await chatSession(target(), 'admin', victim.access_token, resource()));
      const bobGrant = await grant('bob', 'openid xmpp');
      const { s: reader } = await session('admin', 'openid xmpp:account:read');

      // Listing works; XEP-0494 revoke, the ad-hoc revoke and the admin commands do not.
      const listed = await reader.iq('', 'get', xml('list', { xmlns: CAM }));
      assert.ok(listed.getChildren('client').some((c) => c.attrs.id === victim.grantId));
      const grants = await reader.iq(STACK_COMPONENT.domain, 'set', xml('command', { xmlns: CMD, node: 'grants', action: 'execute' }));
      assert.equal(grants.attrs.status, 'completed');
      assert.equal((await stanzaError(reader.iq('', 'set', xml('revoke', { xmlns: CAM, id: victim.grantId })))).condition, 'policy-violation');
      for (const node of ['revoke', 'admin-revoke', 'admin-grants', 'no-such-command']) {
        const refused = await stanzaError(reader.iq(STACK_COMPONENT.domain, 'set', xml('command', { xmlns: CMD, node, action: 'execute' })));
        assert.equal(refused.condition, 'policy-violation', node);
      }

      // A write session of the admin revokes its own apps, but runs no admin command either.
      const { s: writer } = await session('admin', 'openid xmpp:account:write');
      const form = await writer.iq(STACK_COMPONENT.domain, 'set', xml('command', { xmlns: CMD, node: 'revoke', action: 'execute' }));
      assert.equal(form.attrs.status, 'executing');
      for (const node of ['admin-revoke', 'admin-grants']) {
        assert.equal((await stanzaError(writer.iq(STACK_COMPONENT.domain, 'set', xml('command', { xmlns: CMD, node, action: 'execute' })))).condition, 'policy-violation', node);
      }
      assert.ok(await stack.server.app.store.getGrant(victim.grantId), 'nothing was revoked');
      assert.ok(await stack.server.app.store.getGrant(bobGrant.grantId));
      await victimSession.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));

      // The component's own view, asked of the module over the link: the layer
      // that holds if the filter above ever let a command through.
      const access = sessionAccessOver(stack.server.app.link!, ['localhost'], silentLogger);
      assert.equal(await access(reader.jid), 'read');
      assert.equal(await access(writer.jid), 'write');
      assert.equal(await access(victimSession.jid), 'full');
      assert.equal(await access('admin@localhost/no-such-resource'), 'no-session');
      assert.equal(await access('admin@localhost'), 'no-session');
      const answer = await stack.server.app.link!.request(xml('iq', { type: 'get', to: 'localhost' }, xml('session', { xmlns: NS_AUTH, jid: reader.jid })));
      assert.equal(answer.getChild('session', NS_AUTH)?.attrs.level, 'read');

      // The component alone, without the module's filter in front (as if it let
      // a stanza through): its handlers, fed what Prosody would route, ask the
      // real server about the session and refuse by themselves.
      const link = stack.server.app.link!;
      const router = Object.assign(new IqRouter(silentLogger), { domain: STACK_COMPONENT.domain, request: link.request.bind(link) });
      registerAdhocCommands(router, { core: stack.server.app.core, log: silentLogger });
      registerCamProtocol(router, { core: stack.server.app.core, log: silentLogger });
      const condition = (reply: IqReply) =>
        reply === true ? 'empty result' : reply.name === 'error' ? reply.getChildElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== 'text')?.name : reply.name;
      const run = (from: string, node: string) =>
        router.dispatch({ from, to: STACK_COMPONENT.domain, id: 'c1', type: 'set', element: el('command', { xmlns: CMD, node, action: 'execute' }) });
      for (const node of ['revoke', 'admin-revoke', 'admin-grants']) assert.equal(condition(await run(reader.jid, node)), 'forbidden', `read: ${node}`);
      for (const node of ['admin-revoke', 'admin-grants']) assert.equal(condition(await run(writer.jid, node)), 'forbidden', `write: ${node}`);
      assert.equal(condition(await run(reader.jid, 'grants')), 'command');
      assert.equal(condition(await run(writer.jid, 'revoke')), 'command');
      assert.equal(condition(await run(victimSession.jid, 'admin-grants')), 'command', 'a normal session of the admin');
      assert.equal(condition(await run('admin@localhost/gone', 'grants')), 'forbidden', 'no such session');
      const revokeGrant = (scope?: string) =>
        router.dispatch({ from: 'localhost', to: STACK_COMPONENT.domain, id: 'r1', type: 'set',
          element: el('revoke-grant', { xmlns: NS_AUTH, user: 'admin', host: 'localhost', grant: victim.grantId, ...(scope ? { scope } : {}) }) });
      assert.equal(condition(await revokeGrant('openid xmpp:account:read')), 'forbidden');
      assert.ok(await stack.server.app.store.getGrant(victim.grantId), 'still not revoked');

      // Write: XEP-0494 revoke works, and the session it ended is closed.
      await writer.iq('', 'set', xml('revoke', { xmlns: CAM, id: victim.grantId }));
      assert.equal(await stack.server.app.store.getGrant(victim.grantId), null);
    });

    it(`review #10 (${version}): an XEP-0198 resumption with another grant or scope is refused; the same login resumes`, async () => {
      const normal = await grant('bob', 'openid xmpp');
      const restricted = await grant('bob', 'openid xmpp:account:read');
      const SM = 'urn:xmpp:sm:3';
      const restart = `<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
      const plain = (user: string, secret: string) => `\0${user}\0${secret}`;

      // A resumable session logged in with `secret`; its socket then dies.
      const resumable = async (secret: string) => {
        const raw = await rawSasl(target());
        assert.equal((await raw.auth('PLAIN', plain('bob', secret))).name, 'success');
        // A resource of its own: binding one in use would end the session kept for resumption.
        await raw.exchange(restart, /<\/stream:features>/);
        await raw.exchange(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource()}</resource></bind></iq>`, /<\/jid>/);
        const enabled = await raw.exchange(`<enable xmlns='${SM}' resume='true'/>`, /<enabled\b[^>]*\bid=['"]([^'"]+)['"]/);
        raw.close();
        return enabled[1]!;
      };
      const resume = async (secret: string, previd: string) => {
        const raw = await rawSasl(target());
        assert.equal((await raw.auth('PLAIN', plain('bob', secret))).name, 'success');
        await raw.exchange(restart, /<\/stream:features>/);
        const m = await raw.exchange(`<resume xmlns='${SM}' h='0' previd='${previd}'/>`, /<(resumed|failed)\b[\s\S]*?(?:\/>|<\/failed>)/);
        raw.close();
        return m[0];
      };

      // A restricted token cannot take over a normal session (nor the other way round).
      const normalId = await resumable(normal.access_token);
      const refused = await resume(restricted.access_token, normalId);
      assert.match(refused, /^<failed/);
      assert.match(refused, /policy-violation/);
      const restrictedId = await resumable(restricted.access_token);
      assert.match(await resume(normal.access_token, restrictedId), /^<failed[\s\S]*policy-violation/);
      assert.match(await resume(PW.bob, restrictedId), /^<failed[\s\S]*policy-violation/, 'nor a password login');
      // The same grant and scope resumes as before.
      assert.match(await resume(restricted.access_token, restrictedId), /^<resumed/);
      assert.match(await resume(normal.access_token, normalId), /^<resumed/);
      assert.match(stack.prosody.log(), /Refusing to resume a session that logged in with another grant or scope/);
    });

    if (version === '13') {
      it(`review #10 (${version}): a resumption inside SASL2 <authenticate/> with another grant or scope is refused too`, async () => {
        const normal = await grant('bob', 'openid xmpp');
        const restricted = await grant('bob', 'openid xmpp:account:read');
        const SM = 'urn:xmpp:sm:3';
        const restart = `<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
        const raw = await rawSasl(target());
        assert.equal((await raw.auth('PLAIN', `\0bob\0${normal.access_token}`)).name, 'success');
        await raw.exchange(restart, /<\/stream:features>/);
        await raw.exchange(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource()}</resource></bind></iq>`, /<\/jid>/);
        const previd = (await raw.exchange(`<enable xmlns='${SM}' resume='true'/>`, /<enabled\b[^>]*\bid=['"]([^'"]+)['"]/))[1]!;
        raw.close();

        const sasl2 = async (token: string) => {
          const again = await rawSasl(target());
          const initial = Buffer.from(`\0bob\0${token}`).toString('base64');
          const m = await again.exchange(
            `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>${initial}</initial-response><resume xmlns='${SM}' previd='${previd}' h='0'/></authenticate>`,
            /<(success|failure)\b[\s\S]*?<\/\1>/,
          );
          again.close();
          return m[0];
        };
        const refused = await sasl2(restricted.access_token);
        assert.match(refused, /^<success/, 'the login itself succeeds');
        assert.match(refused, /<failed[^>]*urn:xmpp:sm:3[\s\S]*policy-violation/);
        assert.doesNotMatch(refused, /<resumed/);
        assert.match(await sasl2(normal.access_token), /<resumed/, 'the same grant resumes');
      });
    }
  });
}
