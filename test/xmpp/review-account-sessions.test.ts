// Review (issue 22) #7 and the "Info" point of #11, on real Prosody 0.12 and 13
// with the real component and a real Redis: disabling or removing an account
// ends every live session of it, whatever it logged in with, and an upstream
// back-channel logout ends the sessions opened with an app password.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { SignJWT, importJWK } from 'jose';
import { silentLogger } from '../../src/log.js';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { closedWithin, resource } from '../helpers/cam.js';
import { waitFor } from '../helpers/wait.js';
import { runCli } from '../helpers/cli.js';
import { startTestIdp, type TestIdp } from '../helpers/oidc-idp.js';
import { freePort } from '../helpers/ports.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { chatSession, plainLogin, xml, type ChatSession } from '../helpers/xmpp-client.js';

const PW = {
  carol: 'carol password 1234', dave: 'dave password 1234', erin: 'erin password 1234', frank: 'frank password 1234',
  gina: 'gina password 1234', hank: 'hank password 1234',
};
const ping = (s: ChatSession) => s.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
const CLOSED = { condition: 'policy-violation', text: 'access revoked' };

for (const version of PROSODY_VERSIONS) {
  describe(`review #7 / #11 on Prosody ${version}: account-level logout of live sessions`, { timeout: 180_000 }, () => {
    let stack: ProsodyStack;
    let idp: TestIdp;
    const open: ChatSession[] = [];
    const track = (s: ChatSession) => (open.push(s), s);
    const login = async (user: keyof typeof PW | string, pw: string) => track(await chatSession(stack.target, user, pw, resource()));
    const cli = (...args: string[]) => runCli(args, { env: { XMPP_OAUTH_REDIS__URL: stack.server.redisUrl! } });

    before(async () => {
      const port = await freePort();
      idp = await startTestIdp({ redirectUris: [`http://127.0.0.1:${port}/upstream/space/callback`], accounts: { frank: {} } });
      stack = await startProsodyStack({
        version,
        accounts: Object.fromEntries(Object.entries(PW).map(([u, pw]) => [`${u}@localhost`, pw])),
        server: {
          http: { host: '127.0.0.1', port },
          upstream: { providers: [{ id: 'space', name: 'Space SSO', issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret }] },
        },
      });
    });
    after(async () => {
      if (process.env.DEBUG_PROSODY_LOG) (await import('node:fs')).writeFileSync(`${process.env.DEBUG_PROSODY_LOG}.${version}`, stack.prosody.log());
      for (const s of open) await s.stop();
      await stack?.stop();
      await idp?.stop();
    });

    it(`review #7 (Prosody ${version}): \`user disable\` closes the account's password sessions within 5 s; another account's stays`, async () => {
      const carol = await login('carol', PW.carol);
      const dave = await login('dave', PW.dave);
      const res = await cli('user', 'disable', 'carol@localhost');
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(await closedWithin(carol, 5000), CLOSED);
      assert.equal(await plainLogin(stack.target, 'carol', PW.carol), false, 'a disabled account cannot log in again');
      // dave's session is untouched: it still answers.
      assert.equal((await dave.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }))).name, 'iq');
    });

    it(`review #7 (Prosody ${version}): \`user remove\` closes the session, and the JID created again for someone else never reaches the old holder`, async () => {
      const oldHolder = await login('erin', PW.erin);
      const other = await login('dave', PW.dave);
      // Available, so a message to the bare JID would reach it.
      await oldHolder.send(xml('presence'));
      const res = await cli('user', 'remove', 'erin@localhost');
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(await closedWithin(oldHolder, 5000), CLOSED);

      await stack.server.app.accounts.create('erin@localhost', 'new owner password 1234');
      const newOwner = await login('erin', 'new owner password 1234');
      await newOwner.send(xml('presence'));
      await newOwner.waitFor((s) => s.is('presence') && String(s.attrs.from).startsWith('erin@localhost/'));
      await other.send(xml('message', { to: 'erin@localhost', type: 'chat', id: 'for-new-owner' }, xml('body', {}, 'hello new erin')));
      await newOwner.waitFor((s) => s.is('message') && s.attrs.id === 'for-new-owner');
      assert.equal(oldHolder.received.some((s) => s.is('message') && s.attrs.id === 'for-new-owner'), false, "the old holder got the new owner's message");
      assert.equal(await plainLogin(stack.target, 'erin', PW.erin), false, "the old holder's password is gone");
    });

    it(`review #7 (Prosody ${version}): \`user remove\` also purges what Prosody kept of the account: the JID created again starts with an empty roster`, async () => {
      const ROSTER = 'jabber:iq:roster';
      const items = async (s: ChatSession) => (await s.iq('', 'get', xml('query', { xmlns: ROSTER }))).getChildren('item').map((i) => String(i.attrs.jid));
      await stack.server.app.accounts.create('ivan@localhost', 'ivan password 1234');
      const old = await login('ivan', 'ivan password 1234');
      await old.iq('', 'set', xml('query', { xmlns: ROSTER }, xml('item', { jid: 'secret-friend@example.net', name: 'Old friend' })));
      assert.deepEqual(await items(old), ['secret-friend@example.net'], 'the roster item is stored');
      const logged = stack.prosody.log().length;
      const res = await cli('user', 'remove', 'ivan@localhost');
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(await closedWithin(old, 5000), CLOSED);
      await waitFor('the purge line', () => stack.prosody.log().slice(logged).includes('its data on this host is purged'), { timeoutMs: 5000 });

      await stack.server.app.accounts.create('ivan@localhost', 'new owner password 1234');
      const newOwner = await login('ivan', 'new owner password 1234');
      assert.deepEqual(await items(newOwner), [], "the new holder inherits none of the old holder's roster");
    });

    it(`review #11 info (Prosody ${version}): an upstream back-channel logout ends the sessions opened with an app password; password sessions stay`, async () => {
      const { app } = stack.server;
      assert.ok(await app.store.linkUpstream('frank@localhost', { provider: 'space', iss: idp.issuer, sub: 'frank', lastLoginAt: Date.now() }));
      const { password } = await createAppPassword({ store: app.store, log: silentLogger }, 'frank@localhost', { label: 'Phone' });
      const viaApp = await login('frank', password);
      const viaPassword = await login('frank', PW.frank);

      const key = await importJWK(idp.signingJwk, 'ES256');
      const token = await new SignJWT({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, sub: 'frank', jti: `j-${Date.now()}` })
        .setProtectedHeader({ alg: 'ES256', kid: idp.signingJwk.kid, typ: 'logout+jwt' })
        .setIssuer(idp.issuer).setAudience(idp.clientId).setIssuedAt().sign(key);
      const res = await fetch(`${stack.server.url}/upstream/space/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
      });
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(await closedWithin(viaApp, 5000), CLOSED);
      assert.equal(await plainLogin(stack.target, 'frank', password), false, 'the app password is paused');
      assert.equal((await viaPassword.iq('localhost', 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }))).name, 'iq', 'the password session is still open');
    });

    it(`review #7 (Prosody ${version}): account news lost on the way is caught by the next re-check: a disabled account, and a JID created again (only the old holder's session ends)`, async () => {
      const { app } = stack.server;
      const redis = new Redis(stack.server.redisUrl!);
      const keys = new RedisKeys();
      try {
        const gina = await login('gina', PW.gina);
        const oldHank = await login('hank', PW.hank);
        // Written behind the announcements' back, as if the news had been lost in a Redis blip.
        await redis.hset(keys.account('gina@localhost'), 'disabled', '1');
        await redis.del(keys.account('hank@localhost'));
        await new Promise((r) => setTimeout(r, 2100)); // the new account is younger than the old session by whole seconds
        await app.accounts.create('hank@localhost', 'new hank password 1234');
        const newHank = await login('hank', 'new hank password 1234');
        await ping(gina); // still open: nothing told Prosody

        await app.revocationPush!.recheck();
        assert.deepEqual(await closedWithin(gina, 5000), CLOSED);
        assert.deepEqual(await closedWithin(oldHank, 5000), CLOSED);
        assert.equal((await ping(newHank)).name, 'iq', "the new owner's session stays");
      } finally {
        redis.disconnect();
      }
    });
  });
}
