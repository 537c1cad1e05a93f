// Logging in to a real Prosody 0.12 with a password or an access token issued
// here: Prosody asks our component through contrib/prosody/mod_auth_xmpp_oauth.lua.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { revoke, tokensFor } from '../helpers/tokens.js';
import { plainLogin } from '../helpers/xmpp-client.js';

const MODULE = fileURLToPath(new URL('../../contrib/prosody/mod_auth_xmpp_oauth.lua', import.meta.url));
const COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };
const PASSWORD = 'alice password 1234';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Prosody 0.12 with mod_auth_xmpp_oauth', () => {
  let prosody: ProsodyInstance;
  let server: TestServer;
  let pluginDir: string;
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  before(async () => {
    pluginDir = mkdtempSync(join(tmpdir(), 'xmpp-oauth-plugins-'));
    chmodSync(pluginDir, 0o755);
    copyFileSync(MODULE, join(pluginDir, 'mod_auth_xmpp_oauth.lua'));
    chmodSync(join(pluginDir, 'mod_auth_xmpp_oauth.lua'), 0o644);
    prosody = await startProsody({
      components: [COMPONENT],
      pluginDir,
      virtualHosts: [
        { host: 'localhost', options: { authentication: 'xmpp_oauth', xmpp_oauth_component: COMPONENT.domain, xmpp_oauth_timeout: 2 } },
      ],
    });
    server = await startServer({
      xmpp: {
        enabled: true,
        service: `xmpp://127.0.0.1:${prosody.componentPort}`,
        domain: COMPONENT.domain,
        secret: COMPONENT.secret,
        hosts: ['localhost'],
      },
    });
    await server.app.link!.waitOnline(15_000);
    await server.app.accounts.create('alice@localhost', PASSWORD);
    await server.app.accounts.create('bob@localhost', 'bob password 1234');
  });

  after(async () => {
    await server?.stop();
    await prosody?.stop();
    rmSync(pluginDir, { recursive: true, force: true });
  });

  it('accepts the right password and refuses a wrong one', async () => {
    assert.equal(await plainLogin(target(), 'alice', PASSWORD), true);
    assert.equal(await plainLogin(target(), 'alice', 'not the password'), false);
    assert.equal(await plainLogin(target(), 'nobody', PASSWORD), false);
  });

  it('accepts an access token from our token endpoint as the password, only for its own account', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
    assert.ok(Buffer.byteLength(access_token) < 900, 'fits a PLAIN password');
    assert.equal(await plainLogin(target(), 'alice', access_token), true);
    assert.equal(await plainLogin(target(), 'bob', access_token), false);
  });

  it('refuses a token without the xmpp scope', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid offline_access');
    assert.equal(await plainLogin(target(), 'alice', access_token), false);
  });

  it('refuses the same token at the next login once its grant is revoked', async () => {
    const { access_token, refresh_token } = await tokensFor(server.url, 'bob@localhost', 'bob password 1234');
    assert.equal(await plainLogin(target(), 'bob', access_token), true);
    await revoke(server.url, refresh_token);
    assert.equal(await plainLogin(target(), 'bob', access_token), false);
  });

  it('refuses an expired token', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
    const live = await server.app.core.signer.verifyAccessToken(access_token);
    assert.ok(live);
    // Same grant, same key, but minted two hours ago: only the expiry differs.
    const { token: expired } = await server.app.core.signer.accessToken(
      { jid: live.jid, clientId: live.client_id, scope: live.scope.split(' '), grantId: live.gid },
      Math.floor(Date.now() / 1000) - 7200,
    );
    assert.equal(await plainLogin(target(), 'alice', expired), false);
    assert.equal(await plainLogin(target(), 'alice', access_token), true, 'the fresh one still works');
  });

  it('answers again after Prosody restarts, without a restart of its own', async () => {
    await prosody.restart({ downtimeMs: 500 });
    const deadline = Date.now() + 30_000;
    while (!server.app.link!.online) {
      assert.ok(Date.now() < deadline, 'component did not come back');
      await sleep(100);
    }
    assert.equal(await plainLogin(target(), 'alice', PASSWORD), true);
  });

  // Last: it leaves the component stopped.
  it('fails logins quickly with a clear log line while the component is away', async () => {
    await server.app.link!.stop();
    const started = Date.now();
    assert.equal(await plainLogin(target(), 'alice', PASSWORD), false);
    assert.ok(Date.now() - started < 10_000, 'bounded by xmpp_oauth_timeout, not hanging');
    assert.match(prosody.log(), /xmpp-oauth component oauth\.localhost did not answer/);
  });
});
