// Logging in to a real Prosody 0.12 with a password or an access token issued
// here: Prosody asks our component through contrib/prosody/mod_auth_xmpp_oauth/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ProsodyInstance } from '../helpers/prosody.js';
import type { TestServer } from '../helpers/server.js';
import { revoke, tokensFor } from '../helpers/tokens.js';
import { chatSession, plainLogin, xml } from '../helpers/xmpp-client.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';

const PASSWORD = 'alice password 1234';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const version of PROSODY_VERSIONS) {
  describe(`Prosody ${version} with mod_auth_xmpp_oauth`, () => {
    let prosody: ProsodyInstance;
    let server: TestServer;
    let stack: ProsodyStack | undefined;
    const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

    before(async () => {
      stack = await startProsodyStack({
        version,
        moduleOptions: { xmpp_oauth_timeout: 2 },
        prosody: { modules: ['offline'] },
        accounts: { 'alice@localhost': PASSWORD, 'bob@localhost': 'bob password 1234' },
      });
      ({ prosody, server } = stack);
    });

    after(async () => {
      await stack?.stop();
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

    it('issue 12 #18: prosodyctl adduser, passwd and deluser fail fast with the documented message', async () => {
      const config = join(prosody.dir, 'prosody.cfg.lua');
      for (const [command, input] of [
        ['adduser', 'carol password 1\ncarol password 1\n'],
        ['passwd', 'alice new password\nalice new password\n'],
        ['deluser', ''],
      ] as const) {
        const jid = command === 'adduser' ? 'carol@localhost' : 'alice@localhost';
        const started = Date.now();
        // As documented: always with --config, as the prosody user.
        const run = spawnSync('runuser', ['-u', 'prosody', '--', 'prosodyctl', '--config', config, command, jid], { input, timeout: 30_000 });
        assert.equal(run.status, 1, command);
        assert.ok(Date.now() - started < 10_000, `${command} answered at once, not after a timeout`);
        assert.match(run.stderr.toString(), /xmpp-oauth can only be asked from inside the running server\. Manage accounts of localhost with `xmpp-oauth user add\|passwd\|remove` instead\./, command);
        assert.doesNotMatch(run.stdout.toString() + run.stderr.toString(), /did not answer/);
      }
      assert.equal(await server.app.store.accountExists('carol@localhost'), false);
      assert.equal(await plainLogin(target(), 'alice', PASSWORD), true, 'alice keeps her password');
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

    // This and the next leave the component stopped: keep them last.
    it('keeps a message for a known offline account while the component is away, and still bounces one for an unknown name', async () => {
      assert.equal(await plainLogin(target(), 'alice', PASSWORD), true, 'the module has seen alice log in');
      const bob = await chatSession(target(), 'bob', 'bob password 1234');
      try {
        await server.app.link!.stop();
        await bob.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'to-alice' }, xml('body', {}, 'kept for later')));
        await bob.send(xml('message', { to: 'nobody@localhost', type: 'chat', id: 'to-nobody' }, xml('body', {}, 'no such account')));
        // One session's stanzas are handled in order: once the second bounces, the first is settled.
        await bob.waitFor((s) => s.is('message') && s.attrs.id === 'to-nobody' && s.attrs.type === 'error', 15_000);
        assert.equal(bob.received.some((s) => s.attrs.id === 'to-alice' && s.attrs.type === 'error'), false, 'not bounced');
        const offline = offlineStoreOf(prosody.dir);
        assert.match(offline, /kept for later/, 'in Prosody\u2019s offline store');
        assert.doesNotMatch(offline, /no such account/);
        assert.match(prosody.log(), /xmpp-oauth is away; alice@localhost existed when last asked/);
      } finally {
        await bob.stop();
      }
    });

    it('fails logins quickly with a clear log line while the component is away', async () => {
      await server.app.link!.stop();
      const started = Date.now();
      assert.equal(await plainLogin(target(), 'alice', PASSWORD), false);
      assert.ok(Date.now() - started < 10_000, 'bounded by xmpp_oauth_timeout, not hanging');
      assert.match(prosody.log(), /xmpp-oauth component oauth\.localhost did not answer/);
    });
  });
}

/** Everything Prosody's internal storage holds under an `offline` folder. */
function offlineStoreOf(dir: string): string {
  const found: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (full.includes('/offline/')) found.push(readFileSync(full, 'utf8'));
    }
  };
  walk(dir);
  return found.join('\n');
}
