// Logging in to a real ejabberd (23.01 and 24.12) with a password or an access token issued
// here: SASL PLAIN through the extauth bridge (auth_method: external), and SASL
// X-OAUTH2 through ejabberd's REST token lookup, which we answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EJABBERD_VERSIONS, type EjabberdInstance } from '../helpers/ejabberd.js';
import { startEjabberdStack, type EjabberdStack } from '../helpers/ejabberd-stack.js';
import type { TestServer } from '../helpers/server.js';
import { revoke, tokensFor } from '../helpers/tokens.js';
import { sasl2Stream } from '../helpers/sasl2-client.js';
import { plainLogin, rawSasl, xoauth2Login } from '../helpers/xmpp-client.js';

const LOOKUP_SECRET = 'lookup-secret-0123456789abcdef';
const PASSWORD = 'alice password 1234';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const version of EJABBERD_VERSIONS) {
  describe(`ejabberd ${version}: extauth bridge and X-OAUTH2`, () => {
    let ejabberd: EjabberdInstance;
    let server: TestServer;
    let stack: EjabberdStack | undefined;
    const target = () => ({ port: ejabberd.c2sPort, domain: 'localhost' });

    /** A token minted two hours ago for the same live grant: only its expiry is wrong. */
    async function expiredTwin(token: string): Promise<string> {
      const live = await server.app.core.signer.verifyAccessToken(token);
      assert.ok(live);
      const { token: old } = await server.app.core.signer.accessToken(
        { jid: live.jid, clientId: live.client_id, scope: live.scope.split(' '), grantId: live.gid },
        Math.floor(Date.now() / 1000) - 7200,
      );
      return old;
    }

    before(async () => {
      stack = await startEjabberdStack({ version, lookupSecret: LOOKUP_SECRET, accounts: { 'alice@localhost': PASSWORD } });
      ({ ejabberd, server } = stack);
    });

    after(async () => {
      await stack?.stop();
    });

    it('attaches as a component', () => {
      assert.equal(server.app.link!.online, true);
    });

    it(`issue 24 #8 (ejabberd ${version}): offers PLAIN and X-OAUTH2, no OAUTHBEARER and no SCRAM; no SASL2 on an unencrypted stream`, async () => {
      const raw = await rawSasl(target());
      raw.close();
      assert.ok(raw.mechanisms.includes('PLAIN') && raw.mechanisms.includes('X-OAUTH2'), raw.mechanisms.join(' '));
      assert.ok(!raw.mechanisms.some((m) => m === 'OAUTHBEARER' || m.startsWith('SCRAM')), raw.mechanisms.join(' '));
      const s2 = await sasl2Stream(target(), 'alice');
      s2.close();
      assert.deepEqual(s2.mechanisms, [], '23.01 has no SASL2; 24.12 offers it over TLS only (ejabberd-sasl2.test.ts)');
    });

    it('PLAIN through the bridge: right password in, wrong password and unknown user out', async () => {
      assert.equal(await plainLogin(target(), 'alice', PASSWORD), true, ejabberd.log().slice(-3000));
      assert.equal(await plainLogin(target(), 'alice', 'wrong password'), false);
      assert.equal(await plainLogin(target(), 'nobody', PASSWORD), false);
    });

    it('PLAIN through the bridge: a token works until its grant is revoked; an expired one never', async () => {
      const { access_token, refresh_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
      assert.equal(await plainLogin(target(), 'alice', access_token), true);
      assert.equal(await plainLogin(target(), 'alice', await expiredTwin(access_token)), false);
      await revoke(server.url, refresh_token);
      assert.equal(await plainLogin(target(), 'alice', access_token), false);
    });

    it('X-OAUTH2 through the REST lookup: a token works until its grant is revoked', async () => {
      const { access_token, refresh_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
      assert.equal(await xoauth2Login(target(), 'alice', access_token), true, ejabberd.log().slice(-3000));
      assert.equal(await xoauth2Login(target(), 'alice', await expiredTwin(access_token)), false);
      assert.equal(await xoauth2Login(target(), 'alice', 'not-a-token'), false);
      await revoke(server.url, refresh_token);
      assert.equal(await xoauth2Login(target(), 'alice', access_token), false);
    });

    it('X-OAUTH2 refuses a token that was not granted the xmpp scope', async () => {
      const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid offline_access');
      assert.equal(await xoauth2Login(target(), 'alice', access_token), false);
    });

    it('issue 13: X-OAUTH2 and the bridge accept an xmpp:client:normal token (sasl_auth in the lookup answer), refuse an openid one', async () => {
      const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid xmpp:client:normal offline_access');
      assert.equal(await xoauth2Login(target(), 'alice', access_token), true, ejabberd.log().slice(-3000));
      assert.equal(await plainLogin(target(), 'alice', access_token), true, 'extauth bridge');
      const res = await fetch(`${server.url}/oauth/lookup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-lookup-secret': LOOKUP_SECRET },
        body: JSON.stringify({ token: access_token }),
      });
      const body = (await res.json()) as { scope: string[] };
      assert.ok(body.scope.includes('sasl_auth') && body.scope.includes('xmpp:client:normal'));
      const { access_token: openid } = await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid profile');
      assert.equal(await plainLogin(target(), 'alice', openid), false, 'extauth bridge');
      const lookup = await fetch(`${server.url}/oauth/lookup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-lookup-secret': LOOKUP_SECRET },
        body: JSON.stringify({ token: openid }),
      });
      assert.equal(((await lookup.json()) as { scope: string[] }).scope.includes('sasl_auth'), false);
    });

    it('the lookup endpoint answers only with the shared secret, and only well-formed JSON', async () => {
      const { access_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
      const call = (headers: Record<string, string>, body: string) =>
        fetch(`${server.url}/oauth/lookup`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const ok = await call({ 'x-lookup-secret': LOOKUP_SECRET }, JSON.stringify({ token: access_token }));
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as { user: string; scope: string[]; expire: number };
      assert.equal(body.user, 'alice@localhost');
      assert.ok(body.scope.includes('sasl_auth'));
      assert.ok(body.expire > Date.now() / 1000);
      assert.equal((await call({ authorization: `Bearer ${LOOKUP_SECRET}` }, JSON.stringify({ token: access_token }))).status, 200);
      assert.equal((await call({ 'x-lookup-secret': 'wrong' }, JSON.stringify({ token: access_token }))).status, 403);
      assert.equal((await call({}, JSON.stringify({ token: access_token }))).status, 403);
      assert.equal((await call({ 'x-lookup-secret': LOOKUP_SECRET }, '{"token":')).status, 400);
      assert.equal((await call({ 'x-lookup-secret': LOOKUP_SECRET }, JSON.stringify({ token: 42 }))).status, 400);
      assert.equal((await call({ 'x-lookup-secret': LOOKUP_SECRET }, JSON.stringify({ token: 'x'.repeat(10_000) }))).status, 413);
      assert.equal((await call({ 'x-lookup-secret': LOOKUP_SECRET }, JSON.stringify({ token: 'nope' }))).status, 404);
    });

    it('comes back by itself after ejabberd restarts, and logins work again', async () => {
      await ejabberd.restart({ downtimeMs: 500 });
      const deadline = Date.now() + 30_000;
      while (!server.app.link!.online) {
        assert.ok(Date.now() < deadline, 'component did not come back');
        await sleep(100);
      }
      assert.equal(await plainLogin(target(), 'alice', PASSWORD), true);
    });
  });
}
