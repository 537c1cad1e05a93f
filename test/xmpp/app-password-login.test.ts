// App passwords at real XMPP servers (issue 18): made on the account page,
// then used as the password of a PLAIN login at Prosody 0.12 (through our
// module and the component) and at ejabberd 23.01 (through the extauth
// bridge, a separate process sharing the Redis store); revoked on the page,
// after which the next login is refused.
// (That revocation also ends the live session comes with the `cam` branch.)
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAppPassword, revokeAppPassword } from '../helpers/app-passwords.js';
import { FormBrowser } from '../helpers/browser.js';
import { BIN } from '../helpers/cli.js';
import { startEjabberd, type EjabberdInstance } from '../helpers/ejabberd.js';
import { freePort } from '../helpers/ports.js';
import { attachTo, ourModuleHost, pluginDirWithModule } from '../helpers/prosody-module.js';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { plainLogin } from '../helpers/xmpp-client.js';

const COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };
const PASSWORD = 'alice password 1234';

async function signedIn(base: string, username: string): Promise<FormBrowser> {
  const browser = new FormBrowser();
  const page = await (await browser.get(`${base}/account`)).text();
  assert.equal((await browser.submit(base, page, { username, password: PASSWORD })).status, 303);
  return browser;
}

describe('issue 18: app passwords at Prosody 0.12 (PLAIN through mod_auth_xmpp_oauth)', () => {
  let prosody: ProsodyInstance;
  let server: TestServer;
  let pluginDir: string;
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  before(async () => {
    pluginDir = pluginDirWithModule();
    prosody = await startProsody({
      components: [COMPONENT],
      pluginDir,
      virtualHosts: [ourModuleHost(COMPONENT, { xmpp_oauth_timeout: 5 })],
    });
    server = await startServer({
      xmpp: attachTo(prosody, COMPONENT),
    });
    await server.app.link!.waitOnline(15_000);
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await server?.stop();
    await prosody?.stop();
    rmSync(pluginDir, { recursive: true, force: true });
  });

  it('issue 18 app passwords: created on the page, logs in to Prosody; revoked on the page, the next login is refused', async () => {
    const browser = await signedIn(server.url, 'alice');
    const { password } = await createAppPassword(browser, server.url, 'Dino on laptop');
    assert.equal(await plainLogin(target(), 'alice', password), true, prosody.log().slice(-3000));
    assert.equal(await plainLogin(target(), 'alice', password.replace(/ /g, '')), true, 'typed without the spaces');
    assert.equal(await plainLogin(target(), 'alice', 'abcd efgh ijkl mnop qrst'), false, 'a made-up one');
    await revokeAppPassword(browser, server.url, 'Dino on laptop');
    assert.equal(await plainLogin(target(), 'alice', password), false);
    assert.equal(await plainLogin(target(), 'alice', PASSWORD), true, 'the account password is untouched');
  });
});

describe('issue 18: app passwords at ejabberd 23.01 (PLAIN through the extauth bridge)', () => {
  let redis: RedisInstance;
  let ejabberd: EjabberdInstance;
  let server: TestServer;
  let dir: string;
  const target = () => ({ port: ejabberd.c2sPort, domain: 'localhost' });

  before(async () => {
    redis = await startRedis();
    const httpPort = await freePort();
    const issuer = `http://127.0.0.1:${httpPort}`;
    dir = mkdtempSync(join(tmpdir(), 'ejabberd-apppw-'));
    chmodSync(dir, 0o755);
    const config = join(dir, 'xmpp-oauth.yml');
    writeFileSync(config, `issuer: ${issuer}\nredis:\n  url: ${redis.url}\nxmpp:\n  hosts: [localhost]\nlog:\n  level: info\n`);
    chmodSync(config, 0o644);
    ejabberd = await startEjabberd({ components: [COMPONENT], extauthProgram: `${BIN} --config ${config} extauth --protocol ejabberd` });
    server = await startServer(
      {
        http: { host: '127.0.0.1', port: httpPort },
        issuer,
        xmpp: { enabled: true, service: `xmpp://127.0.0.1:${ejabberd.componentPorts[0]}`, domain: COMPONENT.domain, secret: COMPONENT.secret, hosts: ['localhost'] },
      },
      { redis: redis.url },
    );
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await server?.stop();
    await ejabberd?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('issue 18 app passwords: created on the page, logs in to ejabberd; revoked on the page, the next login is refused', async () => {
    const browser = await signedIn(server.url, 'alice');
    const { password } = await createAppPassword(browser, server.url, 'Conversations on phone');
    assert.equal(await plainLogin(target(), 'alice', password), true, ejabberd.log().slice(-3000));
    await revokeAppPassword(browser, server.url, 'Conversations on phone');
    assert.equal(await plainLogin(target(), 'alice', password), false);
    assert.equal(await plainLogin(target(), 'alice', PASSWORD), true, 'the account password is untouched');
  });
});
