// Issue 14 with several instances on one Redis and Prosody's single component
// slot: whichever instance handles a revocation, the one whose link is up
// tells Prosody; and a revocation made while no instance was attached still
// ends the session once one attaches.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { assertRevokedClose, CAM, closedWithin, COMPONENT, grantFor, REGISTRATION_KEY, resource, stanzaError } from '../helpers/cam.js';
import { ourModuleHost, pluginDirWithModule } from '../helpers/prosody-module.js';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { chatSession, plainLogin, xml, type ChatSession } from '../helpers/xmpp-client.js';

const PASSWORD = 'alice password 1234';
/** Every instance shares the public address, so tokens and registrations verify on all of them. */
const ISSUER = 'http://auth.cam.test';

async function rfc7009(base: string, token: string, clientId: string): Promise<void> {
  const res = await fetch(new URL('/oauth2/revoke', base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'refresh_token', client_id: clientId }),
  });
  assert.equal(res.status, 200);
}

describe('issue 14: live revocation across instances (Prosody, one slot)', { timeout: 180_000 }, () => {
  let redis: RedisInstance;
  let prosody: ProsodyInstance;
  let pluginDir: string;
  const servers: TestServer[] = [];
  const sessions: ChatSession[] = [];
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  const instance = async (xmpp: boolean) => {
    const s = await startServer(
      {
        issuer: ISSUER,
        registration_key: REGISTRATION_KEY,
        cookie_secrets: ['cam-test-cookie-secret-0123456789abcdef'],
        xmpp: { enabled: xmpp, service: `xmpp://127.0.0.1:${prosody.componentPort}`, domain: COMPONENT.domain, secret: COMPONENT.secret, hosts: ['localhost'] },
      },
      { redis: redis.url },
    );
    servers.push(s);
    return s;
  };

  before(async () => {
    redis = await startRedis();
    pluginDir = pluginDirWithModule();
    prosody = await startProsody({
      components: [COMPONENT],
      pluginDir,
      virtualHosts: [ourModuleHost(COMPONENT, { xmpp_oauth_timeout: 2 })],
    });
  });

  after(async () => {
    for (const s of sessions) await s.stop();
    for (const s of servers) await s.stop();
    await prosody?.stop();
    await redis?.stop();
    rmSync(pluginDir, { recursive: true, force: true });
  });

  it("issue 14 #acceptance-3: a revocation on the standby's HTTP side ends the session", async () => {
    let active = await instance(true);
    let standby = await instance(true);
    await Promise.race([active.app.link!.waitOnline(20_000), standby.app.link!.waitOnline(20_000)]);
    await sleep(1500);
    if (!active.app.link!.online) [active, standby] = [standby, active];
    assert.equal(active.app.link!.online, true);
    assert.equal(standby.app.link!.online, false, 'Prosody takes one connection: the other stands by');
    await active.app.accounts.create('alice@localhost', PASSWORD);

    const g = await grantFor(standby.url, standby, 'alice@localhost', PASSWORD);
    const session = await chatSession(target(), 'alice', g.access_token, resource());
    sessions.push(session);
    await rfc7009(standby.url, g.refresh_token, g.clientId);
    assertRevokedClose(await closedWithin(session, 5000));
    assert.equal(await plainLogin(target(), 'alice', g.access_token), false);
  });

  it('issue 14: a revocation while no instance is attached ends the session when one attaches', async () => {
    // Whoever is attached now logs the session in; then every XMPP-enabled instance goes away.
    if (servers.length === 0) {
      const first = await instance(true);
      await first.app.link!.waitOnline(20_000);
      await first.app.accounts.create('alice@localhost', PASSWORD);
    }
    const g = await grantFor(servers[0]!.url, servers[0]!, 'alice@localhost', PASSWORD);
    const session = await chatSession(target(), 'alice', g.access_token, resource());
    const owner = await chatSession(target(), 'alice', PASSWORD, resource());
    sessions.push(session, owner);
    for (const s of servers.splice(0)) await s.stop();
    // Meanwhile XEP-0494 says "try later" rather than an empty list.
    assert.equal((await stanzaError(owner.iq('', 'get', xml('list', { xmlns: CAM })))).condition, 'internal-server-error');

    // An HTTP-only instance revokes: its news reaches nobody who could tell Prosody.
    const web = await instance(false);
    await rfc7009(web.url, g.refresh_token, g.clientId);
    await sleep(1000);
    const state = await Promise.race([session.ended.then(() => 'closed'), sleep(0).then(() => 'open')]);
    assert.equal(state, 'open', 'nobody has told Prosody yet');

    // An instance attaches, re-checks the grants of Prosody's live sessions, and the revoked one closes.
    const comeback = await instance(true);
    await comeback.app.link!.waitOnline(20_000);
    assertRevokedClose(await closedWithin(session, 10_000));
  });
});
