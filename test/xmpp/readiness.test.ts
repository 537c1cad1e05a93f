// /readyz counts the component link (issue 12 #16), against a real Prosody 0.12.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { ourModuleHost, pluginDirWithModule } from '../helpers/prosody-module.js';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { plainLogin } from '../helpers/xmpp-client.js';

const COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };
const PASSWORD = 'alice password 1234';

interface Readiness {
  status: string;
  store: { ok: boolean };
  xmpp: { enabled: boolean; online?: boolean; standby?: boolean; required?: boolean };
}

async function readyz(server: TestServer): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('issue 12 #16: readiness and the component link', () => {
  let prosody: ProsodyInstance;
  let redis: RedisInstance;
  let pluginDir: string;
  const servers: TestServer[] = [];
  const xmpp = (service: string) => ({ enabled: true, service, domain: COMPONENT.domain, secret: COMPONENT.secret, hosts: ['localhost'] });
  const serve = async (overrides: Record<string, unknown>) => {
    const s = await startServer(overrides, { redis: redis.url });
    servers.push(s);
    return s;
  };

  before(async () => {
    pluginDir = pluginDirWithModule();
    redis = await startRedis();
    prosody = await startProsody({
      components: [COMPONENT],
      pluginDir,
      virtualHosts: [ourModuleHost(COMPONENT, { xmpp_oauth_timeout: 2 })],
    });
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await prosody?.stop();
    await redis?.stop();
    rmSync(pluginDir, { recursive: true, force: true });
  });

  it('issue 12 #16: /readyz is 503 while the link is down, 200 once up or standing by, and readyz.require_xmpp: false ignores the link', async () => {
    const nowhere = `xmpp://127.0.0.1:${await freePort()}`;
    const down = await serve({ xmpp: xmpp(nowhere) });
    const r1 = await readyz(down);
    assert.equal(r1.status, 503, 'the link cannot come up: not ready');
    assert.deepEqual([r1.body.status, r1.body.store.ok, r1.body.xmpp.online, r1.body.xmpp.required], ['unavailable', true, false, true]);

    const httpOnly = await serve({ xmpp: xmpp(nowhere), readyz: { require_xmpp: false } });
    const r2 = await readyz(httpOnly);
    assert.equal(r2.status, 200, 'require_xmpp: false');
    assert.deepEqual([r2.body.xmpp.online, r2.body.xmpp.required], [false, false]);

    const attached = await serve({ xmpp: xmpp(`xmpp://127.0.0.1:${prosody.componentPort}`) });
    await attached.app.link!.waitOnline(15_000);
    const r3 = await readyz(attached);
    assert.equal(r3.status, 200);
    assert.equal(r3.body.xmpp.online, true);

    // A second instance: Prosody takes one connection per component, so this one stands by, and stays in rotation.
    const standby = await serve({ xmpp: xmpp(`xmpp://127.0.0.1:${prosody.componentPort}`) });
    await until('the second instance stands by', () => standby.app.link!.status.standby);
    const r4 = await readyz(standby);
    assert.equal(r4.status, 200, JSON.stringify(r4.body));
    assert.deepEqual([r4.body.xmpp.online, r4.body.xmpp.standby], [false, true]);

    // The link of the attached instance goes down: not ready any more.
    await attached.app.link!.stop();
    const r5 = await readyz(attached);
    assert.equal(r5.status, 503);
    await standby.app.link!.waitOnline(20_000);
    assert.equal((await readyz(standby)).status, 200, 'the standby took over');
  });

  it('issue 12 #16: Prosody logs a Redis outage as "refused the auth query" (grammar)', async () => {
    const server = servers.find((s) => s.app.link?.online) ?? (await serve({ xmpp: xmpp(`xmpp://127.0.0.1:${prosody.componentPort}`) }));
    await server.app.link!.waitOnline(20_000);
    await server.app.accounts.create('alice@localhost', PASSWORD);
    const target = { port: prosody.c2sPort, domain: 'localhost' };
    assert.equal(await plainLogin(target, 'alice', PASSWORD), true);
    await redis.kill();
    try {
      assert.equal(await plainLogin(target, 'alice', PASSWORD), false);
      assert.equal((await readyz(server)).status, 503, 'Redis down: not ready');
      const log = prosody.log();
      assert.match(log, /xmpp-oauth refused the auth query: storage temporarily unavailable; retry/);
      assert.doesNotMatch(log, /refused a auth/);
    } finally {
      await redis.restart();
    }
  });
});
