// Issue 24 #2: the <user-agent> a SASL2 client sends (XEP-0388: id, software,
// device) reaches the component with the login, is recorded on the grant the
// login used (token or app password), and names the client and device in the
// XEP-0494 list and on /account. Real Prosody 13 with mod_sasl2 + bind2 +
// fast, real xmpp-oauth, real Redis, a raw SASL2 client.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { FormBrowser } from '../helpers/browser.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { sasl2Stream, type Sasl2Stream, type UserAgent } from '../helpers/sasl2-client.js';
import { tokensFor } from '../helpers/tokens.js';
import { oauthbearerMessage } from '../helpers/xmpp-client.js';

const PW = { alice: 'alice password 1234', bob: 'bob password 1234' };

describe('issue 24 #2 on Prosody 13 (mod_sasl2 + bind2 + fast): the SASL2 user-agent names the client in XEP-0494 and on /account', { timeout: 180_000 }, () => {
  let stack: ProsodyStack;
  const open: Sasl2Stream[] = [];

  async function login(user: string, mechanism: string, initial: string, agent: UserAgent, resource: string): Promise<Sasl2Stream> {
    const s = await sasl2Stream(stack.target, user);
    open.push(s);
    const o = await s.authenticate(mechanism, initial, { agent });
    assert.equal(o.name, 'success', o.raw);
    await s.bind(resource);
    return s;
  }

  /** The XEP-0494 list as the raw session sees it: each <client/>, as XML text. */
  async function camList(s: Sasl2Stream, id: string): Promise<string[]> {
    const [reply] = await s.exchange(`<iq type='get' id='${id}'><list xmlns='urn:xmpp:cam:0'/></iq>`, new RegExp(`<iq\\b[^>]*\\bid=['"]${id}['"][\\s\\S]*?</iq>`));
    assert.match(reply, /type=['"]result['"]/, reply);
    return reply.match(/<client\b[\s\S]*?<\/client>/g) ?? [];
  }

  async function accountPage(user: 'alice' | 'bob'): Promise<string> {
    const browser = new FormBrowser();
    const page = await (await browser.get(`${stack.server.url}/account`)).text();
    assert.equal((await browser.submit(stack.server.url, page, { username: user, password: PW[user] })).status, 303);
    return (await browser.get(`${stack.server.url}/account`)).text();
  }

  /** touchGrant is not awaited by the login: give the write a moment. */
  async function grantAgent(jid: string, grantId: string): Promise<UserAgent | undefined> {
    for (let i = 0; i < 50; i++) {
      const g = (await stack.server.app.store.listGrants(jid)).find((x) => x.id === grantId);
      if (g?.userAgent) return g.userAgent as UserAgent;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  before(async () => {
    stack = await startProsodyStack({
      version: '13',
      accounts: Object.fromEntries(Object.entries(PW).map(([u, pw]) => [`${u}@localhost`, pw])),
      prosody: { modules: ['sasl2', 'sasl2_bind2', 'sasl2_fast'] },
    });
  });
  after(async () => {
    for (const s of open) s.close();
    await stack?.stop();
  });

  it('issue 24 #2: an OAUTHBEARER login in SASL2 records its user-agent on the grant; XEP-0494 lists the client with its user-agent id, software and device, and /account names them', async () => {
    const tokens = await tokensFor(stack.server.url, 'alice', PW.alice, 'openid xmpp offline_access');
    const phone: UserAgent = { id: randomUUID(), software: 'Conversations 2.17', device: 'Pixel 8' };
    await login('alice', 'OAUTHBEARER', oauthbearerMessage(tokens.access_token), phone, 'phone');
    const [grant] = await stack.server.app.store.listGrants('alice@localhost');
    assert.ok(grant);
    assert.deepEqual(await grantAgent('alice@localhost', grant.id), phone);

    // A password session (PLAIN in SASL2) lists the account's clients.
    const laptop: UserAgent = { id: randomUUID(), software: 'Dino 0.4', device: 'laptop' };
    const viewer = await login('alice', 'PLAIN', `\0alice\0${PW.alice}`, laptop, 'laptop');
    const clients = await camList(viewer, 'l1');
    const token = clients.find((c) => c.includes(`id="${grant.id}"`) || c.includes(`id='${grant.id}'`));
    assert.ok(token, clients.join('\n'));
    assert.match(token, new RegExp(`<user-agent id=['"]${phone.id}['"]>`));
    assert.match(token, /<software>Conversations 2\.17<\/software>/);
    assert.match(token, /<device>Pixel 8<\/device>/);
    // The password session itself, with its own user-agent.
    const own = clients.find((c) => c.includes('<password'));
    assert.ok(own, clients.join('\n'));
    assert.match(own, new RegExp(`<user-agent id=['"]${laptop.id}['"]>`));
    assert.match(own, /<software>Dino 0\.4<\/software>/);
    assert.match(own, /<device>laptop<\/device>/);

    assert.match(await accountPage('alice'), /Software: Conversations 2\.17 · Pixel 8/);
  });

  it('issue 24 #2: an app password (PLAIN in SASL2) records its user-agent; XEP-0494 and /account show it; a value too long is left out, the login still succeeds', async () => {
    const { password, grant } = await createAppPassword(stack.server.app.core, 'bob@localhost', { label: 'Monal' });
    const monal: UserAgent = { id: randomUUID(), software: 'Monal 6.4', device: 'iPhone' };
    const s = await login('bob', 'PLAIN', `\0bob\0${password}`, monal, 'monal');
    assert.deepEqual(await grantAgent('bob@localhost', grant.id), monal);
    const entry = (await camList(s, 'l2')).find((c) => c.includes(grant.id));
    assert.ok(entry);
    assert.match(entry, new RegExp(`<user-agent id=['"]${monal.id}['"]><software>Monal 6\\.4</software>`));
    assert.match(await accountPage('bob'), /Software: Monal 6\.4 · iPhone/);

    // A device name past the limit is dropped (logged at info), the rest recorded, the login unharmed.
    const odd: UserAgent = { id: randomUUID(), software: 'Monal 6.5', device: 'x'.repeat(300) };
    await login('bob', 'PLAIN', `\0bob\0${password}`, odd, 'monal2');
    let recorded: UserAgent | undefined;
    for (let i = 0; i < 50 && recorded?.software !== 'Monal 6.5'; i++) {
      recorded = (await stack.server.app.store.getGrant(grant.id))?.userAgent as UserAgent | undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(recorded, { id: odd.id, software: 'Monal 6.5' });
  });
});
