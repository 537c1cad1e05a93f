// Issue 22, acceptance: a property test of restricted sessions against a real
// Prosody with our module. fast-check generates stanzas of every kind (message,
// presence, IQ get/set to the account, its server, the component, other users,
// other hosts, with arbitrary child names and namespaces); each is sent from a
// read-only and from a write-scoped session (on 0.12 and 13), and exactly the documented list
// (docs/protocol.md, "Restricted sessions") may pass: everything else comes
// back as policy-violation, and nothing reaches another user.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type xmlModule from '@xmpp/xml';
import fc from 'fast-check';
import { CAM, grantFor, REGISTRATION_KEY, resource } from '../helpers/cam.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { startProsodyStack, STACK_COMPONENT, type ProsodyStack } from '../helpers/prosody-stack.js';
import { chatSession, xml, type ChatSession } from '../helpers/xmpp-client.js';

type Level = 'read' | 'write';
type El = xmlModule.Element;

const NS = {
  register: 'jabber:iq:register',
  session: 'urn:ietf:params:xml:ns:xmpp-session',
  ping: 'urn:xmpp:ping',
  commands: 'http://jabber.org/protocol/commands',
  info: 'http://jabber.org/protocol/disco#info',
  items: 'http://jabber.org/protocol/disco#items',
  roster: 'jabber:iq:roster',
  cam: CAM,
};
const PW = { alice: 'alice password 1234', bob: 'bob password 1234' };
const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);

// Where a stanza goes, and which row of the documented table that is.
const TARGETS: Array<{ to: string; row: 'self' | 'host' | 'component' | null }> = [
  { to: '', row: 'self' },
  { to: 'alice@localhost', row: 'self' },
  { to: 'Alice@LOCALHOST', row: 'self' },
  { to: 'alice@localhost/elsewhere', row: null },
  { to: 'localhost', row: 'host' },
  { to: 'LOCALHOST', row: 'host' },
  { to: 'localhost/x', row: null },
  { to: STACK_COMPONENT.domain, row: 'component' },
  { to: `${STACK_COMPONENT.domain}/x`, row: null },
  { to: 'bob@localhost', row: null },
  { to: 'bob@oauth.localhost', row: null },
  { to: 'example.net', row: null },
];

interface Payload {
  el: El;
  xmlns: string;
  name: string;
  /** Ad-hoc node, for commands. */
  node?: string;
  /** For jabber:iq:register queries: is it exactly the password-change shape for alice? */
  passwordChange?: boolean;
}

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const anyNs = fc.oneof(fc.constantFrom(...Object.values(NS)), token.map((t) => `urn:example:${t}`));
const anyName = fc.oneof(fc.constantFrom('query', 'list', 'revoke', 'session', 'ping', 'command', 'remove', 'x', 'vCard'), token);

// XEP-0077 children: right and wrong names, namespaces, usernames, passwords.
const registerChild = fc.oneof(
  fc.record({ name: fc.constant('username'), text: fc.constantFrom('alice', 'ALICE', 'bob', ''), foreign: fc.boolean() }),
  fc.record({ name: fc.constant('password'), text: fc.oneof(fc.constant(''), token.map((t) => `pw ${t} 1234567`)), foreign: fc.boolean() }),
  fc.record({ name: fc.constantFrom('remove', 'email', 'x'), text: fc.constant(''), foreign: fc.boolean() }),
);
const registerQuery = fc.array(registerChild, { maxLength: 4 }).map((children): Payload => {
  const els = children.map((c) => xml(c.name, c.foreign ? { xmlns: 'urn:example:x' } : {}, c.text));
  const names = children.map((c) => c.name).sort().join(',');
  const user = children.find((c) => c.name === 'username');
  const pass = children.find((c) => c.name === 'password');
  const passwordChange =
    names === 'password,username' && children.every((c) => !c.foreign) && user!.text.toLowerCase() === 'alice' && pass!.text !== '';
  return { el: xml('query', { xmlns: NS.register }, ...els), xmlns: NS.register, name: 'query', passwordChange };
});
const command = fc.constantFrom('grants', 'revoke', 'admin-grants', 'admin-revoke', 'other').map(
  (node): Payload => ({ el: xml('command', { xmlns: NS.commands, node, action: 'execute' }), xmlns: NS.commands, name: 'command', node }),
);
const known = fc.constantFrom<[string, string]>(
  [NS.cam, 'list'], [NS.cam, 'revoke'], [NS.session, 'session'], [NS.ping, 'ping'], [NS.info, 'query'], [NS.items, 'query'], [NS.roster, 'query'],
).map(([xmlns, name]): Payload => ({ el: xml(name, name === 'revoke' ? { xmlns, id: 'no-such-client' } : { xmlns }), xmlns, name }));
const arbitrary = fc.tuple(anyNs, anyName, fc.option(fc.tuple(anyName, anyNs))).map(
  ([xmlns, name, child]): Payload => ({ el: xml(name, { xmlns }, child ? xml(child[0], { xmlns: child[1] }) : null), xmlns, name, passwordChange: false }),
);
const payload = fc.oneof({ arbitrary: known, weight: 3 }, { arbitrary: registerQuery, weight: 2 }, { arbitrary: command, weight: 2 }, { arbitrary: arbitrary, weight: 3 });

type Stanza =
  | { kind: 'iq'; type: 'get' | 'set'; target: (typeof TARGETS)[number]; payload: Payload }
  | { kind: 'message' | 'presence'; type?: string; target: (typeof TARGETS)[number] };

// The documented entries themselves (each target spelling of its row), so the
// allowed side is exercised as often as the refused one.
const byRow = (row: string) => TARGETS.filter((t) => t.row === row);
const documented: fc.Arbitrary<Stanza> = fc.oneof(
  fc.record({ kind: fc.constant('iq' as const), type: fc.constant('get' as const), target: fc.constantFrom(...byRow('self')), payload: fc.constant<Payload>({ el: xml('list', { xmlns: NS.cam }), xmlns: NS.cam, name: 'list' }) }),
  fc.record({ kind: fc.constant('iq' as const), type: fc.constant('set' as const), target: fc.constantFrom(...byRow('self')), payload: fc.constant<Payload>({ el: xml('revoke', { xmlns: NS.cam, id: 'no-such-client' }), xmlns: NS.cam, name: 'revoke' }) }),
  fc.record({ kind: fc.constant('iq' as const), type: fc.constant('set' as const), target: fc.constantFrom(...byRow('self'), ...byRow('host')), payload: registerQuery }),
  fc.record({ kind: fc.constant('iq' as const), type: fc.constant('get' as const), target: fc.constantFrom(...byRow('host'), ...byRow('component')), payload: known }),
  fc.record({ kind: fc.constant('iq' as const), type: fc.constant('set' as const), target: fc.constantFrom(...byRow('component')), payload: command }),
);

const stanza: fc.Arbitrary<Stanza> = fc.oneof(
  { arbitrary: documented, weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('iq' as const), type: fc.constantFrom('get' as const, 'set' as const), target: fc.constantFrom(...TARGETS), payload }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('message' as const), type: fc.constantFrom(undefined, 'chat', 'normal', 'headline', 'groupchat'), target: fc.constantFrom(...TARGETS) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('presence' as const), type: fc.constantFrom(undefined, 'subscribe', 'subscribed', 'probe'), target: fc.constantFrom(...TARGETS) }), weight: 1 },
);

/** The documented allow-list, written out independently of restrict.lib.lua. */
function allowed(level: Level, s: Stanza): boolean {
  if (s.kind !== 'iq') return false;
  const { row } = s.target;
  const { xmlns, name, node, passwordChange } = s.payload;
  const key = `${s.type} ${xmlns} ${name}`;
  const write = level === 'write';
  if (row === 'self') {
    if (key === `get ${NS.cam} list` || key === `set ${NS.session} session`) return true;
    if (key === `set ${NS.cam} revoke`) return write;
    if (key === `set ${NS.register} query`) return write && passwordChange === true;
  }
  if (row === 'host') {
    if (key === `get ${NS.ping} ping` || key === `get ${NS.info} query` || key === `set ${NS.session} session`) return true;
    if (key === `set ${NS.register} query`) return write && passwordChange === true;
  }
  if (row === 'component') {
    if (key === `get ${NS.info} query` || key === `get ${NS.items} query` || key === `get ${NS.ping} ping`) return true;
    if (key === `set ${NS.commands} command`) return node === 'grants' || (write && node === 'revoke');
  }
  return false;
}

const conditionOf = (st: El) => st.getChild('error')?.getChildElements().find((c) => c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas')?.name;

for (const version of PROSODY_VERSIONS) {
  describe(`issue 22: restricted sessions against generated stanzas (Prosody ${version})`, { timeout: 300_000 }, () => {
    let stack: ProsodyStack;
    const sessions: Partial<Record<Level, ChatSession>> = {};
    const tokens: Partial<Record<Level, string>> = {};
    const login = async (level: Level) => {
      const s = await chatSession(stack.target, 'alice', tokens[level]!, resource());
      sessions[level] = s;
    };
    // An allowed password change makes Prosody 13 close the account's other
    // sessions ("Password changed"): start both afresh, the tokens still hold.
    const afterPasswordChange = async () => {
      for (const level of ['read', 'write'] as const) {
        await sessions[level]!.stop();
        await login(level);
      }
    };
    let bob: ChatSession;
    let n = 0;

    before(async () => {
      stack = await startProsodyStack({
        version,
        prosody: { modules: ['register'] },
        server: { registration_key: REGISTRATION_KEY, address_throttle: { registrations: 1000 } },
        accounts: { 'alice@localhost': PW.alice, 'bob@localhost': PW.bob },
      });
      for (const level of ['read', 'write'] as const) {
        const g = await grantFor(stack.server.url, stack.server, 'alice@localhost', PW.alice, `openid xmpp:account:${level}`);
        tokens[level] = g.access_token;
        await login(level);
      }
      bob = await chatSession(stack.target, 'bob', PW.bob, resource());
    });

    after(async () => {
      if (process.env.DEBUG_PROSODY_LOG) (await import('node:fs')).writeFileSync(`${process.env.DEBUG_PROSODY_LOG}.${version}`, stack.prosody.log());
      for (const s of [...Object.values(sessions), bob]) await s?.stop();
      await stack?.stop();
    });

    /** Sends one stanza; true when it passed the filter (anything but policy-violation came back). */
    async function send(from: ChatSession, s: Stanza): Promise<boolean> {
      const to = s.target.to;
      if (s.kind === 'iq') {
        try {
          await from.iq(to, s.type, s.payload.el);
          return true;
        } catch (err) {
          const condition = (err as { condition?: string }).condition;
          assert.ok(condition, `no stanza error: ${String(err)}`);
          return condition !== 'policy-violation';
        }
      }
      const id = `g${++n}`;
      const attrs: Record<string, string> = { id, ...(to ? { to } : {}), ...(s.type ? { type: s.type } : {}) };
      await from.send(xml(s.kind, attrs, s.kind === 'message' ? xml('body', {}, `generated ${id}`) : null));
      const bounced = await from.waitFor((st) => st.name === s.kind && st.attrs.id === id && st.attrs.type === 'error');
      return conditionOf(bounced) !== 'policy-violation';
    }

    it(`review #acceptance (${version}): ${RUNS} generated stanzas from a read and a write session: exactly the documented list passes`, async (t) => {
      const seen = { passed: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(fc.constantFrom<Level>('read', 'write'), stanza, async (level, s) => {
          const passed = await send(sessions[level]!, s);
          if (passed && s.kind === 'iq' && s.payload.xmlns === NS.register) await afterPasswordChange();
          seen[passed ? 'passed' : 'refused']++;
          assert.equal(passed, allowed(level, s), `${level} session, ${s.kind} ${'type' in s ? s.type : ''} to ${s.target.to || '(self)'}${s.kind === 'iq' ? `: ${s.payload.el.toString()}` : ''}`);
        }),
        // PROPERTY_SEED replays a failing run (fast-check prints its seed).
        { numRuns: RUNS, ...(process.env.PROPERTY_SEED ? { seed: Number(process.env.PROPERTY_SEED) } : {}) },
      );
      // Both sides of the list were exercised, not only refusals.
      t.diagnostic(`passed ${seen.passed}, refused ${seen.refused}`);
      assert.ok(seen.passed >= RUNS / 20 && seen.refused >= RUNS / 4, JSON.stringify(seen));
      // Nothing generated reached another user.
      await bob.iq('localhost', 'get', xml('ping', { xmlns: NS.ping }));
      assert.equal(bob.received.filter((st) => st.name === 'message' || (st.name === 'presence' && st.attrs.from?.startsWith('alice@'))).length, 0);
      assert.equal(await stack.server.app.store.accountExists('alice@localhost'), true);
    });
  });
}
