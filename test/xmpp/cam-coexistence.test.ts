// Issue 24 #4: a second XEP-0494 module on a Prosody 13 host that logs in through
// our module. Ours answers urn:xmpp:cam:0 (the grants live in xmpp-oauth); the
// other steps aside. Prosody 13.0.1 does not ship mod_client_management and
// Debian's prosody-modules leaves it out, so a stand-in with the same shape
// (test/fixtures/prosody/mod_cam_standin.lua: mod_tokenauth + mod_sasl2_fast,
// login observers, list / revoke at the default priority) is always loaded, and
// the real module too wherever it is installed beside Prosody 13.
// The assertions are live-revocation.test.ts's "issue 14 #acceptance-1" and
// "#acceptance-5": the list and revoke behave exactly as with ours alone.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  assertCamRefusals, assertGrantListed, assertRevokedByOwner, camList, grantFor, REGISTRATION_KEY, TOKEN_LOGINS,
} from '../helpers/cam.js';
import { PROSODY13_ROOT } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { chatSession, xml, type ChatSession } from '../helpers/xmpp-client.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/prosody', import.meta.url));
const PW = { alice: 'alice password 1234' };
const MODULES13 = join(PROSODY13_ROOT, 'usr/lib/prosody/modules');
/** prosody-modules' mod_client_management, if an operator (or CI) installed it beside Prosody 13. */
const realClientManagement = [
  join(MODULES13, 'mod_client_management.lua'),
  join(MODULES13, 'mod_client_management', 'mod_client_management.lua'),
].some((p) => existsSync(p));

describe('issue 24 #4 on Prosody 13: XEP-0494 with a second client-management module loaded', { timeout: 180_000 }, () => {
  let stack: ProsodyStack;
  let owner: ChatSession;
  const open: ChatSession[] = [];
  const track = (s: ChatSession) => (open.push(s), s);

  before(async () => {
    stack = await startProsodyStack({
      version: '13',
      pluginFiles: [join(FIXTURES, 'mod_cam_standin.lua')],
      prosody: {
        modules: ['sasl2', 'sasl2_bind2', 'sasl2_fast', 'cam_standin', ...(realClientManagement ? ['client_management'] : [])],
      },
      server: { registration_key: REGISTRATION_KEY, address_throttle: { registrations: 1000 } },
      accounts: { 'alice@localhost': PW.alice },
    });
    owner = track(await chatSession(stack.target, 'alice', PW.alice));
  });

  after(async () => {
    for (const s of open) await s.stop();
    if (process.env.DEBUG_PROSODY_LOG) (await import('node:fs')).writeFileSync(process.env.DEBUG_PROSODY_LOG, stack.prosody.log());
    await stack?.stop();
  });

  it('issue 24 #4: the other module is loaded on the host (with mod_tokenauth and mod_sasl2_fast), so the tests below have two candidates', () => {
    const log = stack.prosody.log();
    assert.match(log, /cam-standin loaded on localhost/);
    if (realClientManagement) assert.match(log, /client_management/);
  });

  for (const [method, login] of Object.entries(TOKEN_LOGINS)) {
    it(`issue 24 #4 (${method}): ours answers the XEP-0494 list field by field, revokes the grant, and the token session is closed within 5 s`, async () => {
      const { server } = stack;
      const g = await grantFor(server.url, server, 'alice@localhost', PW.alice);
      const session = track(await login(stack.target, 'alice', g.access_token));

      const clients = await camList(owner);
      assert.equal(clients.some((c) => c.attrs.id === 'cam-standin' || String(c.attrs.id).startsWith('client/') || String(c.attrs.id).startsWith('grant/')), false,
        `the other module answered: ${clients.map(String).join('\n')}`);
      await assertGrantListed(clients, g, server);
      await assertRevokedByOwner(owner, session, g, { server, target: stack.target, user: 'alice@localhost', password: PW.alice });
    });
  }

  it('issue 24 #4: unknown id gives item-not-found, a password session password-reset-required, malformed payloads bad-request, all from ours', async () => {
    await assertCamRefusals(owner);
  });

  it('issue 24 #4: the other module never answered a urn:xmpp:cam:0 IQ', () => {
    assert.doesNotMatch(stack.prosody.log(), /cam-standin answered/);
  });
});
