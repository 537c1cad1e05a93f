// Several instances and one component name (issue 8): ejabberd takes several
// connections for one component and spreads stanzas over them; Prosody takes
// one, and a standby instance takes the slot over when the holder stops.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { xml as componentXml } from '../../src/xmpp/xml.js';
import { BIN } from '../helpers/cli.js';
import { startEjabberd, type EjabberdInstance } from '../helpers/ejabberd.js';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { chatSession, plainLogin, xml, type ChatSession } from '../helpers/xmpp-client.js';
import { ourModuleHost, pluginDirWithModule } from '../helpers/prosody-module.js';

const COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };
const PASSWORD = 'alice password 1234';
const NS_PROBE = 'urn:xmpp-oauth:test:instance';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two real instances on one Redis, each answering a probe query with its own name. */
async function twoInstances(redisUrl: string, service: string): Promise<[TestServer, TestServer]> {
  const make = async (name: string) => {
    const s = await startServer(
      { xmpp: { enabled: true, service, domain: COMPONENT.domain, secret: COMPONENT.secret, hosts: ['localhost'] } },
      { redis: redisUrl },
    );
    s.app.link!.handleIq('get', NS_PROBE, 'query', () => componentXml('query', { xmlns: NS_PROBE, name }));
    return s;
  };
  return [await make('A'), await make('B')];
}

async function whoAnswers(session: ChatSession, times: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < times; i++) {
    const reply = await session.iq(COMPONENT.domain, 'get', xml('query', { xmlns: NS_PROBE }));
    names.push(reply.attrs.name as string);
  }
  return names;
}

describe('ejabberd: two instances attached to one component name', { timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let ejabberd: EjabberdInstance;
  let a: TestServer;
  let b: TestServer;
  let dir: string;
  let alice: ChatSession;

  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'ejabberd-slots-'));
    chmodSync(dir, 0o755);
    const config = join(dir, 'xmpp-oauth.yml');
    writeFileSync(config, `redis:\n  url: ${redis.url}\nxmpp:\n  hosts: [localhost]\nlog:\n  level: info\n`);
    chmodSync(config, 0o644);
    ejabberd = await startEjabberd({ components: [COMPONENT], extauthProgram: `${BIN} --config ${config} extauth --protocol ejabberd` });
    [a, b] = await twoInstances(redis.url, `xmpp://127.0.0.1:${ejabberd.componentPorts[0]}`);
    await Promise.all([a.app.link!.waitOnline(20_000), b.app.link!.waitOnline(20_000)]);
    await a.app.accounts.create('alice@localhost', PASSWORD);
    alice = await chatSession({ port: ejabberd.c2sPort, domain: 'localhost' }, 'alice', PASSWORD);
  });

  after(async () => {
    await alice?.stop();
    await a?.stop();
    await b?.stop();
    await ejabberd?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('both stay online and both answer stanzas for the component', async () => {
    assert.equal(a.app.link!.online && b.app.link!.online, true);
    const names = await whoAnswers(alice, 40);
    assert.ok(names.includes('A') && names.includes('B'), `answers came from: ${[...new Set(names)].join(', ')}`);
  });

  it('when one stops, the other answers everything', async () => {
    await a.stop();
    await sleep(500);
    const names = await whoAnswers(alice, 10);
    assert.deepEqual([...new Set(names)], ['B']);
  });
});

describe('Prosody: one slot, a standby instance takes over', { timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let prosody: ProsodyInstance;
  let a: TestServer;
  let b: TestServer;
  let pluginDir: string;
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  before(async () => {
    redis = await startRedis();
    pluginDir = pluginDirWithModule();
    prosody = await startProsody({
      components: [COMPONENT],
      pluginDir,
      virtualHosts: [ourModuleHost(COMPONENT, { xmpp_oauth_timeout: 2 })],
    });
    [a, b] = await twoInstances(redis.url, `xmpp://127.0.0.1:${prosody.componentPort}`);
    await a.app.link!.waitOnline(20_000).catch(() => b.app.link!.waitOnline(20_000));
    await a.app.accounts.create('alice@localhost', PASSWORD);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await prosody?.stop();
    await redis?.stop();
    rmSync(pluginDir, { recursive: true, force: true });
  });

  it('one instance holds the slot, the other stands by without an error', async () => {
    // Whichever connected first holds it; make A the holder for the rest of the test.
    if (!a.app.link!.online) [a, b] = [b, a];
    await sleep(1500);
    assert.equal(a.app.link!.online, true);
    assert.equal(b.app.link!.online, false);
    assert.equal(b.app.link!.status.lastFailure?.reason, 'conflict');
    assert.equal(await plainLogin(target(), 'alice', PASSWORD), true);
  });

  it('when the holder stops, the standby takes the slot within seconds and logins keep working', async () => {
    const stoppedAt = Date.now();
    await a.stop();
    await b.app.link!.waitOnline(15_000);
    const tookOver = Date.now() - stoppedAt;
    assert.ok(tookOver < 15_000, `took over after ${tookOver} ms`);
    assert.equal(await plainLogin(target(), 'alice', PASSWORD), true);
    assert.equal(await plainLogin(target(), 'alice', 'wrong password'), false);
  });
});
