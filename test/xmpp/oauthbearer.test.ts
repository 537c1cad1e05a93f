// SASL OAUTHBEARER (RFC 7628, XEP-0493) and X-OAUTH2 on a real Prosody 0.12
// through contrib/prosody/mod_auth_xmpp_oauth/, byte for byte on a raw stream,
// against a real component and Redis (issue 13; issue 12 #13).
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { ourModuleHost, pluginDirWithModule } from '../helpers/prosody-module.js';
import { startProsody, type ProsodyInstance, PROSODY_VERSIONS } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import type { TestServer } from '../helpers/server.js';
import { revoke, tokensFor } from '../helpers/tokens.js';
import { libraryOauthbearerLogin, oauthbearerMessage, plainLogin, rawSasl, xoauth2Login } from '../helpers/xmpp-client.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/prosody', import.meta.url));
const COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };
const PASSWORD = 'alice password 1234';
const BOB_PASSWORD = 'bob password 1234';
const LOGIN_SCOPE = 'openid xmpp:client:normal offline_access';

for (const version of PROSODY_VERSIONS) {
  describe(`SASL OAUTHBEARER and X-OAUTH2 on Prosody ${version}`, () => {
    let prosody: ProsodyInstance;
    let redis: RedisInstance;
    let server: TestServer;
    let stack: ProsodyStack | undefined;
    const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });
    // Every token of the suite, to check at the end that none reached Prosody's (debug) log.
    const issued: string[] = [];
    const issue: typeof tokensFor = async (...args) => {
      const tokens = await tokensFor(...args);
      issued.push(tokens.access_token, tokens.refresh_token);
      return tokens;
    };

    const startOurServer = async () => {
      server = await stack!.restartServer();
    };

    before(async () => {
      redis = await startRedis({ persist: true });
      stack = await startProsodyStack({
        version,
        // A test-only module that shows what the auth module recorded on the session.
        pluginFiles: [join(FIXTURES, 'mod_xmpp_oauth_session_probe.lua')],
        prosody: { modules: ['xmpp_oauth_session_probe'] },
        moduleOptions: { xmpp_oauth_timeout: 3 },
        // The server's data outlives it: the test of a component outage starts a new server instance.
        redis: redis.url,
        server: {
          http: { host: '127.0.0.1', port: await freePort() },
          registration_key: 'registration-key-for-the-oauthbearer-test-0123456789',
          // Only the last test fails passwords from this address (the module sends the c2s IP).
          login_throttle: { per_address: 5 },
        },
        accounts: { 'alice@localhost': PASSWORD, 'bob@localhost': BOB_PASSWORD },
      });
      ({ prosody, server } = stack);
    });

    after(async () => {
      await stack?.stop();
      await redis?.stop();
    });

    /** Asserts the RFC 7628 section 3.2.2 error challenge, answers %x01, asserts not-authorized. */
    const assertErrorChallenge = async (sasl: Awaited<ReturnType<typeof rawSasl>>, message: string) => {
      const challenge = await sasl.auth('OAUTHBEARER', message);
      assert.equal(challenge.name, 'challenge', challenge.raw);
      const json = JSON.parse(challenge.data) as Record<string, string>;
      assert.deepEqual(json, {
        status: 'invalid_token',
        scope: 'xmpp:client:normal',
        'openid-configuration': `${server.url}/.well-known/openid-configuration`,
      });
      const failure = await sasl.respond('\x01');
      assert.equal(failure.name, 'failure');
      assert.equal(failure.condition, 'not-authorized');
      return json;
    };

    it('offers OAUTHBEARER and X-OAUTH2 next to PLAIN', async () => {
      const sasl = await rawSasl(target());
      try {
        assert.deepEqual([...sasl.mechanisms].sort(), ['OAUTHBEARER', 'PLAIN', 'X-OAUTH2']);
      } finally {
        sasl.close();
      }
    });

    it('a valid xmpp:client:normal token logs in without an authzid, as the token\u2019s account', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      const sasl = await rawSasl(target());
      try {
        const reply = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token));
        assert.equal(reply.name, 'success', reply.raw);
        assert.match(await sasl.bind(), /^alice@localhost\//);
      } finally {
        sasl.close();
      }
    });

    it('a valid token logs in with an authzid and host/port pairs in any order, unknown keys ignored', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      const orders: Array<Array<[string, string]>> = [
        [['host', 'localhost'], ['port', String(prosody.c2sPort)], ['auth', `Bearer ${access_token}`]],
        [['auth', `Bearer ${access_token}`], ['host', 'localhost'], ['xfuture', 'x y z'], ['port', '5222']],
      ];
      for (const pairs of orders) {
        const sasl = await rawSasl(target());
        try {
          const reply = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token, { authzid: 'alice@localhost', pairs }));
          assert.equal(reply.name, 'success', reply.raw);
          assert.match(await sasl.bind(), /^alice@localhost\//);
        } finally {
          sasl.close();
        }
      }
    });

    it('a real client library (@xmpp/client) logs in with OAUTHBEARER, and is refused with not-authorized after the challenge', async () => {
      const { access_token, refresh_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      const ok = await libraryOauthbearerLogin(target(), access_token);
      assert.equal(ok.mechanism, 'OAUTHBEARER');
      assert.match(ok.jid ?? String(ok.condition), /^alice@localhost\//);
      await revoke(server.url, refresh_token);
      assert.deepEqual(await libraryOauthbearerLogin(target(), access_token), {
        mechanism: 'OAUTHBEARER',
        condition: 'not-authorized',
        challenge: { status: 'invalid_token', scope: 'xmpp:client:normal', 'openid-configuration': `${server.url}/.well-known/openid-configuration` },
      });
    });

    it('contract 2: after login the session carries session.xmpp_oauth (via, grant, scope) before resource binding', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      const claims = await server.app.core.signer.verifyAccessToken(access_token);
      assert.ok(claims);
      const probe = async (mechanism: string, message: string) => {
        const sasl = await rawSasl(target());
        try {
          assert.equal((await sasl.auth(mechanism, message)).name, 'success', mechanism);
          await sasl.bind();
          const [query] = await sasl.exchange(
            `<iq type='get' id='probe' to='localhost'><query xmlns='urn:xmpp-oauth:test:session'/></iq>`,
            /<query [^>]*xmlns=['"]urn:xmpp-oauth:test:session['"][^>]*\/>/,
          );
          const attr = (name: string) => new RegExp(`${name}=['"]([^'"]*)['"]`).exec(query)?.[1];
          return { present: attr('present'), via: attr('via'), grant: attr('grant'), scope: attr('scope') };
        } finally {
          sasl.close();
        }
      };
      const token = { present: 'true', via: 'token', grant: claims.gid, scope: claims.scope };
      assert.deepEqual(await probe('OAUTHBEARER', oauthbearerMessage(access_token)), token);
      assert.deepEqual(await probe('X-OAUTH2', `\0alice\0${access_token}`), token);
      assert.deepEqual(await probe('PLAIN', `\0alice\0${access_token}`), token);
      assert.deepEqual(await probe('PLAIN', `\0alice\0${PASSWORD}`), { present: 'true', via: 'password', grant: undefined, scope: undefined });
    });

    it('an openid-only token is refused with the error challenge', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, 'openid offline_access');
      const sasl = await rawSasl(target());
      try {
        await assertErrorChallenge(sasl, oauthbearerMessage(access_token));
      } finally {
        sasl.close();
      }
    });

    it('a revoked token and an expired one get the error challenge, then failure', async () => {
      const { access_token, refresh_token } = await issue(server.url, 'bob@localhost', BOB_PASSWORD, LOGIN_SCOPE);
      const live = await server.app.core.signer.verifyAccessToken(access_token);
      assert.ok(live);
      const { token: expired } = await server.app.core.signer.accessToken(
        { jid: live.jid, clientId: live.client_id, scope: live.scope.split(' '), grantId: live.gid },
        Math.floor(Date.now() / 1000) - 7200,
      );
      const sasl = await rawSasl(target());
      try {
        await assertErrorChallenge(sasl, oauthbearerMessage(expired));
        await revoke(server.url, refresh_token);
        await assertErrorChallenge(sasl, oauthbearerMessage(access_token));
      } finally {
        sasl.close();
      }
    });

    it('another account\u2019s token under this authzid gives invalid-authzid', async () => {
      const { access_token } = await issue(server.url, 'bob@localhost', BOB_PASSWORD, LOGIN_SCOPE);
      const sasl = await rawSasl(target());
      try {
        const reply = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token, { authzid: 'alice@localhost' }));
        assert.equal(reply.name, 'failure');
        assert.equal(reply.condition, 'invalid-authzid');
        const foreign = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token, { authzid: 'bob@elsewhere.example' }));
        assert.equal(foreign.condition, 'invalid-authzid');
      } finally {
        sasl.close();
      }
    });

    it('an empty token yields openid-configuration, and that URL serves our metadata', async () => {
      const sasl = await rawSasl(target());
      let json: Record<string, string>;
      try {
        json = await assertErrorChallenge(sasl, oauthbearerMessage('', { pairs: [['auth', '']] }));
        // "Bearer " with nothing after it is the same question.
        await assertErrorChallenge(sasl, oauthbearerMessage(''));
      } finally {
        sasl.close();
      }
      const res = await fetch(json['openid-configuration']!);
      assert.equal(res.status, 200);
      const meta = (await res.json()) as Record<string, unknown>;
      assert.equal(meta.issuer, server.url);
      for (const key of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'device_authorization_endpoint']) {
        assert.equal(typeof meta[key], 'string', key);
      }
      assert.ok((meta.scopes_supported as string[]).includes('xmpp:client:normal'));
      assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    });

    it('a malformed message gives malformed-request, and the stream stays usable', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      const malformed = [
        'not a gs2 header',
        `n,,auth=Bearer ${access_token}\x01\x01`, // no kvsep after the header
        `n,,\x01auth=Bearer ${access_token}\x01`, // no final kvsep
        `p=tls-unique,,\x01auth=Bearer ${access_token}\x01\x01`, // channel binding asked for
        'n,,\x01host=localhost\x01\x01', // no auth
        `n,,\x01auth=Basic ${access_token}\x01\x01`,
        `n,,\x01auth=Bearer a\x01auth=Bearer b\x01\x01`,
        `n,a=al=ice@localhost,\x01auth=Bearer ${access_token}\x01\x01`, // bad saslname escape
        '\x01',
      ];
      const sasl = await rawSasl(target());
      try {
        for (const message of malformed) {
          const reply = await sasl.auth('OAUTHBEARER', message);
          assert.equal(reply.name, 'failure', JSON.stringify(message));
          assert.equal(reply.condition, 'malformed-request', JSON.stringify(message));
        }
        const reply = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token));
        assert.equal(reply.name, 'success', reply.raw);
        assert.match(await sasl.bind(), /^alice@localhost\//);
      } finally {
        sasl.close();
      }
    });

    it('without an initial response: an empty challenge, then the client response is read as the initial one', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      const sasl = await rawSasl(target());
      try {
        const empty = await sasl.auth('OAUTHBEARER');
        assert.equal(empty.name, 'challenge', empty.raw);
        assert.equal(empty.data, '');
        const reply = await sasl.respond(oauthbearerMessage(access_token));
        assert.equal(reply.name, 'success', reply.raw);
      } finally {
        sasl.close();
      }
    });

    it('X-OAUTH2: a valid token logs in, a revoked one does not', async () => {
      const { access_token, refresh_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      assert.equal(await xoauth2Login(target(), 'alice', access_token), true);
      assert.equal(await xoauth2Login(target(), 'bob', access_token), false, 'not for another account');
      // A token is never tried as a password here, nor the password as a token.
      assert.equal(await xoauth2Login(target(), 'alice', PASSWORD), false);
      await revoke(server.url, refresh_token);
      assert.equal(await xoauth2Login(target(), 'alice', access_token), false);
    });

    it('PLAIN with a token still works for legacy clients, with the new scope too', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      assert.equal(await plainLogin(target(), 'alice', access_token), true);
    });

    it('issue 12 #13: a Redis outage gives temporary-auth-failure, for PLAIN as for OAUTHBEARER', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      await redis.kill();
      try {
        const sasl = await rawSasl(target());
        try {
          const plain = await sasl.auth('PLAIN', `\0alice\0${PASSWORD}`);
          assert.equal(plain.condition, 'temporary-auth-failure', plain.raw);
          const bearer = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token));
          assert.equal(bearer.condition, 'temporary-auth-failure', bearer.raw);
        } finally {
          sasl.close();
        }
      } finally {
        await redis.restart();
      }
    });

    // Leaves the component stopped for a while and starts a new server instance: keep it last.
    it('issue 12 #13: with the component stopped, temporary-auth-failure (PLAIN too), and logins work again when it returns', async () => {
      const { access_token } = await issue(server.url, 'alice@localhost', PASSWORD, LOGIN_SCOPE);
      await server.stop();
      const sasl = await rawSasl(target());
      try {
        const bearer = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token));
        assert.equal(bearer.condition, 'temporary-auth-failure', bearer.raw);
        const discovery = await sasl.auth('OAUTHBEARER', oauthbearerMessage(''));
        assert.equal(discovery.condition, 'temporary-auth-failure', 'no issuer to point to while the component is away');
        const plain = await sasl.auth('PLAIN', `\0alice\0${PASSWORD}`);
        assert.equal(plain.condition, 'temporary-auth-failure', plain.raw);
      } finally {
        sasl.close();
      }
      assert.match(prosody.log(), /info\s+Login of alice@localhost could not be checked/);
      await startOurServer();
      const again = await rawSasl(target());
      try {
        const reply = await again.auth('OAUTHBEARER', oauthbearerMessage(access_token));
        assert.equal(reply.name, 'success', reply.raw);
      } finally {
        again.close();
      }
    });

    // Blocks 127.0.0.1 for password logins: keep it last.
    it('issue 12 #20: the module sends the client’s address, so a password sprayed over accounts is throttled per address', async () => {
      const sasl = await rawSasl(target());
      try {
        for (let i = 1; i <= 5; i++) {
          const reply = await sasl.auth('PLAIN', `\0sprayed${i}\0spray password ${i}`);
          assert.equal(reply.condition, 'not-authorized', reply.raw);
          assert.doesNotMatch(reply.raw, /Too many failed attempts/);
        }
        // A sixth account, first failure for it: refused because of the address.
        const throttled = await sasl.auth('PLAIN', '\0alice\0spray password 6');
        assert.equal(throttled.condition, 'not-authorized');
        assert.match(throttled.raw, /Too many failed attempts; retry in \d+ seconds/);
      } finally {
        sasl.close();
      }
    });

    it('no token reached Prosody\u2019s log, at debug level, in this whole suite', () => {
      const log = prosody.log();
      assert.ok(issued.length > 10);
      for (const token of issued) assert.equal(log.includes(token.slice(-32)), false, 'a token is in the log');
    });
  });
}

describe('prosody-example.cfg.lua keeps bearer mechanisms off unencrypted streams', () => {
  let prosody: ProsodyInstance;
  let pluginDir: string;

  before(async () => {
    // The example's own line, so this test follows the example.
    const example = readFileSync(new URL('../../prosody-example.cfg.lua', import.meta.url), 'utf8');
    const line = /^insecure_sasl_mechanisms = .*$/m.exec(example)?.[0];
    assert.ok(line, 'the example sets insecure_sasl_mechanisms');
    pluginDir = pluginDirWithModule();
    prosody = await startProsody({
      components: [COMPONENT],
      pluginDir,
      extraConfig: line,
      virtualHosts: [ourModuleHost(COMPONENT)],
    });
  });
  after(async () => {
    await prosody?.stop();
    rmSync(pluginDir, { recursive: true, force: true });
  });

  it('offers none of PLAIN, OAUTHBEARER, X-OAUTH2 without TLS: Prosody ends the stream, and says why', async () => {
    await assert.rejects(rawSasl({ port: prosody.c2sPort, domain: 'localhost' }), /No stream features to proceed with/);
    const warning = /All SASL mechanisms provided by authentication module 'xmpp_oauth' are forbidden on insecure connections \(([^)]*)\)/.exec(prosody.log());
    assert.ok(warning, prosody.log().slice(-2000));
    for (const mechanism of ['PLAIN', 'OAUTHBEARER', 'X-OAUTH2']) assert.match(warning[1]!, new RegExp(mechanism));
  });
});
