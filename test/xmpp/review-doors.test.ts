// Issue 22 #3 at the doors that cannot restrict a session: a real ejabberd
// (23.01 and 24.12; PLAIN through the extauth bridge it runs, X-OAUTH2 through our token
// lookup), and the bridge process on its own speaking Prosody
// mod_auth_external's lines. An account-only token or app password must not
// open a chat session there; a chat one still does.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { BIN } from '../helpers/cli.js';
import { EJABBERD_VERSIONS, type EjabberdInstance } from '../helpers/ejabberd.js';
import { startEjabberdStack, type EjabberdStack } from '../helpers/ejabberd-stack.js';
import { CLIENT_SECRET, secretHash, type TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';
import { plainLogin, xoauth2Login } from '../helpers/xmpp-client.js';

const LOOKUP_SECRET = 'lookup-secret-0123456789abcdef';
const PASSWORD = 'alice password 1234';
/** The helpers' `webapp` client, allowed the account-management scopes too. */
const ACCOUNT_TOOL = {
  id: 'webapp',
  name: 'Account tool',
  secret_hash: secretHash(CLIENT_SECRET),
  redirect_uris: ['https://app.example/cb'],
  scope: 'openid offline_access xmpp:client:normal xmpp:account:read xmpp:account:write',
};

/** Runs the bridge over `lines` (Prosody mod_auth_external's protocol); returns its answers and log. */
function genericBridge(config: string, lines: string[]): Promise<{ answers: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--config', config, 'extauth', '--protocol', 'generic'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve({ answers: stdout.split('\n').filter(Boolean), stderr }));
    child.stdin.end(lines.map((l) => `${l}\n`).join(''));
  });
}

for (const version of EJABBERD_VERSIONS) {
  describe(`issue 22 #3: doors that cannot restrict a session (ejabberd ${version}, extauth bridge)`, () => {
    let ejabberd: EjabberdInstance;
    let server: TestServer;
    let config: string;
    let stack: EjabberdStack | undefined;
    const target = () => ({ port: ejabberd.c2sPort, domain: 'localhost' });
    const tokens = (scope: string) => tokensFor(server.url, 'alice@localhost', PASSWORD, scope);
    const appPassword = async (scope: string) => (await createAppPassword(server.app.core, 'alice@localhost', { label: scope, scope })).password;

    before(async () => {
      stack = await startEjabberdStack({
        version,
        lookupSecret: LOOKUP_SECRET,
        server: { clients: [ACCOUNT_TOOL] },
        accounts: { 'alice@localhost': PASSWORD },
      });
      ({ ejabberd, server, config } = stack);
    });

    after(async () => {
      await stack?.stop();
    });

    it('review #3: ejabberd refuses an account-only token through X-OAUTH2 (lookup) and PLAIN (extauth bridge); a chat token still logs in', async () => {
      for (const scope of ['openid xmpp:account:read', 'openid xmpp:account:write']) {
        const { access_token } = await tokens(scope);
        assert.equal(await xoauth2Login(target(), 'alice', access_token), false, `${scope}: X-OAUTH2`);
        assert.equal(await plainLogin(target(), 'alice', access_token), false, `${scope}: PLAIN through the bridge`);
        const lookup = await fetch(`${server.url}/oauth/lookup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-lookup-secret': LOOKUP_SECRET },
          body: JSON.stringify({ token: access_token }),
        });
        assert.equal(lookup.status, 200);
        assert.equal(((await lookup.json()) as { scope: string[] }).scope.includes('sasl_auth'), false, `${scope}: no sasl_auth`);
      }
      const { access_token: chat } = await tokens('openid xmpp:client:normal xmpp:account:write');
      assert.equal(await xoauth2Login(target(), 'alice', chat), true, ejabberd.log().slice(-3000));
      assert.equal(await plainLogin(target(), 'alice', chat), true);
    });

    it('review #3: ejabberd refuses an account-only app password through the extauth bridge; a chat one still logs in', async () => {
      for (const scope of ['xmpp:account:read', 'xmpp:account:write']) {
        assert.equal(await plainLogin(target(), 'alice', await appPassword(scope)), false, scope);
      }
      assert.equal(await plainLogin(target(), 'alice', await appPassword('xmpp:client:normal')), true);
      assert.equal(await plainLogin(target(), 'alice', PASSWORD), true, 'and the password itself');
    });

    // The bridge on its own, without ejabberd: once is enough.
    if (version === '23.01') {
      it('review #3: the bridge speaking mod_auth_external lines (Prosody) answers 0 to account-only secrets, with a log line saying why', async () => {
        const { access_token: readOnly } = await tokens('openid xmpp:account:read');
        const { access_token: chat } = await tokens('openid xmpp:client:normal');
        const writeOnly = await appPassword('xmpp:account:write');
        const run = await genericBridge(config, [
          `auth:alice:localhost:${readOnly}`,
          `auth:alice:localhost:${writeOnly}`,
          `auth:alice:localhost:${chat}`,
          `auth:alice:localhost:${PASSWORD}`,
        ]);
        assert.deepEqual(run.answers, ['0', '0', '1', '1'], run.stderr);
        const logged = run.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: string; msg: string; via?: string });
        for (const via of ['token', 'app-password']) {
          const line = logged.find((l) => l.via === via && /refused: .*only account management .*cannot restrict/.test(l.msg));
          assert.ok(line, `a line for the ${via}: ${run.stderr.slice(0, 2000)}`);
          assert.equal(line.level, 'info');
        }
        assert.doesNotMatch(run.stderr, new RegExp(`${readOnly.split('.')[2]!}|${writeOnly}`), 'no secret in the log');
      });
    }
  });
}
